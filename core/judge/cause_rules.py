"""Which management events can cause which finding (pure data and lookups).

`EVENT_RULES` maps an event name to the kind of resource it must touch and a weight per
finding code: 3 = direct cause, 2 = a cause of this symptom, 1 = can contribute (e.g.
`UpdateTrail` pointing the trail elsewhere). Event history lookups by `EventName`
(core/aws/history.py) and the pick (core/judge/culprit.py) both read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.codes import Code

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
UPDATE_TRAIL_FIELDS: Mapping[str, tuple[str, ...]] = {
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
