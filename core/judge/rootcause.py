"""From destination facts to root-cause findings: pure, policy reading via core/judge/policy.py.

The facts are what core/aws/diagnose.py read from AWS (or could not read, and why). Policies
are judged with the requests CloudTrail itself makes when it delivers (core/judge/context.py),
so a policy that would refuse CloudTrail is found before CloudTrail reports a failed delivery,
and a hardened policy that lets CloudTrail through raises nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.codes import Code
from core.judge.context import (
    kms_request,
    log_account,
    role_request,
    s3_requests,
    sns_request,
)
from core.judge.delivery_settings import (
    default_sse_kms_findings,
    describe_findings,
    event_selector_findings,
    key_region_findings,
    log_group_key_findings,
    name_taken_finding,
    requester_pays_finding,
    sns_key_findings,
)
from core.judge.facts import (
    Destinations,
    Fact,
    elsewhere,
    incomplete,
    judge,
    statement_evidence,
    undecidable,
)
from core.judge.policy import Decision, Outcome, Principal, evaluate
from core.judge.statements import (
    cloudtrail_bucket_statements,
    cloudtrail_kms_statement,
    cloudtrail_sns_statement,
    cloudwatch_role_permissions,
    cloudwatch_role_trust_policy,
)
from core.model import Channel, Finding, Severity, TrailConfig, ViewKey
from core.util.arn import account_of, log_group_name, partition_of, region_of

__all__ = ["documented_bucket_statements", "root_causes"]


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
            elsewhere("bucket", bucket, Channel.S3, fact.error or "owned by another account")
        )
    if fact.data.get("payer") == "Requester":
        out.append(requester_pays_finding(bucket))
    if fact.exists is None or "policy" not in fact.data:
        if not fact.foreign:
            out.append(
                incomplete(f"bucket {bucket}", fact.error or "policy not readable", Channel.S3)
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

    put_decisions = [judge(policy, r) for r in requests.writes]
    bad = next((d for d in put_decisions if d.refused), None)
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
                    **statement_evidence(bad, write_stmt),
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
        out.append(undecidable(f"bucket policy of {bucket}", unknown, Channel.S3))
    elif requests.undecidable:
        out.append(incomplete(f"bucket policy of {bucket}", requests.undecidable, Channel.S3))

    acl = judge(policy, requests.acl)
    if acl.refused:
        acl_stmt = [s for s in documented if "GetBucketAcl" in str(s.get("Action"))]
        out.append(
            Finding(
                Code.S3_POLICY_ACL_CHECK_MISSING,
                Severity.HIGH,
                Channel.S3,
                f"Bucket policy of {bucket} does not let CloudTrail read the bucket ACL "
                "(s3:GetBucketAcl), which it checks before writing.",
                {"bucket": bucket, **statement_evidence(acl, acl_stmt)},
                "Add the documented CloudTrail GetBucketAcl statement to the bucket policy.",
            )
        )
    elif acl.outcome is Outcome.UNKNOWN:
        out.append(undecidable(f"bucket policy of {bucket}", acl, Channel.S3))
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
        return [elsewhere("KMS key", kid, Channel.KMS, fact.error or "owned by another account")]
    if fact.exists is None:
        return [incomplete(f"KMS key {kid}", fact.error or "not readable", Channel.KMS)]
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
        d = judge(
            fact.data.get("policy"), kms_request(trail, key, str(meta.get("Arn") or kid), org_id)
        )
        if d.refused:
            out.append(
                Finding(
                    Code.KMS_POLICY_DENIES_CLOUDTRAIL,
                    Severity.CRITICAL,
                    Channel.KMS,
                    f"Key policy of {kid} does not let CloudTrail use kms:GenerateDataKey* for this trail.",
                    {
                        **ev,
                        **statement_evidence(
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
            out.append(undecidable(f"key policy of {kid}", d, Channel.KMS))
        out += describe_findings(trail, fact, ev, str(meta.get("Arn") or kid), d)
    else:
        # The key was described but its policy not read (GetKeyPolicy has no cross-account
        # use): say so, a key policy that refuses CloudTrail may be behind it.
        reason = str(fact.data.get("policy_error") or fact.error or "key policy not readable")
        out.append(incomplete(f"key policy of {kid}", reason, Channel.KMS))
    return out


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
        return [elsewhere("SNS topic", arn, Channel.SNS, fact.error or "owned by another account")]
    if fact.exists is None or "policy" not in fact.data:
        return [incomplete(f"SNS topic {arn}", fact.error or "policy not readable", Channel.SNS)]
    out: list[Finding] = []
    d = judge(fact.data.get("policy"), sns_request(trail, org_id))
    if d.refused:
        out.append(
            Finding(
                Code.SNS_POLICY_DENIES_CLOUDTRAIL,
                Severity.MEDIUM,
                Channel.SNS,
                f"Topic policy of {arn} does not let CloudTrail publish (SNS:Publish).",
                {
                    "topic_arn": arn,
                    **statement_evidence(
                        d, cloudtrail_sns_statement(arn, trail.arn, trail.owner_account)
                    ),
                },
                "Add the documented CloudTrail SNS:Publish statement to the topic policy.",
            )
        )
    elif d.outcome is Outcome.UNKNOWN:
        out.append(undecidable(f"topic policy of {arn}", d, Channel.SNS))
    return out + sns_key_findings(trail, fact)


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
                incomplete(f"log group {gname}", group.error or "not readable", Channel.CLOUDWATCH)
            )
        else:
            out += log_group_key_findings(trail, group)
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
        out.append(incomplete(f"role {rarn}", role.error or "not readable", Channel.CLOUDWATCH))
        return out
    trust = judge(role.data.get("trust"), role_request(trail))
    if trust.refused:
        out.append(
            Finding(
                Code.CLOUDWATCH_ROLE_TRUST_INVALID,
                Severity.HIGH,
                Channel.CLOUDWATCH,
                f"The delivery role {rarn} does not trust cloudtrail.amazonaws.com.",
                {
                    "role_arn": rarn,
                    "trust_policy": role.data.get("trust"),
                    **statement_evidence(trust, cloudwatch_role_trust_policy()),
                },
                "Update the role's trust policy (iam:UpdateAssumeRolePolicy).",
            )
        )
    elif trust.outcome is Outcome.UNKNOWN:
        out.append(undecidable(f"trust policy of {rarn}", trust, Channel.CLOUDWATCH))

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
        out.append(undecidable(f"permissions of {rarn}", undecided, Channel.CLOUDWATCH))
    return out


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
    if dest.selectors is not None:
        out += event_selector_findings(trail, key, dest.selectors)
    return out
