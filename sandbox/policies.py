"""Policy documents the scenarios use: the ones AWS documents for CloudTrail, and variants.

Healthy variants are deliberately unusual-but-valid (wildcard SourceArn, extra statements,
key prefixes) so trailtop's policy reader is tested on more than the textbook shape.
"""

from __future__ import annotations

import json
from typing import Any

CT = {"Service": "cloudtrail.amazonaws.com"}


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def bucket_acl_statement(bucket: str, source_arn: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "AWSCloudTrailAclCheck",
        "Effect": "Allow",
        "Principal": CT,
        "Action": "s3:GetBucketAcl",
        "Resource": f"arn:aws:s3:::{bucket}",
    }
    if source_arn:
        statement["Condition"] = {"StringEquals": {"aws:SourceArn": source_arn}}
    return statement


def bucket_write_statement(
    bucket: str, prefix: str, log_ids: list[str], source_arn: str | None, *, like: bool = False
) -> dict[str, Any]:
    """The documented PutObject grant on ``[prefix/]AWSLogs/<id>/*`` for each id."""
    base = f"arn:aws:s3:::{bucket}/{prefix + '/' if prefix else ''}AWSLogs"
    resources = [f"{base}/{i}/*" for i in log_ids]
    condition: dict[str, Any] = {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}
    if source_arn:
        if like:
            condition["StringLike"] = {"aws:SourceArn": source_arn}
        else:
            condition["StringEquals"]["aws:SourceArn"] = source_arn
    return {
        "Sid": "AWSCloudTrailWrite",
        "Effect": "Allow",
        "Principal": CT,
        "Action": "s3:PutObject",
        "Resource": resources if len(resources) > 1 else resources[0],
        "Condition": condition,
    }


def bucket_policy(
    bucket: str,
    prefix: str,
    log_ids: list[str],
    source_arn: str | None,
    *,
    like: bool = False,
    extra: list[dict[str, Any]] | None = None,
) -> str:
    acl_source = None if like else source_arn
    return doc(
        bucket_acl_statement(bucket, acl_source),
        bucket_write_statement(bucket, prefix, log_ids, source_arn, like=like),
        *(extra or []),
    )


def deny_insecure_transport(bucket: str) -> dict[str, Any]:
    """A common extra statement that must not bother CloudTrail (it uses TLS)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def enforce_sse_kms(bucket: str) -> dict[str, Any]:
    """An 'encrypt everything with KMS' Deny: it also blocks CloudTrail's SSE-S3 writes."""
    return {
        "Sid": "DenyUnencryptedUploads",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    }


def key_policy(
    account: str, *, cloudtrail: bool = True, trail_account_pattern: str | None = None
) -> str:
    """Key policy: account root admin, plus CloudTrail's GenerateDataKey* if ``cloudtrail``."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "EnableRootAccess",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AllowDescribeKey",
            "Effect": "Allow",
            "Principal": CT,
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
    ]
    if cloudtrail:
        pattern = trail_account_pattern or f"arn:aws:cloudtrail:*:{account}:trail/*"
        statements.append(
            {
                "Sid": "AllowCloudTrailEncrypt",
                "Effect": "Allow",
                "Principal": CT,
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": pattern}},
            }
        )
    return doc(*statements)


def topic_policy(
    topic_arn: str, *, cloudtrail: bool = True, account: str = "", source_arn: str = ""
) -> str:
    """The owner manages the topic; CloudTrail may publish (for one trail with
    ``source_arn``, the documented ``AWS:SourceArn`` condition)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnerFullAccess",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:Subscribe"],
            "Resource": topic_arn,
        }
    ]
    if cloudtrail:
        statements.append(
            {
                "Sid": "AWSCloudTrailSNSPolicy",
                "Effect": "Allow",
                "Principal": CT,
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                **(
                    {"Condition": {"StringEquals": {"AWS:SourceArn": source_arn}}}
                    if source_arn
                    else {}
                ),
            }
        )
    return doc(*statements)


def trust_policy(service: str = "cloudtrail.amazonaws.com") -> str:
    return doc({"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"})


def logs_delivery_policy(region: str, account: str, group: str) -> str:
    arn = f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:*"
    return doc(
        {
            "Sid": "AWSCloudTrailCreateLogStream",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": arn,
        }
    )


# -- landing zone: the hardened shapes Control Tower / Landing Zone Accelerator deploy -------


def lz_bucket_policy(
    bucket: str,
    org_id: str,
    prefix: str,
    management: str,
    reader: str,
    *,
    org_write: bool = True,
    service_exemption: bool = True,
) -> str:
    """The log-archive bucket of an organization trail, hardened.

    TLS-only Deny and the ACL check / existence check / org-trail write grants as Control
    Tower's audit bucket policy has them (writes conditioned on aws:SourceOrgID), the write
    also pinned to the management account's trails (aws:SourceArn), a data-perimeter Deny
    for principals outside the organization that exempts AWS services, and read access for
    the security account. ``org_write=False`` drops the write grant; ``service_exemption=
    False`` drops the exemption, so the perimeter Deny also catches CloudTrail.
    """
    bucket_arn = f"arn:aws:s3:::{bucket}"
    both = [bucket_arn, f"{bucket_arn}/*"]
    services = {"Service": ["cloudtrail.amazonaws.com", "config.amazonaws.com"]}
    perimeter: dict[str, Any] = {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": org_id}}
    if service_exemption:
        perimeter["BoolIfExists"] = {"aws:PrincipalIsAWSService": "false"}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AllowSSLRequestsOnly",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": both,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOutsideOrganization",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": both,
            "Condition": perimeter,
        },
        {
            "Sid": "AWSBucketPermissionsCheck",
            "Effect": "Allow",
            "Principal": services,
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"aws:SourceOrgID": org_id}},
        },
        {
            "Sid": "AWSConfigBucketExistenceCheck",
            "Effect": "Allow",
            "Principal": services,
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
        },
    ]
    if org_write:
        statements.append(
            {
                "Sid": "AWSBucketDeliveryForOrganizationTrail",
                "Effect": "Allow",
                "Principal": CT,
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/{prefix + '/' if prefix else ''}AWSLogs/{org_id}/*",
                "Condition": {
                    "StringEquals": {
                        "aws:SourceOrgID": org_id,
                        "s3:x-amz-acl": "bucket-owner-full-control",
                    },
                    "ArnLike": {"aws:SourceArn": f"arn:aws:cloudtrail:*:{management}:trail/*"},
                },
            }
        )
    statements.append(
        {
            "Sid": "SecurityAccountRead",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{reader}:root"},
            "Action": [
                "s3:GetBucketAcl",
                "s3:GetBucketLocation",
                "s3:GetBucketPolicy",
                "s3:GetBucketPolicyStatus",
                "s3:ListBucket",
                "s3:GetObject",
            ],
            "Resource": both,
        }
    )
    return doc(*statements)


def lz_key_policy(owner: str, management: str, log_archive: str, *, trail_account: str = "") -> str:
    """The organization trail's key in the security account.

    CloudTrail may GenerateDataKey* for the management account's trails (the encryption
    context names the trail; aws:SourceAccount is the management account for an
    organization trail) and DescribeKey; the log-archive account may decrypt log files and
    describe the key. ``trail_account`` replaces the management account in the encryption
    context condition (a wrong account breaks delivery).
    """
    trails = f"arn:aws:cloudtrail:*:{trail_account or management}:trail/*"
    return doc(
        {
            "Sid": "EnableIAMUserPermissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{owner}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AllowCloudTrailToEncryptLogs",
            "Effect": "Allow",
            "Principal": CT,
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails},
                "StringEquals": {"aws:SourceAccount": trail_account or management},
            },
        },
        {
            "Sid": "AllowCloudTrailToDescribeKey",
            "Effect": "Allow",
            "Principal": CT,
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
        {
            "Sid": "AllowLogArchiveToDecryptLogs",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{log_archive}:root"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"Null": {"kms:EncryptionContext:aws:cloudtrail:arn": "false"}},
        },
        {
            "Sid": "AllowLogArchiveToDescribeKey",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{log_archive}:root"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
    )


def lz_topic_policy(
    topic_arn: str, account: str, trail_arn: str, *, cloudtrail: bool = True
) -> str:
    """The trail's notification topic: the owner manages it, CloudTrail publishes for one trail."""
    return topic_policy(topic_arn, cloudtrail=cloudtrail, account=account, source_arn=trail_arn)


def lz_logs_delivery_policy(group: str) -> str:
    """CreateLogStream/PutLogEvents on the trail's log group in any region, as Control
    Tower's CloudTrail role policy grants them."""
    arn = f"arn:aws:logs:*:*:log-group:{group}*:*"
    return doc(
        {"Effect": "Allow", "Action": "logs:CreateLogStream", "Resource": arn},
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": arn},
    )
