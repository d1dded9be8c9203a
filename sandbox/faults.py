"""Fault rules the middleware applies to matching requests, changeable at run time.

Reliability tests and benchmarks need the failures real AWS produces (latency, throttling,
5xx, AccessDenied for one API in one account, dropped connections, disabled regions,
expired credentials) and hostile delivery-error text, switched on and off while a client
runs. Rules live in one process-wide table guarded by a lock.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

#: Kinds that end the request with an error (at most one applies, the oldest rule first).
TERMINAL_KINDS = ("throttle", "5xx", "access_denied", "drop", "region_disabled", "expired_token")
KINDS = ("latency", "error_message", *TERMINAL_KINDS)

#: GetTrailStatus fields an ``error_message`` rule may fill.
STATUS_FIELDS = (
    "LatestDeliveryError",
    "LatestDigestDeliveryError",
    "LatestNotificationError",
    "LatestCloudWatchLogsDeliveryError",
)


@dataclass
class FaultRule:
    """One rule. Filters left None match anything."""

    kind: str
    id: str = ""
    service: str | None = None
    operation: str | None = None
    account: str | None = None
    region: str | None = None
    count: int | None = None  # applications left; None = unlimited
    probability: float = 1.0
    latency_ms: float = 0.0  # kind=latency
    status: int = 500  # kind=5xx: 500 or 503
    message: str | None = None  # kind=error_message: the text; others: override message
    trail: str | None = None  # kind=error_message: trail ARN or name (None: every trail)
    field: str = "LatestDeliveryError"  # kind=error_message: which status field
    applied: int = 0

    def matches(self, service: str, operation: str, account: str, region: str) -> bool:
        return (
            (self.service is None or self.service == service)
            and (self.operation is None or self.operation == operation)
            and (self.account is None or self.account == account)
            and (self.region is None or self.region == region)
        )


@dataclass
class FaultTable:
    """Thread-safe list of rules with per-rule use counts."""

    rules: list[FaultRule] = field(default_factory=list)
    _next: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, spec: dict[str, Any]) -> FaultRule:
        known = set(FaultRule.__dataclass_fields__) - {"id", "applied"}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fault parameter(s): {sorted(unknown)}")
        rule = FaultRule(**spec)
        if rule.kind not in KINDS:
            raise ValueError(f"unknown fault kind {rule.kind!r}; known: {', '.join(KINDS)}")
        if rule.kind == "5xx" and rule.status not in (500, 503):
            raise ValueError("5xx status must be 500 or 503")
        if rule.kind == "error_message":
            if rule.message is None:
                raise ValueError("error_message needs a message")
            if rule.field not in STATUS_FIELDS:
                raise ValueError(f"field must be one of {STATUS_FIELDS}")
        with self._lock:
            rule.id = f"f{self._next}"
            self._next += 1
            self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self.rules)
            self.rules = [r for r in self.rules if r.id != rule_id]
            return len(self.rules) != before

    def clear(self) -> None:
        with self._lock:
            self.rules = []

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self.rules]

    def _take(self, rule: FaultRule) -> bool:
        """Consume one application of a rule (probability and count), under the lock."""
        if rule.count is not None and rule.count <= 0:
            return False
        if rule.probability < 1.0 and random.random() >= rule.probability:
            return False
        if rule.count is not None:
            rule.count -= 1
        rule.applied += 1
        return True

    def for_request(
        self, service: str, operation: str, account: str, region: str
    ) -> tuple[float, FaultRule | None]:
        """Total added latency (ms) and the terminal rule, if any, for one request."""
        latency = 0.0
        terminal: FaultRule | None = None
        with self._lock:
            for rule in self.rules:
                if rule.kind == "error_message" or not rule.matches(
                    service, operation, account, region
                ):
                    continue
                if rule.kind == "latency":
                    if self._take(rule):
                        latency += rule.latency_ms
                elif terminal is None and self._take(rule):
                    terminal = rule
        return latency, terminal

    def status_overrides(self, account: str, region: str, trail_arn: str) -> dict[str, str]:
        """Injected error texts for one GetTrailStatus view."""
        name = trail_arn.rsplit("/", 1)[-1]
        found: dict[str, str] = {}
        with self._lock:
            for rule in self.rules:
                if rule.kind != "error_message":
                    continue
                if not rule.matches("cloudtrail", "GetTrailStatus", account, region):
                    continue
                if rule.trail not in (None, trail_arn, name):
                    continue
                if self._take(rule) and rule.message is not None:
                    found[rule.field] = rule.message
        return found
