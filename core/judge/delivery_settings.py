"""Settings of a destination that break delivery besides its policy (pure).

Requester Pays, a key in another region than its bucket, a bucket name taken by someone
else, kms:DescribeKey missing for CloudTrail, a KMS-encrypted topic whose key refuses
CloudTrail, a bucket's default SSE-KMS key: each documented by AWS (docs/findings.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.codes import Code
from core.judge.context import (
    Destination,
    Request,
    delivery_context,
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
)
from core.model import Channel, Finding, Severity, TrailConfig
from core.util.arn import account_of, partition_of, region_of


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
    if d.outcome in (Outcome.DENIED, Outcome.NOT_GRANTED):
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
    refused = [(r, d) for r, d in decisions if d.outcome in (Outcome.DENIED, Outcome.NOT_GRANTED)]
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
