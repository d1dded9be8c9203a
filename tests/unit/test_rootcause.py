"""Root causes from destination facts: pure, with policy documents as AWS documents them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from core.judge.facts import Destinations, Fact
from core.judge.rootcause import root_causes
from core.model import Finding, TrailConfig, ViewKey

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
ACCT = "111111111111"
ORG = "o-aa111bb222"
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/main"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC = f"arn:aws:sns:us-east-1:{ACCT}:ct-topic"
GROUP = f"arn:aws:logs:us-east-1:{ACCT}:log-group:ct-group:*"
ROLE = f"arn:aws:iam::{ACCT}:role/ct-cw"


def trail(**kw: object) -> TrailConfig:
    raw = {
        "Name": "main",
        "TrailARN": ARN,
        "HomeRegion": "us-east-1",
        "S3BucketName": "ct-logs",
        "IsMultiRegionTrail": True,
    }
    raw.update(kw)
    return TrailConfig.from_describe(raw)


KEY = ViewKey(ACCT, "eu-west-1", ARN)


def bucket_policy(
    prefix: str = "",
    source_arn: object = ARN,
    op: str = "StringEquals",
    extra: list[dict[str, Any]] | None = None,
) -> str:
    """The bucket policy from the CloudTrail User Guide (single account)."""
    p = f"{prefix}/" if prefix else ""
    stmts = [
        {
            "Sid": "AWSCloudTrailAclCheck20150319",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": "arn:aws:s3:::ct-logs",
            "Condition": {op: {"aws:SourceArn": source_arn}},
        },
        {
            "Sid": "AWSCloudTrailWrite20150319",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::ct-logs/{p}AWSLogs/{ACCT}/*",
            "Condition": {
                "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"},
                op: {"aws:SourceArn": source_arn},
            },
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": stmts + (extra or [])})


def codes(findings: list[Finding]) -> list[str]:
    return sorted(f.code for f in findings)


def bucket(policy: str | None, **kw: object) -> Fact:
    return Fact("bucket", "ct-logs", True, data={"policy": policy}, **kw)  # type: ignore[arg-type]


def test_documented_bucket_policy_has_no_finding() -> None:
    assert root_causes(trail(), KEY, Destinations(bucket=bucket(bucket_policy())), NOW) == []


@pytest.mark.parametrize(
    "policy",
    [
        bucket_policy(source_arn=f"arn:aws:cloudtrail:*:{ACCT}:trail/*", op="StringLike"),
        bucket_policy(source_arn=f"arn:aws:cloudtrail:*:{ACCT}:trail/*", op="ArnLike"),
        bucket_policy(
            extra=[
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::ct-logs", "arn:aws:s3:::ct-logs/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ]
        ),
    ],
    ids=["wildcard-sourcearn", "arnlike", "extra-deny-insecure-transport"],
)
def test_unusual_but_valid_bucket_policies_have_no_finding(policy: str) -> None:
    # A Deny on aws:SecureTransport=false must not trip: CloudTrail writes to S3 over TLS
    # (AWS Control Tower's log bucket denies every non-TLS request and receives its logs).
    assert root_causes(trail(), KEY, Destinations(bucket=bucket(policy)), NOW) == []


def test_prefix_must_match() -> None:
    t = trail(S3KeyPrefix="prod")
    assert root_causes(t, KEY, Destinations(bucket=bucket(bucket_policy("prod"))), NOW) == []
    found = root_causes(t, KEY, Destinations(bucket=bucket(bucket_policy("staging"))), NOW)
    assert codes(found) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    assert (
        found[0].evidence["missing_statement"][0]["Resource"]
        == f"arn:aws:s3:::ct-logs/prod/AWSLogs/{ACCT}/*"
    )


def test_wrong_trail_in_source_arn_denies_and_acl_check_too() -> None:
    other = f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/other"
    found = root_causes(
        trail(), KEY, Destinations(bucket=bucket(bucket_policy(source_arn=other))), NOW
    )
    assert codes(found) == ["S3_POLICY_ACL_CHECK_MISSING", "S3_POLICY_DENIES_CLOUDTRAIL"]


def test_explicit_deny_names_the_statement() -> None:
    deny = {
        "Sid": "NoWritesFromServices",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::ct-logs/*",
    }
    found = root_causes(trail(), KEY, Destinations(bucket=bucket(bucket_policy(extra=[deny]))), NOW)
    assert codes(found) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    ev = found[0].evidence
    assert ev["decision"] == "denied" and ev["sid"] == "NoWritesFromServices"
    assert ev["deciding_statement"] == deny


def test_no_policy_at_all_is_not_granted() -> None:
    assert codes(root_causes(trail(), KEY, Destinations(bucket=bucket(None)), NOW)) == [
        "S3_POLICY_ACL_CHECK_MISSING",
        "S3_POLICY_DENIES_CLOUDTRAIL",
    ]


def test_missing_bucket() -> None:
    found = root_causes(
        trail(), KEY, Destinations(bucket=Fact("bucket", "ct-logs", False, "NoSuchBucket")), NOW
    )
    assert codes(found) == ["S3_BUCKET_MISSING"]


def test_unreadable_bucket_is_incomplete_never_a_guess() -> None:
    fact = Fact("bucket", "ct-logs", None, "access denied: AccessDenied")
    found = root_causes(trail(), KEY, Destinations(bucket=fact), NOW)
    assert codes(found) == ["DIAGNOSTICS_INCOMPLETE"]
    assert "AccessDenied" in found[0].evidence["reason"]


def test_cross_account_bucket_is_managed_elsewhere() -> None:
    fact = Fact(
        "bucket", "ct-logs", True, "owned by another account; policy not readable", foreign=True
    )
    assert codes(root_causes(trail(), KEY, Destinations(bucket=fact), NOW)) == ["MANAGED_ELSEWHERE"]


def test_org_trail_bucket_needs_org_path() -> None:
    t = trail(IsOrganizationTrail=True)
    # Grants only the account path: the org path AWSLogs/<org-id>/<acct>/ is not covered.
    found = root_causes(t, KEY, Destinations(bucket=bucket(bucket_policy())), NOW, org_id=ORG)
    assert codes(found) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    org_stmt = {
        "Sid": "AWSCloudTrailOrganizationWrite20150319",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::ct-logs/AWSLogs/{ORG}/*",
        "Condition": {
            "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": ARN}
        },
    }
    ok = root_causes(
        t, KEY, Destinations(bucket=bucket(bucket_policy(extra=[org_stmt]))), NOW, org_id=ORG
    )
    assert ok == []


def key_policy(ctx_value: str = f"arn:aws:cloudtrail:*:{ACCT}:trail/*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "Allow CloudTrail to encrypt logs",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "kms:GenerateDataKey*",
                    "Resource": "*",
                    "Condition": {
                        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": ctx_value}
                    },
                },
                {
                    "Sid": "Allow CloudTrail to describe key",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "kms:DescribeKey",
                    "Resource": "*",
                },
            ],
        }
    )


def key_fact(state: str = "Enabled", policy: str | None = None, **meta: object) -> Fact:
    md = {"KeyId": "1234abcd", "Arn": KEY_ARN, "KeyState": state, **meta}
    return Fact("key", KEY_ARN, True, data={"metadata": md, "policy": policy or key_policy()})


def test_healthy_key() -> None:
    assert root_causes(trail(KmsKeyId=KEY_ARN), KEY, Destinations(key=key_fact()), NOW) == []


def test_disabled_and_pending_deletion_keys() -> None:
    t = trail(KmsKeyId=KEY_ARN)
    assert codes(root_causes(t, KEY, Destinations(key=key_fact("Disabled")), NOW)) == [
        "KMS_KEY_DISABLED"
    ]
    when = datetime(2026, 12, 4, tzinfo=UTC)
    found = root_causes(
        t, KEY, Destinations(key=key_fact("PendingDeletion", DeletionDate=when)), NOW
    )
    assert codes(found) == ["KMS_KEY_PENDING_DELETION"]
    assert "2026-12-04" in found[0].message
    missing = Fact("key", KEY_ARN, False, "NotFoundException")
    assert codes(root_causes(t, KEY, Destinations(key=missing), NOW)) == ["KMS_KEY_MISSING"]


def test_key_policy_for_another_account_denies() -> None:
    t = trail(KmsKeyId=KEY_ARN)
    bad = key_policy("arn:aws:cloudtrail:*:999999999999:trail/*")
    assert codes(root_causes(t, KEY, Destinations(key=key_fact(policy=bad)), NOW)) == [
        "KMS_POLICY_DENIES_CLOUDTRAIL"
    ]


def topic_fact(policy: dict[str, Any] | None) -> Fact:
    return Fact("topic", TOPIC, True, data={"policy": json.dumps(policy) if policy else None})


def test_sns_topic_policy() -> None:
    t = trail(SnsTopicARN=TOPIC)
    good = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailSNSPolicy20131101",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": TOPIC,
                "Condition": {"StringEquals": {"aws:SourceArn": ARN}},
            }
        ],
    }
    assert root_causes(t, KEY, Destinations(topic=topic_fact(good)), NOW) == []
    owner_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "SNS:Publish",
                "Resource": TOPIC,
                "Condition": {"StringEquals": {"AWS:SourceOwner": ACCT}},
            }
        ],
    }
    # The default topic statement lets anyone publish when AWS:SourceOwner is the account:
    # AWS does not document that key for CloudTrail's publishes, so trailtop cannot tell.
    found = root_causes(t, KEY, Destinations(topic=topic_fact(owner_only)), NOW)
    assert codes(found) == ["DIAGNOSTICS_INCOMPLETE"]
    assert "AWS:SourceOwner" in found[0].evidence["reason"]
    account_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
                "Action": "SNS:Publish",
                "Resource": TOPIC,
            }
        ],
    }
    # The account's own principals may publish, not the CloudTrail service.
    assert codes(root_causes(t, KEY, Destinations(topic=topic_fact(account_only)), NOW)) == [
        "SNS_POLICY_DENIES_CLOUDTRAIL"
    ]
    assert codes(root_causes(t, KEY, Destinations(topic=Fact("topic", TOPIC, False)), NOW)) == [
        "SNS_TOPIC_MISSING"
    ]


TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
PERMS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AWSCloudTrailCreateLogStream2014110",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream"],
            "Resource": [
                f"arn:aws:logs:us-east-1:{ACCT}:log-group:ct-group:log-stream:{ACCT}_CloudTrail_us-east-1*"
            ],
        },
        {
            "Sid": "AWSCloudTrailPutLogEvents20141101",
            "Effect": "Allow",
            "Action": ["logs:PutLogEvents"],
            "Resource": [
                f"arn:aws:logs:us-east-1:{ACCT}:log-group:ct-group:log-stream:{ACCT}_CloudTrail_us-east-1*"
            ],
        },
    ],
}


def cw(
    trust: dict[str, Any] | None = TRUST,
    policies: list[dict[str, Any]] | None = None,
    group: bool = True,
) -> Destinations:
    return Destinations(
        log_group=Fact("log_group", GROUP, group),
        role=Fact(
            "role",
            ROLE,
            True,
            data={"trust": trust, "policies": [PERMS] if policies is None else policies},
        ),
    )


def test_cloudwatch_healthy_and_each_cause() -> None:
    t = trail(CloudWatchLogsLogGroupArn=GROUP, CloudWatchLogsRoleArn=ROLE)
    assert root_causes(t, KEY, cw(), NOW) == []
    assert codes(root_causes(t, KEY, cw(group=False), NOW)) == ["CLOUDWATCH_LOG_GROUP_MISSING"]
    ec2_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    assert codes(root_causes(t, KEY, cw(trust=ec2_trust), NOW)) == ["CLOUDWATCH_ROLE_TRUST_INVALID"]
    found = root_causes(t, KEY, cw(policies=[]), NOW)
    assert codes(found) == ["CLOUDWATCH_ROLE_PERMISSIONS_MISSING"]
    assert found[0].evidence["missing_actions"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    gone = Destinations(log_group=Fact("log_group", GROUP, True), role=Fact("role", ROLE, False))
    assert codes(root_causes(t, KEY, gone, NOW)) == ["CLOUDWATCH_ROLE_MISSING"]


def test_cloudwatch_stream_in_the_trail_partition() -> None:
    gov = f"arn:aws-us-gov:cloudtrail:us-gov-west-1:{ACCT}:trail/main"
    group = f"arn:aws-us-gov:logs:us-gov-west-1:{ACCT}:log-group:ct-group:*"
    role = f"arn:aws-us-gov:iam::{ACCT}:role/ct-cw"
    t = trail(
        TrailARN=gov,
        HomeRegion="us-gov-west-1",
        CloudWatchLogsLogGroupArn=group,
        CloudWatchLogsRoleArn=role,
    )
    gov_text = json.dumps(PERMS).replace(
        "arn:aws:logs:us-east-1", "arn:aws-us-gov:logs:us-gov-west-1"
    )
    perms = json.loads(gov_text.replace("CloudTrail_us-east-1", "CloudTrail_us-gov-west-1"))
    view = ViewKey(ACCT, "us-gov-west-1", gov)
    dest = Destinations(
        log_group=Fact("log_group", group, True),
        role=Fact("role", role, True, data={"trust": TRUST, "policies": [perms]}),
    )
    assert root_causes(t, view, dest, NOW) == []
    found = root_causes(t, view, cw(), NOW)  # commercial-partition permissions
    assert codes(found) == ["CLOUDWATCH_ROLE_PERMISSIONS_MISSING"]
    assert found[0].evidence["resource"].startswith("arn:aws-us-gov:logs:us-gov-west-1:")


def test_unknown_condition_operator_is_incomplete_not_ok() -> None:
    weird = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": ["s3:PutObject", "s3:GetBucketAcl"],
                    "Resource": ["arn:aws:s3:::ct-logs", "arn:aws:s3:::ct-logs/*"],
                    "Condition": {"StringFancyMatch": {"aws:SourceArn": ARN}},
                }
            ],
        }
    )
    found = root_causes(trail(), KEY, Destinations(bucket=bucket(weird)), NOW)
    assert {f.code for f in found} == {"DIAGNOSTICS_INCOMPLETE"}


def test_an_unreadable_key_policy_is_said_not_silent() -> None:
    """The key was described but GetKeyPolicy failed: never silence."""
    t = trail(KmsKeyId="arn:aws:kms:us-west-2:999999999999:key/abc")
    fact = Fact(
        "key",
        "arn:aws:kms:us-west-2:999999999999:key/abc",
        True,
        "access denied: AccessDeniedException on GetKeyPolicy",
        data={
            "metadata": {
                "KeyState": "Enabled",
                "Arn": "arn:aws:kms:us-west-2:999999999999:key/abc",
            },
            "policy_error": "access denied: AccessDeniedException on GetKeyPolicy",
        },
    )
    found = root_causes(t, KEY, Destinations(key=fact), NOW)
    assert [f.code for f in found] == ["DIAGNOSTICS_INCOMPLETE"]
    assert "GetKeyPolicy" in found[0].evidence["reason"]
