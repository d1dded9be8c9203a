"""From destination facts to root-cause findings: pure, policy reading via core/judge/policy.py.

The facts are what core/aws/diagnose.py read from AWS (or could not read, and why). Policies
are judged with the requests CloudTrail itself makes when it delivers (core/judge/context.py),
so a policy that would refuse CloudTrail is found before CloudTrail reports a failed delivery,
and a hardened policy that lets CloudTrail through raises nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.codes import Code
from core.judge.context import (
    CLOUDTRAIL,
    Destination,
    Request,
    cloudtrail_context,
    delivery_context,
    kms_request,
    log_account,
    role_request,
    s3_requests,
    sns_key_requests,
    sns_request,
)
from core.judge.policy import Decision, Outcome, Principal, evaluate, explain
from core.judge.statements import (
    cloudtrail_bucket_statements,
    cloudtrail_kms_describe_statement,
    cloudtrail_kms_statement,
    cloudtrail_sns_statement,
    cloudwatch_role_permissions,
    cloudwatch_role_trust_policy,
)
from core.model import Channel, Finding, Severity, TrailConfig, ViewKey
from core.util.arn import account_of, log_group_name, partition_of, region_of

__all__ = [
    "CLOUDTRAIL",
    "Destinations",
    "Fact",
    "cloudtrail_context",
    "documented_bucket_statements",
    "is_aws_managed_alias",
    "root_causes",
    "topic_key_arn",
]


@dataclass(frozen=True)
class Fact:
    """One destination as read: exists True/False, or None with `error` when we cannot tell."""

    kind: str
    ident: str
    exists: bool | None
    error: str | None = None
    #: Another account owns it and we could not (or should not) judge it from here.
    foreign: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Destinations:
    bucket: Fact | None = None
    key: Fact | None = None
    topic: Fact | None = None
    log_group: Fact | None = None
    role: Fact | None = None


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


def _judge(policy: Any, request: Request) -> Decision:
    return evaluate(
        policy,
        principal=CLOUDTRAIL,
        action=request.action,
        resource=request.resource,
        context=request.context,
    )


def documented_bucket_statements(
    trail: TrailConfig, key: ViewKey, org_id: str | None
) -> list[dict[str, Any]]:
    """The documented bucket statements for the paths the trail writes: the ACL check, and
    the write on ``AWSLogs/<account>/`` or, for an organization trail, ``AWSLogs/<org-id>/``
    only (AWS's sample also grants the management account's own path, "in the event that
    the trail is changed from an organization trail to a trail for that account only").
    An organization trail whose organization id is not known gets the ACL check only."""
    ident = org_id if trail.organization_trail else log_account(trail, key)
    statements = cloudtrail_bucket_statements(
        trail.s3_bucket or "",
        trail.s3_prefix,
        [ident or trail.owner_account],
        trail.arn,
        trail.owner_account,
        partition=partition_of(trail.arn),
    )
    return statements if ident else statements[:1]


def _statement_evidence(
    d: Decision, missing: Mapping[str, Any] | list[Any] | None
) -> dict[str, Any]:
    ev: dict[str, Any] = {"decision": d.outcome.value, "reason": explain(d)}
    if d.outcome is Outcome.DENIED and d.statement is not None:
        ev["deciding_statement"] = dict(d.statement)
        ev["statement_index"] = d.statement_index
        if d.sid:
            ev["sid"] = d.sid
    elif missing is not None:
        ev["missing_statement"] = missing
    return ev


def _incomplete(what: str, reason: str, channel: Channel) -> Finding:
    return Finding(
        Code.DIAGNOSTICS_INCOMPLETE,
        Severity.INFO,
        channel,
        f"Could not check the {what}: {reason}",
        {"destination": what, "reason": reason},
        "Grant trailtop's read-only policy on this destination, or check it where it lives.",
    )


def _elsewhere(what: str, ident: str, channel: Channel, reason: str) -> Finding:
    return Finding(
        Code.MANAGED_ELSEWHERE,
        Severity.INFO,
        channel,
        f"The {what} {ident} belongs to another account; it is judged there.",
        {"destination": what, "id": ident, "reason": reason},
        "Check it from the account that owns it.",
    )


def _undecidable(what: str, d: Decision, channel: Channel) -> Finding:
    return _incomplete(what, explain(d), channel)


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


def s3_findings(trail: TrailConfig, key: ViewKey, fact: Fact, org_id: str | None) -> list[Finding]:
    bucket = trail.s3_bucket or ""
    out: list[Finding] = []
    taken = name_taken_finding(bucket, fact)
    if taken is not None:
        return [taken]
    if fact.exists is False:
        return [
            Finding(
                Code.S3_BUCKET_MISSING,
                Severity.CRITICAL,
                Channel.S3,
                f"The trail's bucket {bucket} does not exist: every log file is lost.",
                {"bucket": bucket, "error": fact.error},
                "Create the bucket with the CloudTrail bucket policy, or point the trail at "
                "an existing bucket (cloudtrail:UpdateTrail).",
            )
        ]
    if fact.foreign:
        out.append(
            _elsewhere("bucket", bucket, Channel.S3, fact.error or "owned by another account")
        )
    if fact.data.get("payer") == "Requester":
        out.append(requester_pays_finding(bucket))
    if fact.exists is None or "policy" not in fact.data:
        if not fact.foreign:
            out.append(
                _incomplete(f"bucket {bucket}", fact.error or "policy not readable", Channel.S3)
            )
        return out
    policy = fact.data.get("policy")
    requests = s3_requests(trail, key, org_id)
    documented = documented_bucket_statements(trail, key, org_id)
    prefix = f"{trail.s3_prefix.strip('/')}/" if trail.s3_prefix else ""
    root = f"{prefix}AWSLogs/" + (
        f"{org_id or '<organization id>'}/{log_account(trail, key)}"
        if trail.organization_trail
        else log_account(trail, key)
    )

    put_decisions = [_judge(policy, r) for r in requests.writes]
    bad = next(
        (d for d in put_decisions if d.outcome in (Outcome.DENIED, Outcome.NOT_GRANTED)), None
    )
    unknown = next((d for d in put_decisions if d.outcome is Outcome.UNKNOWN), None)
    if bad is not None:
        write_stmt = [s for s in documented if "PutObject" in str(s.get("Action"))]
        out.append(
            Finding(
                Code.S3_POLICY_DENIES_CLOUDTRAIL,
                Severity.CRITICAL,
                Channel.S3,
                (
                    f"Bucket policy of {bucket} explicitly denies CloudTrail's writes"
                    + (f" (statement {bad.sid})" if bad.sid else "")
                    if bad.outcome is Outcome.DENIED
                    else f"Bucket policy of {bucket} does not let CloudTrail write "
                    f"{root}/… for this trail."
                ),
                {
                    "bucket": bucket,
                    "resources": [r.resource for r in requests.writes],
                    **_statement_evidence(bad, write_stmt),
                },
                (
                    "Remove or narrow the Deny statement so it does not match "
                    "cloudtrail.amazonaws.com writing AWSLogs/."
                    if bad.outcome is Outcome.DENIED
                    else "Add the documented CloudTrail PutObject statement (see evidence) "
                    "to the bucket policy."
                ),
            )
        )
    elif unknown is not None:
        out.append(_undecidable(f"bucket policy of {bucket}", unknown, Channel.S3))
    elif requests.undecidable:
        out.append(_incomplete(f"bucket policy of {bucket}", requests.undecidable, Channel.S3))

    acl = _judge(policy, requests.acl)
    if acl.outcome in (Outcome.DENIED, Outcome.NOT_GRANTED):
        acl_stmt = [s for s in documented if "GetBucketAcl" in str(s.get("Action"))]
        out.append(
            Finding(
                Code.S3_POLICY_ACL_CHECK_MISSING,
                Severity.HIGH,
                Channel.S3,
                f"Bucket policy of {bucket} does not let CloudTrail read the bucket ACL "
                "(s3:GetBucketAcl), which it checks before writing.",
                {"bucket": bucket, **_statement_evidence(acl, acl_stmt)},
                "Add the documented CloudTrail GetBucketAcl statement to the bucket policy.",
            )
        )
    elif acl.outcome is Outcome.UNKNOWN:
        out.append(_undecidable(f"bucket policy of {bucket}", acl, Channel.S3))
    return out


def kms_findings(
    trail: TrailConfig, key: ViewKey, fact: Fact, now: datetime, org_id: str | None = None
) -> list[Finding]:
    kid = trail.kms_key_id or ""
    if fact.exists is False:
        return [
            Finding(
                Code.KMS_KEY_MISSING,
                Severity.CRITICAL,
                Channel.KMS,
                f"The trail's KMS key {kid} does not exist: CloudTrail cannot encrypt log files.",
                {"kms_key_id": kid, "error": fact.error},
                "Point the trail at a usable key (cloudtrail:UpdateTrail --kms-key-id) whose "
                "policy allows CloudTrail.",
            )
        ]
    if fact.foreign and fact.exists is None:
        return [_elsewhere("KMS key", kid, Channel.KMS, fact.error or "owned by another account")]
    if fact.exists is None:
        return [_incomplete(f"KMS key {kid}", fact.error or "not readable", Channel.KMS)]
    out: list[Finding] = []
    meta = fact.data.get("metadata") or {}
    state = meta.get("KeyState")
    ev = {"kms_key_id": kid, "KeyState": state, "KeyArn": meta.get("Arn")}
    if state == "Disabled":
        out.append(
            Finding(
                Code.KMS_KEY_DISABLED,
                Severity.CRITICAL,
                Channel.KMS,
                f"The trail's KMS key {kid} is disabled: CloudTrail cannot encrypt log files.",
                ev,
                "Enable the key (kms:EnableKey).",
            )
        )
    elif state == "PendingDeletion":
        when = meta.get("DeletionDate")
        out.append(
            Finding(
                Code.KMS_KEY_PENDING_DELETION,
                Severity.CRITICAL,
                Channel.KMS,
                f"The trail's KMS key {kid} is scheduled for deletion"
                + (f" on {when:%Y-%m-%d %H:%M} UTC" if isinstance(when, datetime) else "")
                + ": logs are not delivered, and once deleted, encrypted logs are unreadable.",
                {**ev, "DeletionDate": when.isoformat() if isinstance(when, datetime) else when},
                "Cancel the deletion (kms:CancelKeyDeletion) and enable the key (kms:EnableKey).",
            )
        )
    elif state not in (None, "Enabled"):
        out.append(
            Finding(
                Code.KMS_KEY_DISABLED,
                Severity.CRITICAL,
                Channel.KMS,
                f"The trail's KMS key {kid} is in state {state}: not usable for encryption.",
                ev,
                "Make the key usable (its state must be Enabled).",
            )
        )
    if "policy" in fact.data:
        d = _judge(
            fact.data.get("policy"), kms_request(trail, key, str(meta.get("Arn") or kid), org_id)
        )
        if d.outcome in (Outcome.DENIED, Outcome.NOT_GRANTED):
            out.append(
                Finding(
                    Code.KMS_POLICY_DENIES_CLOUDTRAIL,
                    Severity.CRITICAL,
                    Channel.KMS,
                    f"Key policy of {kid} does not let CloudTrail use kms:GenerateDataKey* for this trail.",
                    {
                        **ev,
                        **_statement_evidence(
                            d,
                            cloudtrail_kms_statement(
                                trail.owner_account, trail.arn, partition=partition_of(trail.arn)
                            ),
                        ),
                    },
                    "Add the documented CloudTrail statement to the key policy.",
                )
            )
        elif d.outcome is Outcome.UNKNOWN:
            out.append(_undecidable(f"key policy of {kid}", d, Channel.KMS))
        out += _describe_findings(trail, fact, ev, str(meta.get("Arn") or kid), d)
    else:
        # The key was described but its policy not read (GetKeyPolicy has no cross-account
        # use): say so, a key policy that refuses CloudTrail may be behind it.
        reason = str(fact.data.get("policy_error") or fact.error or "key policy not readable")
        out.append(_incomplete(f"key policy of {kid}", reason, Channel.KMS))
    return out


def _describe_findings(
    trail: TrailConfig, fact: Fact, ev: Mapping[str, Any], key_arn: str, data_key: Decision
) -> list[Finding]:
    """AWS lists "Enable CloudTrail to describe KMS key properties" among the required key
    policy sections, and documents one consequence of its absence: "you cannot create or
    update a trail" (with an S3 Bucket Key). It documents no delivery failure, so a missing
    grant warns (medium) rather than fails the view."""
    kid = trail.kms_key_id or ""
    d = _judge(fact.data.get("policy"), kms_describe_request(trail, key_arn))
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
                    **_statement_evidence(d, cloudtrail_kms_describe_statement(trail.arn)),
                },
                "Add the documented CloudTrail kms:DescribeKey statement to the key policy.",
            )
        ]
    if d.outcome is Outcome.UNKNOWN and data_key.outcome is not Outcome.UNKNOWN:
        return [_undecidable(f"key policy of {kid}", d, Channel.KMS)]
    return []


def sns_findings(
    trail: TrailConfig, key: ViewKey, fact: Fact, org_id: str | None = None
) -> list[Finding]:
    arn = trail.sns_topic_arn or ""
    if fact.exists is False:
        return [
            Finding(
                Code.SNS_TOPIC_MISSING,
                Severity.MEDIUM,
                Channel.SNS,
                f"The trail's SNS topic {arn} does not exist: delivery notifications are lost.",
                {"topic_arn": arn, "error": fact.error},
                "Recreate the topic with the CloudTrail topic policy, or remove it from the trail.",
            )
        ]
    if fact.foreign and fact.exists is None:
        return [_elsewhere("SNS topic", arn, Channel.SNS, fact.error or "owned by another account")]
    if fact.exists is None or "policy" not in fact.data:
        return [_incomplete(f"SNS topic {arn}", fact.error or "policy not readable", Channel.SNS)]
    out: list[Finding] = []
    d = _judge(fact.data.get("policy"), sns_request(trail, org_id))
    if d.outcome in (Outcome.DENIED, Outcome.NOT_GRANTED):
        out.append(
            Finding(
                Code.SNS_POLICY_DENIES_CLOUDTRAIL,
                Severity.MEDIUM,
                Channel.SNS,
                f"Topic policy of {arn} does not let CloudTrail publish (SNS:Publish).",
                {
                    "topic_arn": arn,
                    **_statement_evidence(
                        d, cloudtrail_sns_statement(arn, trail.arn, trail.owner_account)
                    ),
                },
                "Add the documented CloudTrail SNS:Publish statement to the topic policy.",
            )
        )
    elif d.outcome is Outcome.UNKNOWN:
        out.append(_undecidable(f"topic policy of {arn}", d, Channel.SNS))
    return out + sns_key_findings(trail, fact)


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
        return [_incomplete(f"key policy of {kid} (topic {arn})", reason, Channel.SNS)]
    policy = fact.data.get("key_policy")
    decisions = [(r, _judge(policy, r)) for r in sns_key_requests(trail, key_arn)]
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
                    **_statement_evidence(first, dict(SNS_KEY_STATEMENT)),
                },
                fix
                if first.outcome is Outcome.NOT_GRANTED
                else "Remove or narrow the Deny statement so it does not match "
                "cloudtrail.amazonaws.com using the key; " + fix[0].lower() + fix[1:],
            )
        ]
    unknown = next((d for _, d in decisions if d.outcome is Outcome.UNKNOWN), None)
    if unknown is not None:
        return [_undecidable(f"key policy of {kid} (topic {arn})", unknown, Channel.SNS)]
    return []


def cloudwatch_findings(
    trail: TrailConfig, key: ViewKey, group: Fact | None, role: Fact | None
) -> list[Finding]:
    out: list[Finding] = []
    garn = trail.log_group_arn or ""
    gname = log_group_name(garn)
    if group is not None:
        if group.exists is False:
            out.append(
                Finding(
                    Code.CLOUDWATCH_LOG_GROUP_MISSING,
                    Severity.HIGH,
                    Channel.CLOUDWATCH,
                    f"The trail's log group {gname} does not exist.",
                    {"log_group_arn": garn},
                    "Create the log group (logs:CreateLogGroup) or update the trail.",
                )
            )
        elif group.exists is None:
            out.append(
                _incomplete(f"log group {gname}", group.error or "not readable", Channel.CLOUDWATCH)
            )
    if role is None:
        return out
    rarn = trail.cw_role_arn or ""
    if role.exists is False:
        out.append(
            Finding(
                Code.CLOUDWATCH_ROLE_MISSING,
                Severity.HIGH,
                Channel.CLOUDWATCH,
                f"The CloudWatch Logs delivery role {rarn} does not exist.",
                {"role_arn": rarn, "error": role.error},
                "Recreate the role with the CloudTrail trust policy and log permissions, "
                "or update the trail.",
            )
        )
        return out
    if role.exists is None:
        out.append(_incomplete(f"role {rarn}", role.error or "not readable", Channel.CLOUDWATCH))
        return out
    trust = _judge(role.data.get("trust"), role_request(trail))
    if trust.outcome in (Outcome.DENIED, Outcome.NOT_GRANTED):
        out.append(
            Finding(
                Code.CLOUDWATCH_ROLE_TRUST_INVALID,
                Severity.HIGH,
                Channel.CLOUDWATCH,
                f"The delivery role {rarn} does not trust cloudtrail.amazonaws.com.",
                {
                    "role_arn": rarn,
                    "trust_policy": role.data.get("trust"),
                    **_statement_evidence(trust, cloudwatch_role_trust_policy()),
                },
                "Update the role's trust policy (iam:UpdateAssumeRolePolicy).",
            )
        )
    elif trust.outcome is Outcome.UNKNOWN:
        out.append(_undecidable(f"trust policy of {rarn}", trust, Channel.CLOUDWATCH))

    region = region_of(garn, key.region)
    acct = account_of(garn) or trail.owner_account
    part = partition_of(garn, partition_of(trail.arn))
    stream = (
        f"arn:{part}:logs:{region}:{acct}:log-group:{gname}:log-stream:{acct}_CloudTrail_{region}"
    )
    policies: Sequence[Any] = role.data.get("policies") or []
    missing: list[str] = []
    undecided: Decision | None = None
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        decisions = [
            evaluate(
                p,
                principal=Principal.aws_(rarn),
                action=action,
                resource=stream,
                identity_policy=True,
            )
            for p in policies
        ]
        if any(d.outcome is Outcome.DENIED for d in decisions):
            missing.append(action)
        elif not any(d.outcome is Outcome.ALLOWED for d in decisions):
            u = next((d for d in decisions if d.outcome is Outcome.UNKNOWN), None)
            if u is not None:
                undecided = u
            else:
                missing.append(action)
    if missing:
        out.append(
            Finding(
                Code.CLOUDWATCH_ROLE_PERMISSIONS_MISSING,
                Severity.HIGH,
                Channel.CLOUDWATCH,
                f"The delivery role {rarn} may not {' and '.join(missing)} on {gname}.",
                {
                    "role_arn": rarn,
                    "missing_actions": missing,
                    "resource": stream,
                    "policies_checked": len(policies),
                    "missing_statement": cloudwatch_role_permissions(garn, acct, region),
                },
                "Add the documented permissions to the role (iam:PutRolePolicy).",
            )
        )
    elif undecided is not None:
        out.append(_undecidable(f"permissions of {rarn}", undecided, Channel.CLOUDWATCH))
    return out


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


def root_causes(
    trail: TrailConfig,
    key: ViewKey,
    dest: Destinations,
    now: datetime,
    org_id: str | None = None,
) -> list[Finding]:
    """Root causes of the view's destinations. ``org_id``: the organization of the trail's
    account (None when not read): an organization trail writes under it, and CloudTrail's
    writes to S3 carry it as ``aws:SourceOrgID``."""
    out: list[Finding] = []
    if dest.bucket is not None:
        out += s3_findings(trail, key, dest.bucket, org_id)
    if dest.key is not None:
        out += kms_findings(trail, key, dest.key, now, org_id)
    if dest.bucket is not None and trail.kms_key_id:
        out += key_region_findings(trail, dest.bucket, dest.key)
    if dest.bucket is not None and not trail.kms_key_id:
        out += default_sse_kms_findings(trail, dest.bucket)
    if dest.topic is not None:
        out += sns_findings(trail, key, dest.topic, org_id)
    if dest.log_group is not None or dest.role is not None:
        out += cloudwatch_findings(trail, key, dest.log_group, dest.role)
    return out
