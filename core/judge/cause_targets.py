"""Which resources' changes can explain a finding, and whose Event history records them
(pure): the bucket in its owner's account and region, a key or topic by its ARN, IAM in
us-east-1, and the trail itself as the last resort."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.codes import Code
from core.judge.cause_rules import (
    CW_GROUP,
    CW_GROUP_KEY,
    CW_ROLE,
    CW_STATUS,
    KMS_ROOT,
    S3_ROOT,
    SNS_CODES,
    codes_with_causes,
)
from core.model import TrailConfig
from core.util.arn import Arn, account_of, log_group_name, partition_of, region_of


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


def destination_key_target(trail: TrailConfig, key_arn: str, holder_arn: str) -> Target:
    """The KMS key of an encrypted topic or log group (not the trail's key): changes to it
    are recorded in the key owner's Event history, in the key's region (else those of the
    resource it encrypts)."""
    parsed = Arn.parse(key_arn)
    names = {key_arn}
    if parsed.service == "kms" and parsed.resource.startswith("key/"):
        names.add(parsed.leaf)
    return Target(
        "key",
        key_arn,
        frozenset(names),
        account_of(key_arn) or account_of(holder_arn) or trail.owner_account,
        region_of(key_arn, region_of(holder_arn, trail.home_region)),
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
            found.append(destination_key_target(trail, key_arn, trail.sns_topic_arn or ""))
    elif code in CW_GROUP:
        found.append(log_group_target(trail))
    elif code in CW_GROUP_KEY:
        found.append(log_group_target(trail))
        key_arn = ev.get("key_arn")
        if isinstance(key_arn, str):
            found.append(destination_key_target(trail, key_arn, trail.log_group_arn or ""))
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
