"""Who broke it: match CloudTrail management events to findings (pure).

Input is what `LookupEvents` returns (summaries whose `CloudTrailEvent` is the event record
as a JSON string), the trail, its `GetTrailStatus` answer and a finding. Output is the most
likely culprit as plain JSON-able data for `Finding.cause_event`.

Three questions decide a candidate:

1. Can this event cause this finding? `EVENT_RULES` (core/judge/cause_rules.py): the event name, the kind of
   resource it must touch, and a weight per finding code (3 = direct cause, 2 = a cause of
   this symptom, 1 = can contribute, e.g. `UpdateTrail` pointing the trail elsewhere).
2. Did it touch *this* trail's resource? A name or ARN of the resource appears in the
   event's `resources` (record or summary) or as a top-level value of `requestParameters`.
   Exact equality only: policy documents that merely mention a resource never match.
3. When, relative to the last good delivery of the finding's channel (the *anchor*:
   `LatestDeliveryTime`, `LatestDigestDeliveryTime`, `LatestCloudWatchLogsDeliveryTime`,
   `LatestNotificationTime`; `StopLoggingTime` for a stopped trail)? A change at or after the
   anchor is what broke it (tier 0, the earliest such change wins: later ones happened while
   it was already broken); a change up to `JUST_BEFORE` earlier may still be it (tier 1:
   CloudTrail batches deliveries ~5 min, policies propagate); anything older happened before
   a delivery that worked (tier 2, low confidence, the latest wins).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.codes import Code
from core.judge.cause_rules import (
    EVENT_RULES,
    UPDATE_TRAIL_FIELDS,
    code_channel,
    event_names_for,
)
from core.judge.cause_targets import Target, targets_for, trail_target
from core.model import TrailConfig
from core.util.times import iso, parse_time

#: An event this close to the anchor (either side) counts as "at" the last good delivery:
#: event records carry whole seconds, status times do not.
SLACK = timedelta(seconds=60)
#: Changes this long before the last good delivery may still have caused the failure.
JUST_BEFORE = timedelta(minutes=15)

# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One management event, from a LookupEvents summary (or a bare event record)."""

    event_id: str
    name: str
    time: datetime
    source: str
    region: str
    account: str
    #: The role behind an assumed-role session (sessionIssuer), else the caller's ARN.
    actor: str
    #: The caller's own ARN (the assumed-role session, the user).
    caller_arn: str
    actor_type: str
    username: str
    access_key_id: str
    source_ip: str
    user_agent: str
    request_parameters: Mapping[str, Any]
    resource_names: frozenset[str]
    record: Mapping[str, Any]

    def touches(self, names: Iterable[str]) -> str | None:
        """The first of `names` this event names as a resource or a request parameter."""
        params = {v for v in self.request_parameters.values() if isinstance(v, str)}
        for n in sorted(names):
            if n and (n in self.resource_names or n in params):
                return n
        return None


def parse_event(raw: Mapping[str, Any]) -> Event | None:
    """A LookupEvents entry (with `CloudTrailEvent` as a JSON string) -> Event; None if unusable."""
    record: Any = raw.get("CloudTrailEvent")
    if isinstance(record, str):
        try:
            record = json.loads(record)
        except ValueError:
            record = None
    if not isinstance(record, Mapping):
        record = raw if "eventName" in raw else {}
    name = str(raw.get("EventName") or record.get("eventName") or "")
    when = parse_time(raw.get("EventTime")) or parse_time(record.get("eventTime"))
    if not name or when is None:
        return None
    ident = record.get("userIdentity") or {}
    if not isinstance(ident, Mapping):
        ident = {}
    issuer = (ident.get("sessionContext") or {}).get("sessionIssuer") or {}
    caller = str(ident.get("arn") or "")
    actor = str(issuer.get("arn") or "") if isinstance(issuer, Mapping) else ""
    names: set[str] = set()
    for r in raw.get("Resources") or []:
        if isinstance(r, Mapping) and r.get("ResourceName"):
            names.add(str(r["ResourceName"]))
    for r in record.get("resources") or []:
        if isinstance(r, Mapping):
            for k in ("ARN", "arn", "name"):
                if r.get(k):
                    names.add(str(r[k]))
    params = record.get("requestParameters")
    return Event(
        event_id=str(raw.get("EventId") or record.get("eventID") or ""),
        name=name,
        time=when,
        source=str(raw.get("EventSource") or record.get("eventSource") or ""),
        region=str(record.get("awsRegion") or ""),
        account=str(record.get("recipientAccountId") or ident.get("accountId") or ""),
        actor=actor or caller or str(ident.get("invokedBy") or ident.get("type") or ""),
        caller_arn=caller,
        actor_type=str(ident.get("type") or ""),
        username=str(raw.get("Username") or ident.get("userName") or ""),
        access_key_id=str(raw.get("AccessKeyId") or ident.get("accessKeyId") or ""),
        source_ip=str(record.get("sourceIPAddress") or ""),
        user_agent=str(record.get("userAgent") or ""),
        request_parameters=params if isinstance(params, Mapping) else {},
        resource_names=frozenset(names),
        record=dict(record),
    )


# -- time ---------------------------------------------------------------------------------

_ANCHOR_FIELDS: Mapping[str, str] = {
    "s3": "LatestDeliveryTime",
    "kms": "LatestDeliveryTime",
    "sns": "LatestNotificationTime",
    "cloudwatch": "LatestCloudWatchLogsDeliveryTime",
    "trail": "LatestDeliveryTime",
}


def anchor_of(code: str, status: Mapping[str, Any] | None) -> tuple[str, datetime | None]:
    """(field, time) of the last good delivery that matters for this finding."""
    st = status or {}
    if code == Code.LOGGING_STOPPED and parse_time(st.get("StopLoggingTime")) is not None:
        return "StopLoggingTime", parse_time(st.get("StopLoggingTime"))
    field_ = (
        "LatestDigestDeliveryTime"
        if code == Code.DIGEST_DELIVERY_ERROR
        else _ANCHOR_FIELDS[code_channel(code)]
    )
    return field_, parse_time(st.get(field_))


def tier(when: datetime, anchor: datetime | None) -> int:
    """0: at or after the anchor; 1: just before it (or no anchor); 2: well before it."""
    if anchor is None:
        return 1
    if when >= anchor - SLACK:
        return 0
    if when >= anchor - JUST_BEFORE:
        return 1
    return 2


def _minutes(delta: timedelta) -> int:
    return int(round(abs(delta.total_seconds()) / 60))


def timing_text(when: datetime, anchor: datetime | None, anchor_field: str) -> str:
    what = (
        "the time logging was stopped"
        if anchor_field == "StopLoggingTime"
        else "the last good delivery"
    )
    if anchor is None:
        return "no successful delivery is recorded to compare with"
    delta = when - anchor
    if abs(delta) < SLACK:
        return f"within a minute of {what}"
    n = _minutes(delta)
    unit = "minute" if n == 1 else "minutes"
    return f"{n} {unit} {'after' if delta > timedelta(0) else 'before'} {what}"


def window_start(
    anchors: Iterable[datetime | None],
    now: datetime,
    default_days: float = 7.0,
    margin: timedelta = timedelta(days=1),
) -> datetime:
    """Where a lookup starts: `default_days` back, or further when the last good delivery
    is older (a key scheduled for deletion 8 days ago), never beyond Event history's 90 days."""
    start = now - timedelta(days=default_days)
    for a in anchors:
        if a is not None:
            start = min(start, a - margin)
    return max(start, now - timedelta(days=90))


# -- the pick -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    event: Event
    weight: int
    tier: int
    resource: str

    def sort_key(self) -> tuple[Any, ...]:
        t = self.event.time.timestamp()
        # Tier 0: the first change after the last good delivery; otherwise the latest.
        return (self.tier, -self.weight, t if self.tier == 0 else -t, self.event.event_id)


def _update_trail_fits(event: Event, code: str) -> bool:
    if code == Code.KMS_KEY_OTHER_REGION:
        # A new key, or a new bucket in another region than the key, puts them apart.
        fields: tuple[str, ...] | None = ("kmsKeyId", "s3BucketName")
    else:
        fields = UPDATE_TRAIL_FIELDS.get(code_channel(code))
    if fields is None:
        return True
    params = event.request_parameters
    return any(f in params for f in fields)


def candidates(
    code: str,
    trail: TrailConfig,
    status: Mapping[str, Any] | None,
    events: Iterable[Mapping[str, Any] | Event],
    targets: Iterable[Target] | None = None,
) -> list[Candidate]:
    """Every event that could have caused `code` on this trail's resources, best first."""
    rules = event_names_for(code)
    if not rules:
        return []
    tgts = list(targets) if targets is not None else targets_for(code, trail, status)
    by_kind: dict[str, set[str]] = {}
    for t in tgts:
        by_kind.setdefault(t.kind, set()).update(t.names)
    if "trail" not in by_kind:
        by_kind["trail"] = set(trail_target(trail, 2).names)
    _, anchor = anchor_of(code, status)
    out: list[Candidate] = []
    seen: set[str] = set()
    for raw in events:
        ev = raw if isinstance(raw, Event) else parse_event(raw)
        if ev is None or ev.name not in rules:
            continue
        key = ev.event_id or f"{ev.name}@{ev.time.isoformat()}"
        if key in seen:
            continue
        names = by_kind.get(EVENT_RULES[ev.name].kind)
        if not names:
            continue
        hit = ev.touches(names)
        if hit is None:
            continue
        if ev.name == "UpdateTrail" and not _update_trail_fits(ev, code):
            continue
        seen.add(key)
        out.append(Candidate(ev, rules[ev.name], tier(ev.time, anchor), hit))
    return sorted(out, key=Candidate.sort_key)


def confidence(c: Candidate) -> str:
    if c.tier == 0 and c.weight >= 2:
        return "high"
    if c.tier <= 1:
        return "medium"
    return "low"


def cause_event(
    code: str,
    trail: TrailConfig,
    status: Mapping[str, Any] | None,
    events: Iterable[Mapping[str, Any] | Event],
    targets: Iterable[Target] | None = None,
) -> dict[str, Any] | None:
    """The most likely culprit for one finding as `Finding.cause_event` data, or None."""
    found = candidates(code, trail, status, events, targets)
    if not found:
        return None
    best = found[0]
    ev = best.event
    anchor_field, anchor = anchor_of(code, status)
    delta_min = round((ev.time - anchor).total_seconds() / 60.0, 1) if anchor is not None else None
    return {
        "event_name": ev.name,
        "event_time": iso(ev.time),
        "event_source": ev.source,
        "event_id": ev.event_id,
        "region": ev.region,
        "account_id": ev.account,
        "actor": ev.actor,
        "caller_arn": ev.caller_arn,
        "actor_type": ev.actor_type,
        "username": ev.username,
        "access_key_id": ev.access_key_id,
        "source_ip": ev.source_ip,
        "user_agent": ev.user_agent,
        "resource": best.resource,
        "last_delivery_field": anchor_field,
        "last_delivery_time": iso(anchor) if anchor is not None else None,
        "minutes_after_last_delivery": delta_min,
        "before_last_delivery": anchor is not None and ev.time < anchor - SLACK,
        "timing": timing_text(ev.time, anchor, anchor_field),
        "confidence": confidence(best),
        "candidates": len(found),
        "summary": f"{ev.name} by {ev.actor or 'unknown'} at {iso(ev.time)} "
        f"({timing_text(ev.time, anchor, anchor_field)})",
        "event": dict(ev.record),
    }
