"""Building blocks of an estate: a trail with its destinations, and the ways to break one.

Each root cause trailtop diagnoses (docs/findings.md) has one breaker here: the API calls an
operator (or a pipeline) would make that leave CloudTrail unable to deliver. Scenarios
compose these.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import policies
from .seeding import Actor


@dataclass
class TrailSpec:
    """What to build: a trail and which destinations it uses."""

    account: str
    name: str
    region: str
    multi_region: bool = False
    organization: bool = False
    prefix: str = ""
    validation: bool = False
    kms: bool = False
    sns: bool = False
    cloudwatch: bool = False
    cloudwatch_managed_policy: bool = False
    bucket: str | None = None
    bucket_owner: Actor | None = None  # another account's actor owns the bucket (cross-account)
    bucket_account: str | None = None
    policy_style: str = "standard"  # standard | like | extra | unusual | org
    log_ids: list[str] = field(default_factory=list)  # extra AWSLogs/<id> grants (org id)


@dataclass
class BuiltTrail:
    """What was built, with the identifiers a breaker or the manifest needs."""

    spec: TrailSpec
    arn: str
    bucket: str
    bucket_account: str
    key_arn: str | None = None
    key_id: str | None = None
    topic_arn: str | None = None
    log_group: str | None = None
    log_group_arn: str | None = None
    role_name: str | None = None
    role_arn: str | None = None


def _create_bucket(actor: Actor, bucket: str, region: str) -> None:
    s3 = actor.client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def _bucket_policy(spec: TrailSpec, bucket: str, trail_arn: str) -> str:
    ids = [spec.account, *spec.log_ids]
    any_trail = f"arn:aws:cloudtrail:*:{spec.account}:trail/*"
    if spec.policy_style == "like":
        return policies.bucket_policy(
            bucket,
            spec.prefix,
            ids,
            any_trail,
            like=True,
            extra=[policies.deny_insecure_transport(bucket)],
        )
    if spec.policy_style == "extra":
        reader = {
            "Sid": "AuditorsRead",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{spec.account}:root"},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        }
        return policies.bucket_policy(
            bucket,
            spec.prefix,
            ids,
            trail_arn,
            extra=[reader, policies.deny_insecure_transport(bucket)],
        )
    if spec.policy_style == "unusual":
        # Action wildcard, whole-bucket resource, ArnLike on the source, Service as a list.
        return policies.doc(
            {
                "Effect": "Allow",
                "Principal": {"Service": ["cloudtrail.amazonaws.com", "config.amazonaws.com"]},
                "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{bucket}",
            },
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:Put*",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {
                    "StringEquals": {
                        "s3:x-amz-acl": "bucket-owner-full-control",
                        "aws:SourceAccount": spec.account,
                    },
                    "ArnLike": {
                        "aws:SourceArn": f"arn:aws:cloudtrail:{spec.region}:{spec.account}:trail/*"
                    },
                },
            },
        )
    return policies.bucket_policy(bucket, spec.prefix, ids, trail_arn)


def build_trail(actor: Actor, spec: TrailSpec, at: float | None = None) -> BuiltTrail:
    """Create bucket (+ policy), optional key/topic/log group/role, the trail; start logging."""
    actor.at = at
    acct, region, name = spec.account, spec.region, spec.name
    arn = f"arn:aws:cloudtrail:{region}:{acct}:trail/{name}"
    bucket = spec.bucket or f"trailtop-{name}-{acct}"
    owner = spec.bucket_owner or actor
    if spec.bucket_owner is not None:
        spec.bucket_owner.at = at
    _create_bucket(owner, bucket, region)
    owner.client("s3", region).put_bucket_policy(
        Bucket=bucket, Policy=_bucket_policy(spec, bucket, arn)
    )
    built = BuiltTrail(
        spec=spec, arn=arn, bucket=bucket, bucket_account=spec.bucket_account or acct
    )
    params: dict[str, Any] = {
        "Name": name,
        "S3BucketName": bucket,
        "IsMultiRegionTrail": spec.multi_region,
        "IncludeGlobalServiceEvents": True,
        "EnableLogFileValidation": spec.validation,
        "IsOrganizationTrail": spec.organization,
    }
    if spec.prefix:
        params["S3KeyPrefix"] = spec.prefix
    if spec.kms:
        pattern = f"arn:aws:cloudtrail:*:{acct}:trail/*"
        key = actor.client("kms", region).create_key(
            Policy=policies.key_policy(acct, trail_account_pattern=pattern),
            Description=f"CloudTrail key for {name}",
        )["KeyMetadata"]
        built.key_arn, built.key_id = key["Arn"], key["KeyId"]
        params["KmsKeyId"] = key["Arn"]
    if spec.sns:
        topic_name = f"{name}-notify"
        topic_arn = f"arn:aws:sns:{region}:{acct}:{topic_name}"
        actor.client("sns", region).create_topic(
            Name=topic_name, Attributes={"Policy": policies.topic_policy(topic_arn, account=acct)}
        )
        built.topic_arn = topic_arn
        params["SnsTopicName"] = topic_name
    if spec.cloudwatch:
        group = f"/aws/cloudtrail/{name}"
        actor.client("logs", region).create_log_group(logGroupName=group)
        role_name = f"CloudTrailToCloudWatch-{name}"
        iam = actor.client("iam")
        role_arn = iam.create_role(
            RoleName=role_name, AssumeRolePolicyDocument=policies.trust_policy()
        )["Role"]["Arn"]
        permissions = policies.logs_delivery_policy(region, acct, group)
        if spec.cloudwatch_managed_policy:
            policy_arn = iam.create_policy(
                PolicyName=f"{role_name}-logs", PolicyDocument=permissions
            )["Policy"]["Arn"]
            iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
        else:
            iam.put_role_policy(
                RoleName=role_name, PolicyName="cloudtrail-to-logs", PolicyDocument=permissions
            )
        built.log_group, built.role_name, built.role_arn = group, role_name, role_arn
        built.log_group_arn = f"arn:aws:logs:{region}:{acct}:log-group:{group}:*"
        params["CloudWatchLogsLogGroupArn"] = built.log_group_arn
        params["CloudWatchLogsRoleArn"] = role_arn
    ct = actor.client("cloudtrail", region)
    ct.create_trail(**params)
    ct.start_logging(Name=arn)
    actor.at = None
    return built


# -- breakers: one per root cause ---------------------------------------------------------


def _delete_bucket(actor: Actor, t: BuiltTrail) -> str:
    s3 = actor.client("s3", t.spec.region)
    for obj in s3.list_objects_v2(Bucket=t.bucket).get("Contents", []):
        s3.delete_object(Bucket=t.bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=t.bucket)
    return "DeleteBucket"


def _policy_without_grant(actor: Actor, t: BuiltTrail) -> str:
    actor.client("s3", t.spec.region).put_bucket_policy(
        Bucket=t.bucket, Policy=policies.doc(policies.bucket_acl_statement(t.bucket, t.arn))
    )
    return "PutBucketPolicy"


def _policy_explicit_deny(actor: Actor, t: BuiltTrail) -> str:
    current = json.loads(
        actor.client("s3", t.spec.region).get_bucket_policy(Bucket=t.bucket)["Policy"]
    )
    current["Statement"].append(policies.enforce_sse_kms(t.bucket))
    actor.client("s3", t.spec.region).put_bucket_policy(Bucket=t.bucket, Policy=json.dumps(current))
    return "PutBucketPolicy"


def _policy_without_acl(actor: Actor, t: BuiltTrail) -> str:
    actor.client("s3", t.spec.region).put_bucket_policy(
        Bucket=t.bucket,
        Policy=policies.doc(
            policies.bucket_write_statement(t.bucket, t.spec.prefix, [t.spec.account], t.arn)
        ),
    )
    return "PutBucketPolicy"


def _schedule_key_deletion(actor: Actor, t: BuiltTrail) -> str:
    actor.client("kms", t.spec.region).schedule_key_deletion(KeyId=t.key_id, PendingWindowInDays=7)
    return "ScheduleKeyDeletion"


def _disable_key(actor: Actor, t: BuiltTrail) -> str:
    actor.client("kms", t.spec.region).disable_key(KeyId=t.key_id)
    return "DisableKey"


def _key_policy_without_cloudtrail(actor: Actor, t: BuiltTrail) -> str:
    actor.client("kms", t.spec.region).put_key_policy(
        KeyId=t.key_id,
        PolicyName="default",
        Policy=policies.key_policy(t.spec.account, cloudtrail=False),
    )
    return "PutKeyPolicy"


def _delete_topic(actor: Actor, t: BuiltTrail) -> str:
    actor.client("sns", t.spec.region).delete_topic(TopicArn=t.topic_arn)
    return "DeleteTopic"


def _topic_policy_without_cloudtrail(actor: Actor, t: BuiltTrail) -> str:
    actor.client("sns", t.spec.region).set_topic_attributes(
        TopicArn=t.topic_arn,
        AttributeName="Policy",
        AttributeValue=policies.topic_policy(
            str(t.topic_arn), cloudtrail=False, account=t.spec.account
        ),
    )
    return "SetTopicAttributes"


def _delete_log_group(actor: Actor, t: BuiltTrail) -> str:
    actor.client("logs", t.spec.region).delete_log_group(logGroupName=t.log_group)
    return "DeleteLogGroup"


def _delete_role(actor: Actor, t: BuiltTrail) -> str:
    iam = actor.client("iam")
    iam.delete_role_policy(RoleName=t.role_name, PolicyName="cloudtrail-to-logs")
    iam.delete_role(RoleName=t.role_name)
    return "DeleteRole"


def _untrust_role(actor: Actor, t: BuiltTrail) -> str:
    actor.client("iam").update_assume_role_policy(
        RoleName=t.role_name, PolicyDocument=policies.trust_policy("ec2.amazonaws.com")
    )
    return "UpdateAssumeRolePolicy"


def _strip_role_permissions(actor: Actor, t: BuiltTrail) -> str:
    actor.client("iam").delete_role_policy(RoleName=t.role_name, PolicyName="cloudtrail-to-logs")
    return "DeleteRolePolicy"


def _stop_logging(actor: Actor, t: BuiltTrail) -> str:
    actor.client("cloudtrail", t.spec.region).stop_logging(Name=t.arn)
    return "StopLogging"


Breaker = Callable[[Actor, BuiltTrail], str]

#: root cause -> (breaker, finding codes trailtop must report for the broken trail's views)
BREAKERS: dict[str, tuple[Breaker, list[str]]] = {
    "S3_BUCKET_MISSING": (_delete_bucket, ["S3_BUCKET_MISSING", "S3_DELIVERY_ERROR"]),
    "S3_POLICY_DENIES_CLOUDTRAIL": (
        _policy_without_grant,
        ["S3_POLICY_DENIES_CLOUDTRAIL", "S3_DELIVERY_ERROR"],
    ),
    "S3_POLICY_DENIES_CLOUDTRAIL/explicit-deny": (
        _policy_explicit_deny,
        ["S3_POLICY_DENIES_CLOUDTRAIL", "S3_DELIVERY_ERROR"],
    ),
    "S3_POLICY_ACL_CHECK_MISSING": (
        _policy_without_acl,
        ["S3_POLICY_ACL_CHECK_MISSING", "S3_DELIVERY_ERROR"],
    ),
    "KMS_KEY_MISSING": (_schedule_key_deletion, ["KMS_KEY_MISSING", "S3_DELIVERY_ERROR"]),
    "KMS_KEY_DISABLED": (_disable_key, ["KMS_KEY_DISABLED", "S3_DELIVERY_ERROR"]),
    "KMS_KEY_PENDING_DELETION": (
        _schedule_key_deletion,
        ["KMS_KEY_PENDING_DELETION", "S3_DELIVERY_ERROR"],
    ),
    "KMS_POLICY_DENIES_CLOUDTRAIL": (
        _key_policy_without_cloudtrail,
        ["KMS_POLICY_DENIES_CLOUDTRAIL", "S3_DELIVERY_ERROR"],
    ),
    "SNS_TOPIC_MISSING": (_delete_topic, ["SNS_TOPIC_MISSING", "SNS_NOTIFICATION_ERROR"]),
    "SNS_POLICY_DENIES_CLOUDTRAIL": (
        _topic_policy_without_cloudtrail,
        ["SNS_POLICY_DENIES_CLOUDTRAIL", "SNS_NOTIFICATION_ERROR"],
    ),
    "CLOUDWATCH_LOG_GROUP_MISSING": (
        _delete_log_group,
        ["CLOUDWATCH_LOG_GROUP_MISSING", "CLOUDWATCH_DELIVERY_ERROR"],
    ),
    "CLOUDWATCH_ROLE_MISSING": (
        _delete_role,
        ["CLOUDWATCH_ROLE_MISSING", "CLOUDWATCH_DELIVERY_ERROR"],
    ),
    "CLOUDWATCH_ROLE_TRUST_INVALID": (
        _untrust_role,
        ["CLOUDWATCH_ROLE_TRUST_INVALID", "CLOUDWATCH_DELIVERY_ERROR"],
    ),
    "CLOUDWATCH_ROLE_PERMISSIONS_MISSING": (
        _strip_role_permissions,
        ["CLOUDWATCH_ROLE_PERMISSIONS_MISSING", "CLOUDWATCH_DELIVERY_ERROR"],
    ),
    "LOGGING_STOPPED": (_stop_logging, ["LOGGING_STOPPED"]),
}


def break_trail(actor: Actor, trail: BuiltTrail, cause: str, at: float) -> tuple[str, list[str]]:
    """Apply one root cause as ``actor`` at story time ``at``; returns (event name, codes)."""
    breaker, codes = BREAKERS[cause]
    actor.at = at
    try:
        event = breaker(actor, trail)
    finally:
        actor.at = None
    codes = list(codes)
    if trail.spec.validation and codes[-1] == "S3_DELIVERY_ERROR" and cause.startswith("S3_"):
        codes.append("DIGEST_DELIVERY_ERROR")
    return event, codes


def posture_codes(trail: BuiltTrail) -> list[str]:
    codes = []
    if not trail.spec.validation:
        codes.append("LOG_FILE_VALIDATION_DISABLED")
    if not trail.spec.kms:
        codes.append("NOT_KMS_ENCRYPTED")
    return codes
