"""Prometheus metrics from a snapshot, and the endpoint that serves them.

`families` is pure (a snapshot and a few counters in, metric families out); the engine's
loop builds them once per sweep and `SnapshotCollector` hands the last set to each scrape
from the server's thread, so a scrape never waits on a sweep nor reads half of one.

Labels are bounded: account ids, region names, trail names (AWS allows 3-128 characters of
letters, digits, `._-`), finding codes, severities, channels, states, profiles from the
configuration. Never a message, an error text or a user name.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from core.model import STATE_ORDER, Snapshot
from core.mute import counting
from core.util.text import plain

PREFIX = "trailtop"

#: `GetTrailStatus` time field per delivery channel.
CHANNEL_TIMES = (
    ("s3", "LatestDeliveryTime"),
    ("digest", "LatestDigestDeliveryTime"),
    ("cloudwatch", "LatestCloudWatchLogsDeliveryTime"),
    ("sns", "LatestNotificationTime"),
)

VIEW_LABELS = ["account", "region", "owner", "trail"]


@dataclass
class Counters:
    """What outlives one snapshot: sweeps run and failed, messages sent per sink."""

    interval_seconds: float
    started_at: float
    sweeps: int = 0
    sweep_failures: int = 0
    #: (sink, outcome) -> count; outcome is sent, retried or dropped.
    notifications: dict[tuple[str, str], int] = field(default_factory=dict)

    def count_notification(self, sink: str, outcome: str) -> None:
        key = (sink, outcome)
        self.notifications[key] = self.notifications.get(key, 0) + 1


def _label(value: object, limit: int = 128) -> str:
    return plain(value, max_len=limit)


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def throttled_targets(snap: Snapshot) -> int:
    """Targets whose read was refused for throttling even after the SDK's retries."""
    return sum(1 for t in snap.targets if not t.ok and "throttl" in (t.error or "").lower())


def families(snap: Snapshot | None, counters: Counters) -> list[Metric]:
    """Every metric family for the last snapshot (None before the first sweep)."""
    p = PREFIX
    out: list[Metric] = []
    info = GaugeMetricFamily(
        f"{p}_poll_interval_seconds", "Seconds between the end of a sweep and the next."
    )
    info.add_metric([], counters.interval_seconds)
    start = GaugeMetricFamily(f"{p}_start_time_seconds", "When this watcher started (Unix time).")
    start.add_metric([], counters.started_at)
    sweeps = CounterMetricFamily(f"{p}_sweeps", "Sweeps finished.")
    sweeps.add_metric([], counters.sweeps)
    failed = CounterMetricFamily(f"{p}_sweep_failures", "Sweeps that raised instead of finishing.")
    failed.add_metric([], counters.sweep_failures)
    notes = CounterMetricFamily(
        f"{p}_notifications",
        "Notification attempts by sink and outcome.",
        labels=["sink", "outcome"],
    )
    for (sink, outcome), n in sorted(counters.notifications.items()):
        notes.add_metric([sink, outcome], n)
    out += [info, start, sweeps, failed, notes]
    if snap is None:
        return out

    state = GaugeMetricFamily(
        f"{p}_view_state",
        "1 for the view's current state, 0 for the others (one trail seen from one "
        "account and region).",
        labels=[*VIEW_LABELS, "state"],
    )
    age = GaugeMetricFamily(
        f"{p}_view_delivery_age_seconds",
        "Seconds from the channel's last delivery to the end of the last sweep.",
        labels=[*VIEW_LABELS, "channel"],
    )
    findings = GaugeMetricFamily(
        f"{p}_view_findings",
        "Findings on the view by code and severity (muted findings left out).",
        labels=[*VIEW_LABELS, "code", "severity"],
    )
    at = snap.generated_at
    for v in snap.views:
        if not v.trail.arn:
            continue  # a placeholder for a target that could not be read: see target_reachable
        labels = [
            v.key.account_id,
            v.key.region,
            _label(v.trail.owner_account, 32),
            _label(v.trail.name),
        ]
        for s in STATE_ORDER:
            state.add_metric([*labels, s.value], 1.0 if v.state is s else 0.0)
        for channel, key in CHANNEL_TIMES:
            when = (v.status or {}).get(key)
            if isinstance(when, datetime):
                age.add_metric([*labels, channel], max((at - when).total_seconds(), 0.0))
        counts: dict[tuple[str, str], int] = {}
        for f in counting(v.findings):  # a muted finding never pages
            k = (str(f.code), f.severity.value)
            counts[k] = counts.get(k, 0) + 1
        for (code, severity), n in sorted(counts.items()):
            findings.add_metric([*labels, code, severity], n)
    reach = GaugeMetricFamily(
        f"{p}_target_reachable",
        "1 when the (profile, account, region) could be read in the last sweep.",
        labels=["profile", "account", "region"],
    )
    seen: set[tuple[str, str, str]] = set()
    for t in snap.targets:
        where = (_label(t.profile or "default"), t.account_id or "", t.region)
        if where not in seen:
            seen.add(where)
            reach.add_metric(list(where), 1.0 if t.ok else 0.0)
    sso = GaugeMetricFamily(
        f"{p}_sso_login_needed",
        "1 per profile whose IAM Identity Center session is over (run aws sso login).",
        labels=["profile"],
    )
    for profile in snap.sso_login_needed:
        sso.add_metric([_label(profile)], 1.0)
    duration = GaugeMetricFamily(f"{p}_sweep_duration_seconds", "Duration of the last sweep.")
    duration.add_metric([], snap.duration)
    calls = GaugeMetricFamily(
        f"{p}_sweep_requests", "HTTP requests (retries included) made by the last sweep."
    )
    calls.add_metric([], snap.stats.requests)
    throttles = GaugeMetricFamily(
        f"{p}_sweep_throttled_targets",
        "Targets the last sweep could not read because AWS throttled it beyond retries.",
    )
    throttles.add_metric([], throttled_targets(snap))
    throttled = GaugeMetricFamily(
        f"{p}_sweep_throttled_requests",
        "Attempts of the last sweep that AWS answered with a throttling error (retries included).",
    )
    throttled.add_metric([], snap.stats.throttled)
    errors = GaugeMetricFamily(f"{p}_sweep_target_errors", "Targets in error in the last sweep.")
    errors.add_metric([], snap.stats.errors)
    last = GaugeMetricFamily(f"{p}_last_sweep_timestamp_seconds", "When the last sweep ended.")
    last.add_metric([], at.timestamp())
    out += [state, age, findings, reach, sso, duration, calls, throttles, throttled, errors, last]
    success = _ts(snap.last_success_at)
    if success is not None:
        ok = GaugeMetricFamily(
            f"{p}_last_successful_sweep_timestamp_seconds",
            "When the last sweep in which every target answered ended.",
        )
        ok.add_metric([], success)
        out.append(ok)
    return out


class SnapshotCollector(Collector):
    """Holds the families of the last sweep; a scrape reads them as they are."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self._families: list[Metric] = families(None, counters)
        self._lock = threading.Lock()

    def update(self, snap: Snapshot | None) -> None:
        built = families(snap, self.counters)
        with self._lock:
            self._families = built

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            current: Iterable[Metric] = list(self._families)
        yield from current


@dataclass
class MetricsServer:
    """The HTTP endpoint (prometheus_client's server, in its own daemon thread)."""

    address: str
    port: int
    _server: object | None = None

    @classmethod
    def start(cls, collector: SnapshotCollector, address: str, port: int) -> MetricsServer:
        from prometheus_client.exposition import start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        server, _thread = start_http_server(port, addr=address, registry=registry)
        return cls(address, int(server.server_port), server)

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/metrics"

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
