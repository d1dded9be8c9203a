"""Settings of a destination that break delivery besides its policy (pure).

Requester Pays, a key in another region than its bucket, a bucket name taken by someone
else, kms:DescribeKey missing for CloudTrail, a KMS-encrypted topic whose key refuses
CloudTrail, a bucket's default SSE-KMS key, a KMS-encrypted log group whose key CloudWatch
Logs may not use, event selectors that log no management events: each documented by AWS
(docs/findings.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.codes import Code
from core.judge.context import (
    Destination,
    Request,
    delivery_context,
    logs_key_requests,
    logs_principal,
    sns_key_requests,
)
from core.judge.facts import (
    Fact,
    incomplete,
    judge,
    statement_evidence,
    undecidable,
)
from core.judge.policy import Decision, Outcome
from core.judge.statements import (
    cloudtrail_kms_describe_statement,
    cloudwatch_logs_key_statement,
)
from core.model import Channel, Finding, Severity, TrailConfig, ViewKey
from core.util.arn import account_of, log_group_name, partition_of, region_of


def requester_pays_finding(bucket: str) -> Finding:
    """AWS documents that CloudTrail's bucket "cannot be configured as a Requester Pays
    bucket" (the error CloudTrail then reports is not documented, so this is judged from
    the setting, before any failed delivery)."""
    return Finding(
        Code.S3_BUCKET_REQUESTER_PAYS,
        Severity.CRITICAL,
        Channel.S3,
        f"The trail's bucket {bucket} is a Requester Pays bucket: CloudTrail does not "
        "deliver to one, so log files are lost.",
        {"bucket": bucket, "Payer": "Requester"},
        "Make the bucket owner pay again (s3:PutBucketRequestPayment with "
        "Payer=BucketOwner), or point the trail at another bucket.",
    )


def default_sse_kms_findings(trail: TrailConfig, fact: Fact) -> list[Finding]:
    """A bucket whose default encryption is SSE-KMS, for a trail without a KMS key: a
    posture fact (low), never a failure. S3 applies the default to a PutObject that "doesn't
    specify any server-side encryption"; AWS does not document which header CloudTrail sends
    for a trail without a key, nor that its writes then need the default key, so that key's
    policy is not judged."""
    default = fact.data.get("default_encryption") or {}
    algorithm = default.get("SSEAlgorithm")
    if trail.kms_key_id or algorithm not in ("aws:kms", "aws:kms:dsse"):
        return []
    bucket = trail.s3_bucket or ""
    kid = default.get("KMSMasterKeyID")
    return [
        Finding(
            Code.S3_BUCKET_DEFAULT_SSE_KMS,
            Severity.LOW,
            Channel.S3,
            f"Bucket {bucket} encrypts new objects with {algorithm} by default "
            f"({'key ' + str(kid) if kid else 'the AWS managed key aws/s3'}) and the trail "
            "names no KMS key: AWS does not document whether CloudTrail's log files then use "
            "that key, so its policy is not checked.",
            {
                "bucket": bucket,
                "SSEAlgorithm": algorithm,
                "KMSMasterKeyID": kid,
                "BucketKeyEnabled": default.get("BucketKeyEnabled"),
            },
            "To encrypt the trail's log files with KMS in the documented way, give the trail "
            "its own key (cloudtrail:UpdateTrail --kms-key-id) whose policy allows CloudTrail; "
            "if a delivery error appears, check that the bucket's default key lets "
            "cloudtrail.amazonaws.com use it.",
        )
    ]


def name_taken_finding(bucket: str, fact: Fact) -> Finding | None:
    """A bucket read refused while no reached account lists the name is the landing-zone
    layout (a log-archive account trailtop does not reach) unless something says the bucket
    was deleted: CloudTrail reports ``NoSuchBucket``, or a reached account listed it at an
    earlier diagnose. AWS: after a bucket is deleted "another AWS account in the same
    partition can use the same bucket name for a new bucket and can therefore potentially
    receive requests intended for the deleted bucket"."""
    if fact.exists is not None or not fact.data.get("unowned"):
        return None
    status = str(fact.data.get("delivery_error") or "")
    former = fact.data.get("former_owner")
    if "NoSuchBucket" not in status and not former:
        return None
    why = (
        f"account {former} owned it at an earlier check and no longer lists it"
        if former
        else "CloudTrail reported NoSuchBucket"
    )
    evidence: dict[str, Any] = {
        "bucket": bucket,
        "error": fact.error,
        "LatestDeliveryError": status or None,
        # No reached account owns it now: the account that listed it before is not where
        # it lives (the diagnoser would otherwise name it).
        "owner_account": None,
    }
    if former:
        evidence["former_owner"] = former
    return Finding(
        Code.S3_BUCKET_NAME_TAKEN,
        Severity.CRITICAL,
        Channel.S3,
        f"The trail's bucket {bucket} was deleted ({why}) and its name now refuses trailtop "
        "while no account trailtop reaches owns it: another AWS account may have taken the "
        "name and may receive this trail's log files.",
        evidence,
        "Point the trail at a bucket you own (cloudtrail:UpdateTrail --s3-bucket-name). If "
        "an account of yours re-created the bucket, reach that account so trailtop can "
        "check it.",
    )


#: The encryption context of a data key request: a DescribeKey request carries none.
_DATA_KEY_CONTEXT = (
    "kms:EncryptionContext:aws:cloudtrail:arn",
    "kms:EncryptionContext:aws:s3:arn",
    "kms:EncryptionContextKeys",
)


def kms_describe_request(trail: TrailConfig, key_arn: str) -> Request:
    """``kms:DescribeKey`` on the trail's key, as CloudTrail makes it: the documented
    statement conditions it on ``aws:SourceArn`` (the trail), and it has no encryption
    context."""
    context = delivery_context(trail, Destination.KEY, action="kms:DescribeKey")
    return Request(
        "kms:DescribeKey", key_arn, context.with_absent(_DATA_KEY_CONTEXT), "describing the key"
    )


def describe_findings(
    trail: TrailConfig, fact: Fact, ev: Mapping[str, Any], key_arn: str, data_key: Decision
) -> list[Finding]:
    """AWS lists "Enable CloudTrail to describe KMS key properties" among the required key
    policy sections, and documents one consequence of its absence: "you cannot create or
    update a trail" (with an S3 Bucket Key). It documents no delivery failure, so a missing
    grant warns (medium) rather than fails the view."""
    kid = trail.kms_key_id or ""
    d = judge(fact.data.get("policy"), kms_describe_request(trail, key_arn))
    if d.refused:
        return [
            Finding(
                Code.KMS_POLICY_DESCRIBE_MISSING,
                Severity.MEDIUM,
                Channel.KMS,
                f"Key policy of {kid} does not let CloudTrail describe the key "
                "(kms:DescribeKey), a statement AWS lists as required: creating or updating "
                "the trail with this key can be refused.",
                {
                    **ev,
                    **statement_evidence(d, cloudtrail_kms_describe_statement(trail.arn)),
                },
                "Add the documented CloudTrail kms:DescribeKey statement to the key policy.",
            )
        ]
    if d.outcome is Outcome.UNKNOWN and data_key.outcome is not Outcome.UNKNOWN:
        return [undecidable(f"key policy of {kid}", d, Channel.KMS)]
    return []


#: "Amazon SNS topic policy for CloudTrail": the statement a KMS-encrypted topic's key
#: policy needs for CloudTrail's notifications (AWS documents it without conditions).
SNS_KEY_STATEMENT: Mapping[str, Any] = {
    "Effect": "Allow",
    "Principal": {"Service": "cloudtrail.amazonaws.com"},
    "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
    "Resource": "*",
}


def is_aws_managed_alias(key_id: str) -> bool:
    """An ``alias/aws/...`` name (bare or in an alias ARN): AWS reserves that prefix for
    AWS managed keys, whose key policy the service sets and nobody can change."""
    name = (
        key_id.split(":", 5)[5] if key_id.startswith("arn:") and key_id.count(":") >= 5 else key_id
    )
    return name.startswith("alias/aws/")


def topic_key_arn(topic_arn: str, key_id: str) -> str:
    """The ARN of a topic's ``KmsMasterKeyId``: a bare key id or alias names a key of the
    topic's own account and region."""
    if key_id.startswith("arn:"):
        return key_id
    region, account = region_of(topic_arn), account_of(topic_arn)
    kind = "" if key_id.startswith("alias/") else "key/"
    return f"arn:{partition_of(topic_arn)}:kms:{region}:{account}:{kind}{key_id}"


def sns_key_findings(trail: TrailConfig, fact: Fact) -> list[Finding]:
    """A KMS-encrypted topic (``KmsMasterKeyId``) whose key CloudTrail may not use: AWS
    documents that CloudTrail then needs ``kms:GenerateDataKey*`` and ``kms:Decrypt`` in
    the key's policy. An AWS managed key (``alias/aws/sns``) cannot get that statement: its
    policy is set by the service. Notifications are lost, log files are not (medium)."""
    kid = str(fact.data.get("kms_key") or "")
    if not kid or fact.exists is not True:
        return []
    arn = trail.sns_topic_arn or ""
    key_arn = topic_key_arn(arn, kid)
    ev: dict[str, Any] = {"topic_arn": arn, "kms_key_id": kid, "key_arn": key_arn}
    fix = (
        "Add the documented CloudTrail statement (kms:GenerateDataKey*, kms:Decrypt) to the "
        "key policy, in the account that owns the key."
    )
    if is_aws_managed_alias(kid):
        return [
            Finding(
                Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL,
                Severity.MEDIUM,
                Channel.SNS,
                f"Topic {arn} is encrypted with the AWS managed key {kid}, whose policy AWS "
                "sets and nobody can change: CloudTrail cannot be let use it, so delivery "
                "notifications are lost.",
                {**ev, "aws_managed": True, "missing_statement": dict(SNS_KEY_STATEMENT)},
                "Encrypt the topic with a customer managed key whose policy holds the "
                "documented CloudTrail statement (sns:SetTopicAttributes KmsMasterKeyId), "
                "or turn its encryption off.",
            )
        ]
    if "key_policy" not in fact.data:
        reason = str(fact.data.get("key_policy_error") or "key policy not readable")
        return [incomplete(f"key policy of {kid} (topic {arn})", reason, Channel.SNS)]
    policy = fact.data.get("key_policy")
    decisions = [(r, judge(policy, r)) for r in sns_key_requests(trail, key_arn)]
    refused = [(r, d) for r, d in decisions if d.refused]
    if refused:
        first = refused[0][1]
        actions = [r.action for r, _ in refused]
        return [
            Finding(
                Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL,
                Severity.MEDIUM,
                Channel.SNS,
                f"Topic {arn} is encrypted with KMS key {kid}, whose policy does not let "
                f"CloudTrail {' and '.join(actions)}: delivery notifications are lost.",
                {
                    **ev,
                    "missing_actions": actions,
                    **statement_evidence(first, dict(SNS_KEY_STATEMENT)),
                },
                fix
                if first.outcome is Outcome.NOT_GRANTED
                else "Remove or narrow the Deny statement so it does not match "
                "cloudtrail.amazonaws.com using the key; " + fix[0].lower() + fix[1:],
            )
        ]
    unknown = next((d for _, d in decisions if d.outcome is Outcome.UNKNOWN), None)
    if unknown is not None:
        return [undecidable(f"key policy of {kid} (topic {arn})", unknown, Channel.SNS)]
    return []


def key_region_findings(trail: TrailConfig, bucket: Fact, key: Fact | None) -> list[Finding]:
    """AWS: the trail's KMS key "must be created in the same AWS Region as the Amazon S3
    bucket that receives your log files". Judged from the bucket's region (GetBucketLocation)
    and the key's ARN; nothing when either is unknown or the key is gone (its own finding)."""
    bregion = bucket.data.get("region")
    if not bregion or (key is not None and key.exists is False):
        return []
    meta = (key.data.get("metadata") if key is not None else None) or {}
    kid = trail.kms_key_id or ""
    kregion = region_of(str(meta.get("Arn") or ""), region_of(kid))
    if not kregion or kregion == bregion:
        return []
    bname = trail.s3_bucket or ""
    return [
        Finding(
            Code.KMS_KEY_OTHER_REGION,
            Severity.CRITICAL,
            Channel.KMS,
            f"The trail's KMS key {kid} is in {kregion} but its bucket {bname} is in "
            f"{bregion}: the key must be in the bucket's region, so log files are not "
            "delivered.",
            {
                "kms_key_id": kid,
                "key_region": kregion,
                "bucket": bname,
                "bucket_region": bregion,
            },
            f"Point the trail at a KMS key in {bregion} whose policy allows CloudTrail "
            "(cloudtrail:UpdateTrail --kms-key-id), or at a bucket in "
            f"{kregion}.",
        )
    ]


# -- a KMS-encrypted CloudWatch Logs log group ------------------------------------------------

#: ``cause`` in the evidence of CLOUDWATCH_LOG_GROUP_KMS_DENIES: what keeps CloudWatch Logs
#: from using the group's key.
CAUSE_POLICY = "key_policy"
CAUSE_DISABLED = "key_disabled"
CAUSE_PENDING_DELETION = "key_pending_deletion"
CAUSE_STATE = "key_state"
CAUSE_MISSING = "key_missing"


def log_group_key_arn(log_group_arn: str, key_id: str) -> str:
    """The ARN of a log group's ``kmsKeyId`` (DescribeLogGroups documents an ARN; a bare key
    id would name a key of the group's own account and region)."""
    if key_id.startswith("arn:"):
        return key_id
    region, account = region_of(log_group_arn), account_of(log_group_arn)
    kind = "" if key_id.startswith("alias/") else "key/"
    return f"arn:{partition_of(log_group_arn)}:kms:{region}:{account}:{kind}{key_id}"


def log_group_key_findings(trail: TrailConfig, fact: Fact) -> list[Finding]:
    """A log group encrypted with a KMS key (DescribeLogGroups ``kmsKeyId``) that CloudWatch
    Logs cannot use: the key is gone, not ``Enabled``, or its policy does not let
    ``logs.<region>.amazonaws.com`` ``kms:GenerateDataKey`` and ``kms:Decrypt`` with the
    group's encryption context. CloudWatch Logs then cannot store the events CloudTrail
    delivers (AWS: CloudWatch Logs "must have permissions for the KMS key"). A key whose
    state or policy could not be read is "cannot tell", never this finding."""
    kid = str(fact.data.get("kms_key") or "")
    if not kid or fact.exists is not True:
        return []
    garn = trail.log_group_arn or ""
    gname = log_group_name(garn)
    meta = fact.data.get("key_metadata") or {}
    key_arn = str(meta.get("Arn") or log_group_key_arn(garn, kid))
    owner = account_of(key_arn) or account_of(garn) or trail.owner_account
    principal = logs_principal(garn).service or ""
    ev: dict[str, Any] = {
        "log_group_arn": garn,
        "kms_key_id": kid,
        "key_arn": key_arn,
        "owner_account": owner,
        "service_principal": principal,
    }
    what = f"KMS key {kid} of log group {gname}"

    def found(cause: str, detail: str, extra: Mapping[str, Any], fix: str) -> list[Finding]:
        return [
            Finding(
                Code.CLOUDWATCH_LOG_GROUP_KMS_DENIES,
                Severity.HIGH,
                Channel.CLOUDWATCH,
                f"The trail's log group {gname} is encrypted with KMS key {kid}, which "
                f"{detail}: CloudWatch Logs cannot store the events CloudTrail delivers.",
                {**ev, "cause": cause, **extra},
                fix,
            )
        ]

    if fact.data.get("key_missing"):
        return found(
            CAUSE_MISSING,
            "does not exist",
            {"KeyState": None, "error": fact.data.get("key_missing")},
            "Associate a usable key with the log group (logs:AssociateKmsKey) whose policy "
            "lets CloudWatch Logs use it, or disassociate the key (logs:DisassociateKmsKey).",
        )
    if not meta:
        reason = str(fact.data.get("key_error") or "the key could not be described")
        return [incomplete(what, reason, Channel.CLOUDWATCH)]
    state = meta.get("KeyState")
    if state == "Disabled":
        return found(
            CAUSE_DISABLED,
            "is disabled",
            {"KeyState": state},
            "Enable the key (kms:EnableKey).",
        )
    if state == "PendingDeletion":
        when = meta.get("DeletionDate")
        return found(
            CAUSE_PENDING_DELETION,
            "is scheduled for deletion",
            {
                "KeyState": state,
                "DeletionDate": when.isoformat() if isinstance(when, datetime) else when,
            },
            "Cancel the deletion (kms:CancelKeyDeletion) and enable the key (kms:EnableKey).",
        )
    if state not in (None, "Enabled"):
        return found(
            CAUSE_STATE,
            f"is in state {state}",
            {"KeyState": state},
            "Make the key usable (its state must be Enabled).",
        )
    if "key_policy" not in fact.data:
        reason = str(fact.data.get("key_policy_error") or "key policy not readable")
        return [incomplete(f"key policy of {kid} (log group {gname})", reason, Channel.CLOUDWATCH)]
    policy = fact.data.get("key_policy")
    decisions = [(r, judge(policy, r)) for r in logs_key_requests(garn, key_arn)]
    refused = [(r, d) for r, d in decisions if d.refused]
    if refused:
        first = refused[0][1]
        actions = [r.action for r, _ in refused]
        fix = (
            f"Add the documented statement for {principal} (restricted to this log group by "
            "kms:EncryptionContext:aws:logs:arn) to the key policy, in the account that owns "
            "the key."
        )
        return found(
            CAUSE_POLICY,
            f"does not let {principal} {' and '.join(actions)} for this group",
            {
                "KeyState": state,
                "missing_actions": actions,
                **statement_evidence(first, cloudwatch_logs_key_statement(garn)),
            },
            fix
            if first.outcome is Outcome.NOT_GRANTED
            else f"Remove or narrow the Deny statement so it does not match {principal} "
            "using the key; " + fix[0].lower() + fix[1:],
        )
    unknown = next((d for _, d in decisions if d.outcome is Outcome.UNKNOWN), None)
    if unknown is not None:
        return [
            undecidable(f"key policy of {kid} (log group {gname})", unknown, Channel.CLOUDWATCH)
        ]
    return []


# -- event selectors ---------------------------------------------------------------------------

_READ_WRITE: Mapping[str, frozenset[str]] = {
    "All": frozenset({"read", "write"}),
    "ReadOnly": frozenset({"read"}),
    "WriteOnly": frozenset({"write"}),
}
#: What a trail with no custom selector logs: AWS, PutEventSelectors, "trails created without
#: specific event selectors are configured to log all read and write management events".
ALL_MANAGEMENT = _READ_WRITE["All"]


def _field(selector: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    for f in selector.get("FieldSelectors") or []:
        if isinstance(f, Mapping) and f.get("Field") == name:
            return f
    return None


def _advanced_management(selector: Mapping[str, Any]) -> frozenset[str] | None:
    """Which management events one advanced selector logs (read, write); None: cannot tell.

    AWS (AdvancedFieldSelector): ``Equals`` is the only operator of ``eventCategory`` and
    ``readOnly``; ``eventCategory`` is required. Other fields (``eventSource`` exclusions)
    narrow the management events logged but do not remove them all."""
    category = _field(selector, "eventCategory")
    if category is None:
        return None
    if set(category) - {"Field", "Equals"} or not category.get("Equals"):
        return None
    if "Management" not in category.get("Equals", []):
        return frozenset()
    read_only = _field(selector, "readOnly")
    if read_only is None:
        return ALL_MANAGEMENT
    values = {str(v).lower() for v in read_only.get("Equals") or []}
    if set(read_only) - {"Field", "Equals"} or not values <= {"true", "false"} or not values:
        return None
    return frozenset(("read" if v == "true" else "write") for v in values)


def management_events(selectors: Mapping[str, Any]) -> frozenset[str] | None:
    """The management events a trail logs, from its GetEventSelectors answer: a subset of
    {"read", "write"}; None when the answer cannot be read.

    Basic selectors: ``IncludeManagementEvents`` (default true) and ``ReadWriteType``
    (default ``All``), as the EventSelector reference documents. Advanced selectors: a
    selector whose ``eventCategory`` equals ``Management``. An event is logged when it
    matches any selector. An answer with neither kind is a trail without custom
    selectors: AWS's default, all read and write management events."""
    basic = selectors.get("EventSelectors") or []
    advanced = selectors.get("AdvancedEventSelectors") or []
    if not isinstance(basic, list) or not isinstance(advanced, list):
        return None
    if not basic and not advanced:
        return ALL_MANAGEMENT
    out: set[str] = set()
    for sel in basic:
        if not isinstance(sel, Mapping):
            return None
        if sel.get("IncludeManagementEvents", True) is False:
            continue
        kinds = _READ_WRITE.get(str(sel.get("ReadWriteType", "All")))
        if kinds is None:
            return None
        out |= kinds
    for sel in advanced:
        if not isinstance(sel, Mapping):
            return None
        kinds = _advanced_management(sel)
        if kinds is None:
            return None
        out |= kinds
    return frozenset(out)


def event_selector_findings(
    trail: TrailConfig, key: ViewKey, fact: Fact, *, say_unread: bool = True
) -> list[Finding]:
    """TRAIL_NO_MANAGEMENT_EVENTS on every view of a trail whose selectors log no
    management event: AWS, PutEventSelectors: "If the event doesn't match any event
    selector, the trail doesn't log the event". Such a trail records no management event
    in the view's region, so it does not cover that region (REGION_NOT_COVERED, see
    core/judge/evaluate.py ``view_covers_region``). Nothing is lost if another trail logs
    them: a posture fact (low) on the trail. Selectors that could not be read are
    DIAGNOSTICS_INCOMPLETE where ``say_unread`` (the views that diagnose the trail)."""
    if fact.exists is not True:
        if not say_unread:
            return []
        reason = fact.error or "GetEventSelectors could not be read"
        return [incomplete(f"event selectors of trail {trail.name}", reason, Channel.TRAIL)]
    logged = management_events(fact.data)
    if logged is None:
        if not say_unread:
            return []
        return [
            incomplete(
                f"event selectors of trail {trail.name}",
                "the GetEventSelectors answer has a selector trailtop cannot read",
                Channel.TRAIL,
            )
        ]
    if logged:
        return []
    return [
        Finding(
            Code.TRAIL_NO_MANAGEMENT_EVENTS,
            Severity.LOW,
            Channel.TRAIL,
            f"Trail {trail.name} logs no management events (its event selectors match none): "
            f"it records no management event in {key.region} and does not cover this "
            "region for them.",
            {
                "trail_arn": trail.arn,
                "region": key.region,
                "EventSelectors": list(fact.data.get("EventSelectors") or []),
                "AdvancedEventSelectors": list(fact.data.get("AdvancedEventSelectors") or []),
            },
            "If this trail is meant to record management events, add them to its selectors "
            "(cloudtrail:PutEventSelectors: IncludeManagementEvents true, or an advanced "
            "selector with eventCategory = Management). Otherwise make sure another trail "
            "logs them in every region.",
        )
    ]
