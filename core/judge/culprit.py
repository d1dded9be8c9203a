"""Who broke it: match CloudTrail management events to findings (pure).

Input is what `LookupEvents` returns (summaries whose `CloudTrailEvent` is the event record
as a JSON string), the trail, its `GetTrailStatus` answer and a finding. Output is the most
likely culprit as plain JSON-able data for `Finding.cause_event`.

Three questions decide a candidate:

1. Can this event cause this finding? `EVENT_RULES` below: the event name, the kind of
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
from core.model import TrailConfig
from core.util.arn import Arn, account_of, log_group_name, partition_of, region_of
from core.util.times import iso, parse_time

#: An event this close to the anchor (either side) counts as "at" the last good delivery:
#: event records carry whole seconds, status times do not.
SLACK = timedelta(seconds=60)
#: Changes this long before the last good delivery may still have caused the failure.
JUST_BEFORE = timedelta(minutes=15)

# -- finding codes ------------------------------------------------------------------------

S3_ROOT = (
    Code.S3_BUCKET_MISSING,
    Code.S3_POLICY_DENIES_CLOUDTRAIL,
    Code.S3_POLICY_ACL_CHECK_MISSING,
    Code.S3_BUCKET_REQUESTER_PAYS,
    Code.S3_BUCKET_NAME_TAKEN,
)
S3_STATUS = (Code.S3_DELIVERY_ERROR, Code.DIGEST_DELIVERY_ERROR, Code.S3_DELIVERY_STALE)
KMS_ROOT = (
    Code.KMS_KEY_MISSING,
    Code.KMS_KEY_DISABLED,
    Code.KMS_KEY_PENDING_DELETION,
    Code.KMS_POLICY_DENIES_CLOUDTRAIL,
    Code.KMS_KEY_OTHER_REGION,
    Code.KMS_POLICY_DESCRIBE_MISSING,
)
SNS_CODES = (
    Code.SNS_TOPIC_MISSING,
    Code.SNS_POLICY_DENIES_CLOUDTRAIL,
    Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL,
    Code.SNS_NOTIFICATION_ERROR,
)
CW_GROUP = (Code.CLOUDWATCH_LOG_GROUP_MISSING,)
#: A KMS-encrypted log group whose key CloudWatch Logs cannot use.
CW_GROUP_KEY = (Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES,)
CW_ROLE = (
    Code.CLOUDWATCH_ROLE_MISSING,
    Code.CLOUDWATCH_ROLE_TRUST_INVALID,
    Code.CLOUDWATCH_ROLE_PERMISSIONS_MISSING,
)
CW_STATUS = (Code.CLOUDWATCH_DELIVERY_ERROR, Code.CLOUDWATCH_DELIVERY_STALE)


@dataclass(frozen=True)
class EventRule:
    """One event name: the resource kind it must touch and its weight per finding code."""

    kind: str
    weights: Mapping[str, int]


def _w(codes: Iterable[str], weight: int) -> dict[str, int]:
    return {c: weight for c in codes}


_POLICY_S3 = {
    **_w((Code.S3_POLICY_DENIES_CLOUDTRAIL, Code.S3_POLICY_ACL_CHECK_MISSING), 3),
    **_w((Code.S3_DELIVERY_ERROR, Code.DIGEST_DELIVERY_ERROR, Code.S3_DELIVERY_STALE), 2),
}
_ROLE_PERMS: dict[str, int] = {
    Code.CLOUDWATCH_ROLE_PERMISSIONS_MISSING: 3,
    Code.CLOUDWATCH_DELIVERY_ERROR: 2,
    Code.CLOUDWATCH_DELIVERY_STALE: 1,
}
_DELIVERY_CODES = (
    S3_ROOT + S3_STATUS + KMS_ROOT + SNS_CODES + CW_GROUP + CW_GROUP_KEY + CW_ROLE + CW_STATUS
)

#: event name -> rule: the management events that can break delivery. Kinds: trail, bucket,
#: key, topic, log_group, role.
EVENT_RULES: Mapping[str, EventRule] = {
    "StopLogging": EventRule("trail", {Code.LOGGING_STOPPED: 3}),
    "DeleteTrail": EventRule("trail", {Code.LOGGING_STOPPED: 2, Code.REGION_NOT_COVERED: 3}),
    "UpdateTrail": EventRule("trail", {**_w(_DELIVERY_CODES, 1), Code.KMS_KEY_OTHER_REGION: 3}),
    "PutEventSelectors": EventRule(
        "trail",
        {
            Code.TRAIL_NO_MANAGEMENT_EVENTS: 3,
            Code.REGION_NOT_COVERED: 2,
            Code.S3_DELIVERY_STALE: 1,
            Code.CLOUDWATCH_DELIVERY_STALE: 1,
        },
    ),
    "DeleteBucket": EventRule(
        "bucket",
        {
            **_w(
                (
                    Code.S3_BUCKET_MISSING,
                    Code.S3_BUCKET_NAME_TAKEN,
                    Code.S3_DELIVERY_ERROR,
                    Code.DIGEST_DELIVERY_ERROR,
                ),
                3,
            ),
            Code.S3_DELIVERY_STALE: 2,
        },
    ),
    "PutBucketPolicy": EventRule("bucket", _POLICY_S3),
    "DeleteBucketPolicy": EventRule("bucket", _POLICY_S3),
    "PutBucketOwnershipControls": EventRule(
        "bucket",
        {
            **_w((Code.S3_DELIVERY_ERROR, Code.DIGEST_DELIVERY_ERROR), 2),
            **_w((Code.S3_POLICY_DENIES_CLOUDTRAIL, Code.S3_DELIVERY_STALE), 1),
        },
    ),
    "PutBucketRequestPayment": EventRule(
        "bucket",
        {
            Code.S3_BUCKET_REQUESTER_PAYS: 3,
            **_w((Code.S3_DELIVERY_ERROR, Code.DIGEST_DELIVERY_ERROR), 2),
            Code.S3_DELIVERY_STALE: 1,
        },
    ),
    "DisableKey": EventRule(
        "key",
        {
            Code.KMS_KEY_DISABLED: 3,
            # The key of a KMS-encrypted log group (its target is that key, see targets_for).
            Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES: 3,
            Code.S3_DELIVERY_ERROR: 2,
            Code.S3_DELIVERY_STALE: 1,
        },
    ),
    "ScheduleKeyDeletion": EventRule(
        "key",
        {
            Code.KMS_KEY_PENDING_DELETION: 3,
            Code.KMS_KEY_MISSING: 3,
            Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES: 3,
            Code.S3_DELIVERY_ERROR: 2,
            Code.S3_DELIVERY_STALE: 1,
        },
    ),
    "PutKeyPolicy": EventRule(
        "key",
        {
            Code.KMS_POLICY_DENIES_CLOUDTRAIL: 3,
            Code.KMS_POLICY_DESCRIBE_MISSING: 3,
            # The key of a KMS-encrypted topic (its target is that key, see targets_for).
            Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL: 3,
            # The key of a KMS-encrypted log group.
            Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES: 3,
            Code.S3_DELIVERY_ERROR: 2,
            Code.S3_DELIVERY_STALE: 1,
        },
    ),
    "DeleteTopic": EventRule("topic", _w((Code.SNS_TOPIC_MISSING, Code.SNS_NOTIFICATION_ERROR), 3)),
    "SetTopicAttributes": EventRule(
        "topic",
        {
            # A new Policy, or a new KmsMasterKeyId.
            **_w((Code.SNS_POLICY_DENIES_CLOUDTRAIL, Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL), 3),
            Code.SNS_NOTIFICATION_ERROR: 2,
        },
    ),
    "DeleteLogGroup": EventRule(
        "log_group",
        {
            **_w((Code.CLOUDWATCH_LOG_GROUP_MISSING, Code.CLOUDWATCH_DELIVERY_ERROR), 3),
            Code.CLOUDWATCH_DELIVERY_STALE: 2,
        },
    ),
    # A key associated with the trail's log group (a new one, or one CloudWatch Logs cannot
    # use). AssociateKmsKey's request names the group (logGroupName) and the key (kmsKeyId).
    "AssociateKmsKey": EventRule("log_group", {Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES: 3}),
    "DeleteRole": EventRule(
        "role",
        {
            **_w((Code.CLOUDWATCH_ROLE_MISSING, Code.CLOUDWATCH_DELIVERY_ERROR), 3),
            Code.CLOUDWATCH_DELIVERY_STALE: 2,
        },
    ),
    "UpdateAssumeRolePolicy": EventRule(
        "role",
        {
            Code.CLOUDWATCH_ROLE_TRUST_INVALID: 3,
            Code.CLOUDWATCH_DELIVERY_ERROR: 2,
            Code.CLOUDWATCH_DELIVERY_STALE: 1,
        },
    ),
    "DeleteRolePolicy": EventRule("role", _ROLE_PERMS),
    "PutRolePolicy": EventRule("role", _ROLE_PERMS),
    "DetachRolePolicy": EventRule("role", _ROLE_PERMS),
}

#: UpdateTrail only explains a channel's failure if it set that channel's destination.
_UPDATE_TRAIL_FIELDS: Mapping[str, tuple[str, ...]] = {
    "s3": ("s3BucketName", "s3KeyPrefix"),
    "kms": ("kmsKeyId",),
    "sns": ("snsTopicName",),
    "cloudwatch": ("cloudWatchLogsLogGroupArn", "cloudWatchLogsRoleArn"),
}


def code_channel(code: str) -> str:
    if code.startswith(("S3_", "DIGEST_")):
        return "s3"
    if code.startswith("KMS_"):
        return "kms"
    if code.startswith("SNS_"):
        return "sns"
    if code.startswith("CLOUDWATCH_"):
        return "cloudwatch"
    return "trail"


def codes_with_causes() -> frozenset[str]:
    """Every finding code some event in `EVENT_RULES` can cause."""
    return frozenset(c for r in EVENT_RULES.values() for c in r.weights)


def writes_for(code: str, kind: str) -> list[str]:
    """The event names that can cause `code` by changing a resource of `kind`."""
    return sorted(n for n, r in EVENT_RULES.items() if r.kind == kind and code in r.weights)


def event_names_for(code: str) -> dict[str, int]:
    """event name -> weight, for one finding code."""
    return {n: r.weights[code] for n, r in EVENT_RULES.items() if code in r.weights}


# -- resources ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One resource whose changes can explain a finding, and where to ask about it."""

    kind: str
    #: The `ResourceName` lookup attribute value.
    lookup: str
    #: Every spelling that means this resource inside an event (names and ARNs).
    names: frozenset[str]
    #: The account and region whose Event history records changes to it.
    account: str
    region: str
    #: 1: the resource itself; 2: the trail's own configuration (asked only when the
    #: resources found nothing at or after the last good delivery).
    phase: int = 1


def trail_target(trail: TrailConfig, phase: int) -> Target:
    arn = trail.arn
    return Target(
        "trail",
        arn,
        frozenset({arn, trail.name}),
        trail.owner_account,
        trail.home_region or region_of(arn, "us-east-1"),
        phase,
    )


def bucket_target(
    trail: TrailConfig, bucket_region: str | None = None, owner: str | None = None
) -> Target | None:
    if not trail.s3_bucket:
        return None
    b = trail.s3_bucket
    # S3 records bucket-level calls in the bucket's region, in the Event history of the
    # account that owns the bucket (a log-archive account in a landing zone); the trail's
    # home region and account when those are unknown (a deleted bucket has neither).
    return Target(
        "bucket",
        b,
        frozenset({b, f"arn:{partition_of(trail.arn)}:s3:::{b}"}),
        owner or trail.owner_account,
        bucket_region or trail.home_region,
    )


def key_target(trail: TrailConfig, key_arn: str | None = None) -> Target | None:
    kid = key_arn or trail.kms_key_id
    if not kid:
        return None
    names = {kid}
    if trail.kms_key_id:
        names.add(trail.kms_key_id)
    for n in list(names):
        parsed = Arn.parse(n)
        if parsed.service == "kms" and parsed.resource.startswith("key/"):
            names.add(parsed.leaf)
    region = region_of(kid, trail.home_region)
    account = account_of(kid) or trail.owner_account
    if not Arn.parse(kid).valid:
        arn = f"arn:{partition_of(trail.arn)}:kms:{region}:{account}:key/{kid}"
        names.add(arn)
        kid = arn
    return Target("key", kid, frozenset(names), account, region)


def topic_target(trail: TrailConfig) -> Target | None:
    arn = trail.sns_topic_arn
    if not arn:
        return None
    return Target(
        "topic",
        arn,
        frozenset({arn, Arn.parse(arn).resource or arn}),
        account_of(arn) or trail.owner_account,
        region_of(arn, trail.home_region),
    )


def topic_key_target(trail: TrailConfig, key_arn: str) -> Target:
    """The KMS key of an encrypted topic (not the trail's key): changes to its policy are
    recorded in the key owner's Event history, in the key's region."""
    parsed = Arn.parse(key_arn)
    names = {key_arn}
    if parsed.service == "kms" and parsed.resource.startswith("key/"):
        names.add(parsed.leaf)
    topic = trail.sns_topic_arn or ""
    return Target(
        "key",
        key_arn,
        frozenset(names),
        account_of(key_arn) or account_of(topic) or trail.owner_account,
        region_of(key_arn, region_of(topic, trail.home_region)),
    )


def log_group_key_target(trail: TrailConfig, key_arn: str) -> Target:
    """The KMS key of an encrypted log group (not the trail's key): its changes are recorded
    in the key owner's Event history, in the key's region."""
    parsed = Arn.parse(key_arn)
    names = {key_arn}
    if parsed.service == "kms" and parsed.resource.startswith("key/"):
        names.add(parsed.leaf)
    group = trail.log_group_arn or ""
    return Target(
        "key",
        key_arn,
        frozenset(names),
        account_of(key_arn) or account_of(group) or trail.owner_account,
        region_of(key_arn, region_of(group, trail.home_region)),
    )


def log_group_target(trail: TrailConfig) -> Target | None:
    arn = trail.log_group_arn
    if not arn:
        return None
    name = log_group_name(arn)
    bare = arn[:-2] if arn.endswith(":*") else arn
    return Target(
        "log_group",
        name,
        frozenset({name, arn, bare}),
        account_of(arn) or trail.owner_account,
        region_of(arn, trail.home_region),
    )


def role_target(trail: TrailConfig) -> Target | None:
    arn = trail.cw_role_arn
    if not arn:
        return None
    name = Arn.parse(arn).leaf or arn
    # IAM is global: AWS records its calls in us-east-1 (aws partition).
    return Target(
        "role",
        name,
        frozenset({name, arn}),
        account_of(arn) or trail.owner_account,
        "us-east-1",
    )


def targets_for(
    code: str,
    trail: TrailConfig,
    status: Mapping[str, Any] | None = None,
    evidence: Mapping[str, Any] | None = None,
    bucket_region: str | None = None,
    bucket_owner: str | None = None,
) -> list[Target]:
    """The resources (phase 1) and the trail (phase 2) to ask about for one finding."""
    if code not in codes_with_causes():
        return []
    ev = evidence or {}
    st = status or {}
    found: list[Target | None] = []
    if code in (Code.LOGGING_STOPPED, Code.TRAIL_NO_MANAGEMENT_EVENTS):
        return [trail_target(trail, 1)]
    if code in S3_ROOT or code == Code.DIGEST_DELIVERY_ERROR:
        found.append(bucket_target(trail, bucket_region, bucket_owner))
    elif code == Code.S3_DELIVERY_ERROR:
        # The raw error says which: "KMS.DisabledException: ..." is the key, the rest the bucket.
        err = str(st.get("LatestDeliveryError") or "")
        if "KMS" in err and trail.kms_key_id:
            found.append(key_target(trail))
        else:
            found.append(bucket_target(trail, bucket_region, bucket_owner))
    elif code == Code.S3_DELIVERY_STALE:
        found += [bucket_target(trail, bucket_region, bucket_owner), key_target(trail)]
    elif code in KMS_ROOT:
        key_arn = ev.get("KeyArn")
        found.append(key_target(trail, key_arn if isinstance(key_arn, str) else None))
    elif code in SNS_CODES:
        found.append(topic_target(trail))
        key_arn = ev.get("key_arn")
        if code == Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL and isinstance(key_arn, str):
            found.append(topic_key_target(trail, key_arn))
    elif code in CW_GROUP:
        found.append(log_group_target(trail))
    elif code in CW_GROUP_KEY:
        found.append(log_group_target(trail))
        key_arn = ev.get("key_arn")
        if isinstance(key_arn, str):
            found.append(log_group_key_target(trail, key_arn))
    elif code in CW_ROLE:
        found.append(role_target(trail))
    elif code == Code.CLOUDWATCH_DELIVERY_ERROR:
        err = str(st.get("LatestCloudWatchLogsDeliveryError") or "").lower()
        if "log group" in err and "authorized" not in err:
            found.append(log_group_target(trail))
        elif "role" in err or "authorized" in err:
            found.append(role_target(trail))
        else:
            found += [log_group_target(trail), role_target(trail)]
    elif code in CW_STATUS:
        found += [log_group_target(trail), role_target(trail)]
    out = [t for t in found if t is not None]
    out.append(trail_target(trail, 2))
    return out


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
        fields = _UPDATE_TRAIL_FIELDS.get(code_channel(code))
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
