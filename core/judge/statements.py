"""CloudTrail's delivery statements as AWS documents them (pure data builders).

Statements as documented in the AWS CloudTrail User Guide: "Amazon S3 bucket policy for
CloudTrail" (and the organization-trail variant), "Configure AWS KMS key policies for
CloudTrail", "Amazon SNS topic policy for CloudTrail", "Sending events to CloudWatch Logs"
and "Role policy document for CloudTrail to use CloudWatch Logs for monitoring"; and, for a
KMS-encrypted log group, the CloudWatch Logs User Guide's "Encrypt log data in CloudWatch
Logs using AWS Key Management Service".
Root causes (core/judge/rootcause.py) judge policies against them; plans (core/fix) add
them to a policy that lacks them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.judge.policy import CLOUDTRAIL_SERVICE, VERSION_2012


def _one_or_list(values: Sequence[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _source_conditions(
    trail_arn: str | Sequence[str] | None, source_account: str | None
) -> dict[str, Any]:
    cond: dict[str, Any] = {}
    arns = _as_list(trail_arn)
    if arns:
        cond["aws:SourceArn"] = _one_or_list(arns)
    if source_account:
        cond["aws:SourceAccount"] = source_account
    return cond


def policy_document(statements: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Version": VERSION_2012, "Statement": [dict(s) for s in statements]}


def cloudtrail_bucket_statements(
    bucket: str,
    prefix: str | None,
    account_or_org_ids: str | Sequence[str],
    trail_arn: str | Sequence[str] | None = None,
    source_account: str | None = None,
    *,
    partition: str = "aws",
) -> list[dict[str, Any]]:
    """The documented bucket statements: ``AWSCloudTrailAclCheck20150319``
    (``s3:GetBucketAcl`` on the bucket), ``AWSCloudTrailWrite20150319`` (``s3:PutObject`` on
    ``[prefix/]AWSLogs/<account>/*`` with ``s3:x-amz-acl = bucket-owner-full-control``) and,
    for an organization id (``o-...``), ``AWSCloudTrailOrganizationWrite20150319`` on
    ``[prefix/]AWSLogs/<org-id>/*``. ``trail_arn``/``source_account`` add the
    ``aws:SourceArn``/``aws:SourceAccount`` conditions the guide recommends."""
    ids = _as_list(account_or_org_ids)
    if not ids:
        raise ValueError("at least one account or organization id is required")
    base = f"arn:{partition}:s3:::{bucket}"
    clean_prefix = (prefix or "").strip("/")
    logs = f"{base}/{clean_prefix}/AWSLogs" if clean_prefix else f"{base}/AWSLogs"
    source = _source_conditions(trail_arn, source_account)
    principal = {"Service": CLOUDTRAIL_SERVICE}

    acl: dict[str, Any] = {
        "Sid": "AWSCloudTrailAclCheck20150319",
        "Effect": "Allow",
        "Principal": dict(principal),
        "Action": "s3:GetBucketAcl",
        "Resource": base,
    }
    if source:
        acl["Condition"] = {"StringEquals": dict(source)}
    statements = [acl]

    def write(sid: str, owner_ids: list[str]) -> dict[str, Any]:
        return {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": dict(principal),
            "Action": "s3:PutObject",
            "Resource": _one_or_list([f"{logs}/{i}/*" for i in owner_ids]),
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **source}},
        }

    accounts = [i for i in ids if not i.startswith("o-")]
    orgs = [i for i in ids if i.startswith("o-")]
    if accounts:
        statements.append(write("AWSCloudTrailWrite20150319", accounts))
    if orgs:
        statements.append(write("AWSCloudTrailOrganizationWrite20150319", orgs))
    return statements


def cloudtrail_kms_statement(
    account_ids: str | Sequence[str],
    trail_arn: str | Sequence[str] | None = None,
    *,
    partition: str = "aws",
) -> dict[str, Any]:
    """The documented "Allow CloudTrail to encrypt logs" key-policy statement:
    ``kms:GenerateDataKey*`` for cloudtrail.amazonaws.com when the encryption context
    ``aws:cloudtrail:arn`` is a trail of one of ``account_ids`` (for an organization trail:
    the management account), optionally restricted to ``trail_arn`` via ``aws:SourceArn``."""
    ids = _as_list(account_ids)
    if not ids:
        raise ValueError("at least one account id is required")
    condition: dict[str, Any] = {}
    source = _source_conditions(trail_arn, None)
    if source:
        condition["StringEquals"] = source
    condition["StringLike"] = {
        "kms:EncryptionContext:aws:cloudtrail:arn": _one_or_list(
            [f"arn:{partition}:cloudtrail:*:{a}:trail/*" for a in ids]
        )
    }
    return {
        "Sid": "Allow CloudTrail to encrypt logs",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDTRAIL_SERVICE},
        "Action": "kms:GenerateDataKey*",
        "Resource": "*",
        "Condition": condition,
    }


def cloudtrail_kms_describe_statement(
    trail_arn: str | Sequence[str] | None = None,
) -> dict[str, Any]:
    """The documented "Allow CloudTrail to describe key" statement (``kms:DescribeKey``)."""
    st: dict[str, Any] = {
        "Sid": "Allow CloudTrail to describe key",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDTRAIL_SERVICE},
        "Action": "kms:DescribeKey",
        "Resource": "*",
    }
    source = _source_conditions(trail_arn, None)
    if source:
        st["Condition"] = {"StringEquals": source}
    return st


def cloudtrail_sns_statement(
    topic_arn: str,
    trail_arn: str | Sequence[str] | None = None,
    source_account: str | None = None,
) -> dict[str, Any]:
    """The documented topic-policy statement ``AWSCloudTrailSNSPolicy20150319``:
    ``SNS:Publish`` on the topic, with the recommended ``aws:SourceArn`` condition."""
    st: dict[str, Any] = {
        "Sid": "AWSCloudTrailSNSPolicy20150319",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDTRAIL_SERVICE},
        "Action": "SNS:Publish",
        "Resource": topic_arn,
    }
    source = _source_conditions(trail_arn, source_account)
    if source:
        st["Condition"] = {"StringEquals": source}
    return st


def cloudwatch_role_trust_policy() -> dict[str, Any]:
    """Trust policy of the CloudTrail -> CloudWatch Logs delivery role."""
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL_SERVICE},
                "Action": "sts:AssumeRole",
            }
        ]
    )


def cloudwatch_role_permissions(
    log_group_arn: str,
    account_id: str | None = None,
    region: str | None = None,
    org_id: str | None = None,
) -> dict[str, Any]:
    """Permissions policy of the delivery role (``CloudTrail_CloudWatchLogs_Role``):
    ``logs:CreateLogStream`` and ``logs:PutLogEvents`` on the group's
    ``<account>_CloudTrail_<region>*`` streams, plus ``<org-id>_*`` for an organization
    trail. ``log_group_arn`` may end in ``:*`` (as CloudTrail reports it); account and
    region default to the ARN's."""
    group = log_group_arn[:-2] if log_group_arn.endswith(":*") else log_group_arn
    parts = group.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("log-group:"):
        raise ValueError(f"not a log group ARN: {log_group_arn!r}")
    account = account_id or parts[4]
    reg = region or parts[3]
    resources = [f"{group}:log-stream:{account}_CloudTrail_{reg}*"]
    if org_id:
        resources.append(f"{group}:log-stream:{org_id}_*")
    return policy_document(
        [
            {
                "Sid": "AWSCloudTrailCreateLogStream2014110",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream"],
                "Resource": list(resources),
            },
            {
                "Sid": "AWSCloudTrailPutLogEvents20141101",
                "Effect": "Allow",
                "Action": ["logs:PutLogEvents"],
                "Resource": list(resources),
            },
        ]
    )


def cloudwatch_logs_key_statement(log_group_arn: str) -> dict[str, Any]:
    """The key-policy statement that lets CloudWatch Logs use a log group's key, restricted
    to that group, as the CloudWatch Logs User Guide documents it ("Encrypt log data in
    CloudWatch Logs using AWS Key Management Service", step 2): the service principal of
    the group's region, ``kms:Encrypt*``, ``kms:Decrypt*``, ``kms:ReEncrypt*``,
    ``kms:GenerateDataKey*``, ``kms:Describe*``, ``ArnEquals
    kms:EncryptionContext:aws:logs:arn`` = the group's ARN (AWS's sample has no Sid)."""
    group = log_group_arn[:-2] if log_group_arn.endswith(":*") else log_group_arn
    parts = group.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("log-group:"):
        raise ValueError(f"not a log group ARN: {log_group_arn!r}")
    return {
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{parts[3]}.amazonaws.com"},
        "Action": [
            "kms:Encrypt*",
            "kms:Decrypt*",
            "kms:ReEncrypt*",
            "kms:GenerateDataKey*",
            "kms:Describe*",
        ],
        "Resource": "*",
        "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group}},
    }
