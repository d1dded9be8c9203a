"""Shared cases of the remediation-plan tests (tests/unit/test_fix_*.py): one trail, its
destinations, and policies as AWS returns them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from core.codes import Code
from core.fix.documents import Documents, canonical
from core.fix.model import ApiCall, Plan
from core.judge.policy import Outcome, Principal, evaluate
from core.model import Channel, Finding, Severity, TrailConfig, ViewKey

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
ACCT = "111111111111"
OTHER = "222222222222"
ORG = "o-aa111bb222"
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/main"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCT}:key/{KEY_ID}"
TOPIC = f"arn:aws:sns:us-east-1:{ACCT}:ct-topic"
GROUP = f"arn:aws:logs:us-east-1:{ACCT}:log-group:ct-group:*"
ROLE = f"arn:aws:iam::{ACCT}:role/ct-cw"
CT = {"Service": "cloudtrail.amazonaws.com"}
CLOUDTRAIL = Principal.service_("cloudtrail.amazonaws.com")
VIEW = ViewKey(ACCT, "eu-west-1", ARN)
HOME_VIEW = ViewKey(ACCT, "us-east-1", ARN)


def trail(**kw: Any) -> TrailConfig:
    raw: dict[str, Any] = {
        "Name": "main",
        "TrailARN": ARN,
        "HomeRegion": "us-east-1",
        "S3BucketName": "ct-logs",
        "IsMultiRegionTrail": True,
    }
    raw.update(kw)
    return TrailConfig.from_describe(raw)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ACL_STMT = {
    "Sid": "AWSCloudTrailAclCheck20150319",
    "Effect": "Allow",
    "Principal": CT,
    "Action": "s3:GetBucketAcl",
    "Resource": "arn:aws:s3:::ct-logs",
    "Condition": {"StringEquals": {"aws:SourceArn": ARN}},
}


WRITE_STMT = {
    "Sid": "AWSCloudTrailWrite20150319",
    "Effect": "Allow",
    "Principal": CT,
    "Action": "s3:PutObject",
    "Resource": f"arn:aws:s3:::ct-logs/AWSLogs/{ACCT}/*",
    "Condition": {
        "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": ARN}
    },
}


READER = {
    "Sid": "AuditorsRead",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
    "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": ["arn:aws:s3:::ct-logs", "arn:aws:s3:::ct-logs/*"],
}


TLS_DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::ct-logs", "arn:aws:s3:::ct-logs/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


SSE_DENY = {
    "Sid": "DenyUnencryptedUploads",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:PutObject",
    "Resource": "arn:aws:s3:::ct-logs/*",
    "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
}


def ctx(t: TrailConfig, **extra: str) -> dict[str, str]:
    return {"aws:SourceArn": t.arn, "aws:SourceAccount": t.owner_account, **extra}


def s3_put_allowed(policy: str, t: TrailConfig, ident: str = ACCT, prefix: str = "") -> Outcome:
    p = f"{prefix}/" if prefix else ""
    return evaluate(
        policy,
        principal=CLOUDTRAIL,
        action="s3:PutObject",
        resource=f"arn:aws:s3:::ct-logs/{p}AWSLogs/{ident}/CloudTrail/eu-west-1/f.json.gz",
        context=ctx(t, **{"s3:x-amz-acl": "bucket-owner-full-control"}),
    ).outcome


def s3_acl_allowed(policy: str, t: TrailConfig) -> Outcome:
    return evaluate(
        policy,
        principal=CLOUDTRAIL,
        action="s3:GetBucketAcl",
        resource="arn:aws:s3:::ct-logs",
        context=ctx(t),
    ).outcome


def finding(code: str, **evidence: Any) -> Finding:
    return Finding(Code(code), Severity.CRITICAL, Channel.S3, code, evidence)


def statements(text: str) -> list[dict[str, Any]]:
    return list(json.loads(text)["Statement"])


def assert_kept(before: str, after: str) -> list[dict[str, Any]]:
    """Every statement of ``before`` is in ``after``, unchanged; returns the added ones."""
    old = [canonical(s) for s in statements(before)]
    new = [canonical(s) for s in statements(after)]
    for s in old:
        assert s in new, f"statement removed or altered:\n{s}"
    assert len(new) >= len(old)
    remaining = list(new)
    for s in old:
        remaining.remove(s)
    return [json.loads(s) for s in remaining]


def assert_additions_only(diff: str) -> None:
    assert diff, "empty diff"
    for line in diff.splitlines():
        if line.startswith(("---", "+++", "@@")):
            continue
        assert not line.startswith("-"), f"diff removes a line: {line!r}"
    assert any(line.startswith("+") and not line.startswith("+++") for line in diff.splitlines())


def only(plans: list[Plan], prefix: str) -> Plan:
    found = [p for p in plans if p.id.startswith(prefix + "-")]
    assert len(found) == 1, [p.id for p in plans]
    return found[0]


def sent_doc(call: ApiCall, name: str) -> str:
    return canonical(call.params[name])


def kms_trail() -> TrailConfig:
    return trail(KmsKeyId=KEY_ARN)


def key_meta(state: str) -> dict[str, Any]:
    return {"KeyId": KEY_ID, "Arn": KEY_ARN, "KeyState": state}


ROOT_ADMIN = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def sns_trail() -> TrailConfig:
    return trail(SnsTopicARN=TOPIC)


OWNER = {
    "Sid": "OwnerFullAccess",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
    "Action": ["SNS:GetTopicAttributes", "SNS:Subscribe"],
    "Resource": TOPIC,
}


def cw_trail() -> TrailConfig:
    return trail(CloudWatchLogsLogGroupArn=GROUP, CloudWatchLogsRoleArn=ROLE)


EC2_TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "ec2.amazonaws.com"},
    "Action": "sts:AssumeRole",
}


def stream_allowed(policy: str, action: str) -> Outcome:
    return evaluate(
        policy,
        principal=Principal.aws_(ROLE),
        action=action,
        resource=(
            f"arn:aws:logs:us-east-1:{ACCT}:log-group:ct-group:log-stream:"
            f"{ACCT}_CloudTrail_us-east-1"
        ),
        identity_policy=True,
    ).outcome


ALL_FINDINGS = [
    finding(c)
    for c in (
        "LOGGING_STOPPED",
        "S3_POLICY_DENIES_CLOUDTRAIL",
        "KMS_KEY_DISABLED",
        "KMS_POLICY_DENIES_CLOUDTRAIL",
        "SNS_POLICY_DENIES_CLOUDTRAIL",
        "CLOUDWATCH_LOG_GROUP_MISSING",
        "CLOUDWATCH_ROLE_TRUST_INVALID",
        "CLOUDWATCH_ROLE_PERMISSIONS_MISSING",
    )
]


def everything() -> TrailConfig:
    return trail(
        KmsKeyId=KEY_ARN,
        SnsTopicARN=TOPIC,
        CloudWatchLogsLogGroupArn=GROUP,
        CloudWatchLogsRoleArn=ROLE,
    )


def all_docs() -> Documents:
    return Documents(
        bucket_policy=doc(ACL_STMT),
        key_policy=doc(ROOT_ADMIN),
        key_metadata=key_meta("Disabled"),
        topic_policy=doc(OWNER),
        role_trust={"Version": "2012-10-17", "Statement": [EC2_TRUST]},
    )
