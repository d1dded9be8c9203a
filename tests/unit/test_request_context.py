"""CloudTrail's delivery requests (core/judge/context.py), key by key, judged as AWS judges them.

Each key of the request context gets a policy that uses it, a case CloudTrail passes and a
case it does not, on the bucket, key and topic policies it applies to. Expected outcomes come
from the AWS pages docs/findings.md cites (IAM "AWS global condition context keys", the
CloudTrail User Guide's bucket, key and topic policy pages, the KMS Developer Guide's "How
AWS CloudTrail uses AWS KMS", the Control Tower User Guide's audit bucket policy), not from
running the code. A key AWS does not document for CloudTrail's requests must give "cannot
tell" (DIAGNOSTICS_INCOMPLETE), never a critical finding and never silence.

The landing-zone cases reproduce the shape (not the text) of an AWS Control Tower log-archive
bucket policy and of a security-account key policy, hardened with aws:SourceOrgID, TLS-only
and data-perimeter Denies.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from core.codes import Code
from core.fix.documents import Documents
from core.fix.plans import plans_for
from core.judge.context import (
    CLOUDTRAIL,
    Destination,
    delivery_context,
    kms_request,
    log_object_arn,
    s3_requests,
    sns_request,
)
from core.judge.facts import Destinations, Fact
from core.judge.policy import Outcome, evaluate
from core.judge.rootcause import root_causes
from core.model import Channel, Finding, Severity, TrailConfig, ViewKey

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
MGMT = "111111111111"
LOGS = "222222222222"
SEC = "333333333333"
MEMBER = "444444444444"
ORG = "o-a1b2c3d4e5"
OTHER_ORG = "o-zz9999zz99"
REGION = "us-east-1"
TRAIL = f"arn:aws:cloudtrail:{REGION}:{MGMT}:trail/main"
OTHER_TRAIL = f"arn:aws:cloudtrail:{REGION}:{MGMT}:trail/other"
BUCKET = "ct-logs"
KEY_ARN = f"arn:aws:kms:{REGION}:{MGMT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOPIC = f"arn:aws:sns:{REGION}:{MGMT}:ct-topic"
CT = {"Service": "cloudtrail.amazonaws.com"}
ACL = "bucket-owner-full-control"
VIEW = ViewKey(MGMT, REGION, TRAIL)
MEDIUM_OR_WORSE = {Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM}


def trail(**kw: Any) -> TrailConfig:
    base: dict[str, Any] = {
        "name": "main",
        "arn": TRAIL,
        "home_region": REGION,
        "multi_region": True,
        "s3_bucket": BUCKET,
    }
    base.update(kw)
    return TrailConfig(**base)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def codes(found: list[Finding]) -> list[str]:
    return sorted(f.code.value for f in found)


def serious(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.severity in MEDIUM_OR_WORSE]


# -- bucket ----------------------------------------------------------------------------------


def bucket_arn(bucket: str = BUCKET, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}"


def acl_check(cond: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    st: dict[str, Any] = {
        "Sid": "AclCheck",
        "Effect": "Allow",
        "Principal": CT,
        "Action": "s3:GetBucketAcl",
        "Resource": bucket_arn(),
    }
    if cond is not None:
        st["Condition"] = cond
    st.update(kw)
    return st


def write(
    cond: dict[str, Any] | None = None, path: str = f"AWSLogs/{MGMT}/*", **kw: Any
) -> dict[str, Any]:
    st: dict[str, Any] = {
        "Sid": "Write",
        "Effect": "Allow",
        "Principal": CT,
        "Action": "s3:PutObject",
        "Resource": f"{bucket_arn()}/{path}",
        "Condition": cond if cond is not None else {"StringEquals": {"s3:x-amz-acl": ACL}},
    }
    st.update(kw)
    return st


def deny(
    cond: dict[str, Any], action: str | list[str] = "s3:*", sid: str = "Guard"
) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": [bucket_arn(), f"{bucket_arn()}/*"],
        "Condition": cond,
    }


def on_bucket(policy: str | None, t: TrailConfig | None = None, **kw: Any) -> list[Finding]:
    t = t or trail()
    fact = Fact("bucket", t.s3_bucket or "", True, data={"policy": policy})
    return root_causes(t, kw.pop("view", VIEW), Destinations(bucket=fact), NOW, **kw)


HEALTHY_BUCKET = [acl_check(), write()]


def test_healthy_bucket_has_no_finding() -> None:
    assert on_bucket(doc(*HEALTHY_BUCKET)) == []


def test_service_principal_is_cloudtrail() -> None:
    config_only = write(Principal={"Service": "config.amazonaws.com"})
    assert codes(on_bucket(doc(acl_check(), config_only))) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    both = write(Principal={"Service": ["config.amazonaws.com", "cloudtrail.amazonaws.com"]})
    assert on_bucket(doc(acl_check(), both)) == []


# aws:PrincipalIsAWSService: true ("AWS global condition context keys", CloudTrail's example).
PERIMETER = {  # the IAM page's own example: expected network, or a service principal
    "StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-111bbb22"},
    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
}
NO_SERVICES = {"Bool": {"aws:PrincipalIsAWSService": "true"}}


def test_principal_is_aws_service_on_the_bucket() -> None:
    assert on_bucket(doc(*HEALTHY_BUCKET, deny(PERIMETER, "s3:PutObject"))) == []
    found = on_bucket(doc(*HEALTHY_BUCKET, deny(NO_SERVICES, "s3:PutObject")))
    assert codes(found) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    assert found[0].evidence["decision"] == "denied" and found[0].evidence["sid"] == "Guard"


# aws:PrincipalServiceName: cloudtrail.amazonaws.com (same page; CloudTrail is its example).
def test_principal_service_name_on_the_bucket() -> None:
    named = {"StringEquals": {"s3:x-amz-acl": ACL, "aws:PrincipalServiceName": CT["Service"]}}
    assert on_bucket(doc(acl_check(), write(named))) == []
    config = {
        "StringEquals": {"s3:x-amz-acl": ACL, "aws:PrincipalServiceName": "config.amazonaws.com"}
    }
    assert codes(on_bucket(doc(acl_check(), write(config)))) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    iam_example = {
        "StringNotEqualsIfExists": {
            "aws:SourceVpc": "vpc-111bbb22",
            "aws:PrincipalServiceName": CT["Service"],
        }
    }
    assert on_bucket(doc(*HEALTHY_BUCKET, deny(iam_example, "s3:PutObject"))) == []


# aws:SourceArn: the trail ARN ("Amazon S3 bucket policy for CloudTrail").
def test_source_arn_on_the_bucket() -> None:
    good = {"StringEquals": {"s3:x-amz-acl": ACL}, "ArnEquals": {"aws:SourceArn": TRAIL}}
    bad = {"StringEquals": {"s3:x-amz-acl": ACL}, "ArnEquals": {"aws:SourceArn": OTHER_TRAIL}}
    src = {"ArnEquals": {"aws:SourceArn": TRAIL}}
    assert on_bucket(doc(acl_check(src), write(good))) == []
    assert codes(on_bucket(doc(acl_check(src), write(bad)))) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    wrong_acl = acl_check({"ArnEquals": {"aws:SourceArn": OTHER_TRAIL}})
    assert codes(on_bucket(doc(wrong_acl, write(good)))) == ["S3_POLICY_ACL_CHECK_MISSING"]


# aws:SourceAccount: the trail's owner; for an organization trail the management account.
def test_source_account_on_the_bucket() -> None:
    mine = {"StringEquals": {"s3:x-amz-acl": ACL, "aws:SourceAccount": MGMT}}
    theirs = {"StringEquals": {"s3:x-amz-acl": ACL, "aws:SourceAccount": MEMBER}}
    assert on_bucket(doc(acl_check(), write(mine))) == []
    assert codes(on_bucket(doc(acl_check(), write(theirs)))) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    org = trail(organization_trail=True)
    member_view = ViewKey(MEMBER, "eu-west-1", TRAIL)
    org_write = write(mine, path=f"AWSLogs/{ORG}/*")
    # A member account's log files: still the management account's trail and account.
    assert on_bucket(doc(acl_check(), org_write), org, view=member_view, org_id=ORG) == []


# aws:SourceOrgID: the organization (Control Tower's audit bucket policy requires it).
def test_source_org_id_on_the_bucket() -> None:
    org = trail(organization_trail=True)
    in_org = {"StringEquals": {"s3:x-amz-acl": ACL, "aws:SourceOrgID": ORG}}
    other = {"StringEquals": {"s3:x-amz-acl": ACL, "aws:SourceOrgID": OTHER_ORG}}
    path = f"AWSLogs/{ORG}/*"
    assert on_bucket(doc(acl_check(), write(in_org, path)), org, org_id=ORG) == []
    found = on_bucket(doc(acl_check(), write(other, path)), org, org_id=ORG)
    assert codes(found) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    # A single-account trail of an account whose organization was read carries it too.
    assert on_bucket(doc(acl_check(), write(in_org)), org_id=ORG) == []


def test_source_org_id_not_read_is_cannot_tell() -> None:
    in_org = {"StringEquals": {"s3:x-amz-acl": ACL, "aws:SourceOrgID": ORG}}
    found = on_bucket(doc(acl_check(), write(in_org)))
    assert codes(found) == ["DIAGNOSTICS_INCOMPLETE"]
    assert "aws:SourceOrgID" in found[0].evidence["reason"]
    assert serious(found) == []


# aws:SourceOrgPaths: trailtop does not read the account's organizational unit path.
def test_source_org_paths_is_cannot_tell() -> None:
    paths = {"ForAnyValue:StringLike": {"aws:SourceOrgPaths": f"{ORG}/*"}}
    found = on_bucket(doc(acl_check(), write({**paths, "StringEquals": {"s3:x-amz-acl": ACL}})))
    assert codes(found) == ["DIAGNOSTICS_INCOMPLETE"]
    assert "aws:SourceOrgPaths" in found[0].evidence["reason"]
    # Another condition that is false decides without it.
    wrong = {**paths, "StringEquals": {"s3:x-amz-acl": "private"}}
    assert codes(on_bucket(doc(acl_check(), write(wrong)))) == ["S3_POLICY_DENIES_CLOUDTRAIL"]


# aws:SecureTransport: true for S3 writes (Control Tower's TLS-only Deny lets CloudTrail in).
TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}
PLAIN_ONLY = {"Bool": {"aws:SecureTransport": "true"}}


def test_secure_transport_on_the_bucket() -> None:
    assert on_bucket(doc(*HEALTHY_BUCKET, deny(TLS_ONLY))) == []
    found = on_bucket(doc(*HEALTHY_BUCKET, deny(PLAIN_ONLY)))
    assert codes(found) == ["S3_POLICY_ACL_CHECK_MISSING", "S3_POLICY_DENIES_CLOUDTRAIL"]


# s3:x-amz-acl: bucket-owner-full-control on writes; not part of the bucket ACL check.
def test_acl_header() -> None:
    private = write({"StringEquals": {"s3:x-amz-acl": "private"}})
    assert codes(on_bucket(doc(acl_check(), private))) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    # The ACL check is a bucket read: it carries no s3:x-amz-acl, so this grants nothing.
    acl_needs_header = acl_check({"StringEquals": {"s3:x-amz-acl": ACL}})
    assert codes(on_bucket(doc(acl_needs_header, write()))) == ["S3_POLICY_ACL_CHECK_MISSING"]


# s3:x-amz-server-side-encryption: aws:kms on log files of a trail with a key, AES256 on
# digest files ("Security best practices in AWS CloudTrail").
KMS_ONLY = {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}
KMS_OR_SSE_S3 = {"StringNotEquals": {"s3:x-amz-server-side-encryption": ["aws:kms", "AES256"]}}
NO_KMS = {"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}


def test_sse_header_of_a_trail_with_a_key() -> None:
    t = trail(kms_key_id=KEY_ARN)
    assert on_bucket(doc(*HEALTHY_BUCKET, deny(KMS_ONLY, "s3:PutObject")), t) == []
    found = on_bucket(doc(*HEALTHY_BUCKET, deny(NO_KMS, "s3:PutObject")), t)
    assert codes(found) == ["S3_POLICY_DENIES_CLOUDTRAIL"]


def test_sse_header_of_digest_files() -> None:
    t = trail(kms_key_id=KEY_ARN, log_file_validation=True)
    found = on_bucket(doc(*HEALTHY_BUCKET, deny(KMS_ONLY, "s3:PutObject")), t)
    assert codes(found) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    assert any("CloudTrail-Digest" in r for r in found[0].evidence["resources"])
    assert on_bucket(doc(*HEALTHY_BUCKET, deny(KMS_OR_SSE_S3, "s3:PutObject")), t) == []


def test_sse_header_of_a_trail_without_a_key_is_cannot_tell() -> None:
    found = on_bucket(doc(*HEALTHY_BUCKET, deny(KMS_ONLY, "s3:PutObject")))
    assert codes(found) == ["DIAGNOSTICS_INCOMPLETE"]
    assert "s3:x-amz-server-side-encryption" in found[0].evidence["reason"]


def test_sse_key_id_is_cannot_tell() -> None:
    t = trail(kms_key_id=KEY_ARN)
    key_only = {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN}}
    found = on_bucket(doc(*HEALTHY_BUCKET, deny(key_only, "s3:PutObject")), t)
    assert codes(found) == ["DIAGNOSTICS_INCOMPLETE"]
    assert serious(found) == []


# aws:PrincipalOrgID: absent for a service principal (the IAM page names CloudTrail).
def test_principal_org_id_on_the_bucket() -> None:
    org_identities = {
        "StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG},
        "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
    }
    assert on_bucket(doc(*HEALTHY_BUCKET, deny(org_identities)), org_id=ORG) == []
    org_only = {"StringNotEquals": {"aws:PrincipalOrgID": ORG}}
    found = on_bucket(doc(*HEALTHY_BUCKET, deny(org_only)))
    assert codes(found) == ["S3_POLICY_ACL_CHECK_MISSING", "S3_POLICY_DENIES_CLOUDTRAIL"]
    org_grant = write({"StringEquals": {"s3:x-amz-acl": ACL, "aws:PrincipalOrgID": ORG}})
    assert codes(on_bucket(doc(acl_check(), org_grant))) == ["S3_POLICY_DENIES_CLOUDTRAIL"]


# aws:SourceIp, aws:SourceVpc: AWS documents no network for a service principal's request.
@pytest.mark.parametrize(
    "network",
    [
        {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
        {"StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-111bbb22"}},
        {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
    ],
    ids=["SourceIp", "SourceVpc", "SourceVpce"],
)
def test_network_keys_are_cannot_tell(network: dict[str, Any]) -> None:
    found = on_bucket(doc(*HEALTHY_BUCKET, deny(network)))
    assert {f.code for f in found} == {Code.DIAGNOSTICS_INCOMPLETE}
    assert serious(found) == []
    # Excluding service principals, as AWS recommends, makes it decidable again.
    spared = {**network, "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}
    assert on_bucket(doc(*HEALTHY_BUCKET, deny(spared))) == []


def test_undocumented_key_is_cannot_tell() -> None:
    tls12 = {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    found = on_bucket(doc(*HEALTHY_BUCKET, deny(tls12)))
    assert {f.code for f in found} == {Code.DIAGNOSTICS_INCOMPLETE}
    assert "s3:TlsVersion" in found[0].evidence["reason"]


# -- organization trail paths ----------------------------------------------------------------


def test_org_trail_needs_only_the_organization_path() -> None:
    org = trail(organization_trail=True, s3_prefix="audit")
    org_path = write(path=f"audit/AWSLogs/{ORG}/*")
    assert on_bucket(doc(acl_check(), org_path), org, org_id=ORG) == []
    mgmt_path = write(path=f"audit/AWSLogs/{MGMT}/*")
    found = on_bucket(doc(acl_check(), mgmt_path), org, org_id=ORG)
    assert codes(found) == ["S3_POLICY_DENIES_CLOUDTRAIL"]
    missing = found[0].evidence["missing_statement"]
    assert [s["Sid"] for s in missing] == ["AWSCloudTrailOrganizationWrite20150319"]
    assert missing[0]["Resource"] == f"arn:aws:s3:::{BUCKET}/audit/AWSLogs/{ORG}/*"
    assert (
        found[0]
        .evidence["resources"][0]
        .startswith(f"arn:aws:s3:::{BUCKET}/audit/AWSLogs/{ORG}/{MGMT}/CloudTrail/{REGION}/")
    )


def test_org_trail_without_the_organization_id_is_cannot_tell() -> None:
    org = trail(organization_trail=True)
    found = on_bucket(doc(acl_check(), write(path=f"AWSLogs/{ORG}/*")), org)
    assert codes(found) == ["DIAGNOSTICS_INCOMPLETE"]
    assert "organization" in found[0].evidence["reason"]


def test_member_view_of_an_org_trail_writes_under_the_member() -> None:
    org = trail(organization_trail=True)
    member = ViewKey(MEMBER, "eu-west-1", TRAIL)
    found = s3_requests(org, member, ORG)
    assert found.writes[0].resource.startswith(
        f"arn:aws:s3:::{BUCKET}/AWSLogs/{ORG}/{MEMBER}/CloudTrail/eu-west-1/"
    )
    only_mgmt = write(path=f"AWSLogs/{ORG}/{MGMT}/*")
    assert on_bucket(doc(acl_check(), only_mgmt), org, org_id=ORG) == []
    assert codes(on_bucket(doc(acl_check(), only_mgmt), org, view=member, org_id=ORG)) == [
        "S3_POLICY_DENIES_CLOUDTRAIL"
    ]


# -- key -------------------------------------------------------------------------------------


ROOT = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{MGMT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def encrypt(cond: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    st: dict[str, Any] = {
        "Sid": "Encrypt",
        "Effect": "Allow",
        "Principal": CT,
        "Action": "kms:GenerateDataKey*",
        "Resource": "*",
        "Condition": cond
        if cond is not None
        else {
            "StringLike": {
                "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{MGMT}:trail/*"
            }
        },
    }
    st.update(kw)
    return st


def key_deny(cond: dict[str, Any], sid: str = "KeyGuard") -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
        "Condition": cond,
    }


def on_key(policy: str, t: TrailConfig | None = None, **kw: Any) -> list[Finding]:
    t = t or trail(kms_key_id=KEY_ARN)
    arn = t.kms_key_id or KEY_ARN
    meta = {"KeyId": arn.rsplit("/", 1)[-1], "Arn": arn, "KeyState": "Enabled"}
    fact = Fact("key", arn, True, data={"metadata": meta, "policy": policy})
    found = root_causes(t, kw.pop("view", VIEW), Destinations(key=fact), NOW, **kw)
    # These judge GenerateDataKey's context; the DescribeKey statement is judged in
    # tests/unit/test_settings_breaking.py.
    return [f for f in found if f.code != Code.KMS_POLICY_DESCRIBE_MISSING]


def test_healthy_key_has_no_finding() -> None:
    assert on_key(doc(ROOT, encrypt())) == []


def test_service_principal_on_the_key() -> None:
    assert codes(on_key(doc(ROOT, encrypt(Principal={"Service": "config.amazonaws.com"})))) == [
        "KMS_POLICY_DENIES_CLOUDTRAIL"
    ]


def test_principal_is_aws_service_on_the_key() -> None:
    outside = {
        "StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG},
        "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
    }
    assert on_key(doc(ROOT, encrypt(), key_deny(outside))) == []
    assert codes(on_key(doc(ROOT, encrypt(), key_deny(NO_SERVICES)))) == [
        "KMS_POLICY_DENIES_CLOUDTRAIL"
    ]


def test_principal_service_name_on_the_key() -> None:
    named = {"StringEquals": {"aws:PrincipalServiceName": CT["Service"]}}
    assert on_key(doc(ROOT, encrypt(named))) == []
    other = {"StringEquals": {"aws:PrincipalServiceName": "logs.amazonaws.com"}}
    assert codes(on_key(doc(ROOT, encrypt(other)))) == ["KMS_POLICY_DENIES_CLOUDTRAIL"]


def test_source_arn_and_account_on_the_key() -> None:
    assert on_key(doc(ROOT, encrypt({"StringEquals": {"aws:SourceArn": TRAIL}}))) == []
    assert on_key(doc(ROOT, encrypt({"StringEquals": {"aws:SourceAccount": MGMT}}))) == []
    for bad in ({"aws:SourceArn": OTHER_TRAIL}, {"aws:SourceAccount": MEMBER}):
        assert codes(on_key(doc(ROOT, encrypt({"StringEquals": bad})))) == [
            "KMS_POLICY_DENIES_CLOUDTRAIL"
        ]


def test_cloudtrail_encryption_context_on_the_key() -> None:
    exact = {"StringEquals": {"kms:EncryptionContext:aws:cloudtrail:arn": TRAIL}}
    assert on_key(doc(ROOT, encrypt(exact))) == []
    other_account = {
        "StringLike": {
            "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{MEMBER}:trail/*"
        }
    }
    assert codes(on_key(doc(ROOT, encrypt(other_account)))) == ["KMS_POLICY_DENIES_CLOUDTRAIL"]


def test_s3_encryption_context_on_the_key() -> None:
    # The log file the data key encrypts ("How AWS CloudTrail uses AWS KMS").
    ours = {"StringLike": {"kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{BUCKET}/AWSLogs/*"}}
    theirs = {"StringLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::elsewhere/*"}}
    assert on_key(doc(ROOT, encrypt(ours))) == []
    assert codes(on_key(doc(ROOT, encrypt(theirs)))) == ["KMS_POLICY_DENIES_CLOUDTRAIL"]


def test_other_encryption_context_pairs_are_absent() -> None:
    app = {"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}}
    assert codes(on_key(doc(ROOT, encrypt(app)))) == ["KMS_POLICY_DENIES_CLOUDTRAIL"]


def test_encryption_context_keys_on_the_key() -> None:
    both = {
        "ForAllValues:StringEquals": {
            "kms:EncryptionContextKeys": ["aws:cloudtrail:arn", "aws:s3:arn"]
        }
    }
    assert on_key(doc(ROOT, encrypt(both))) == []
    lambda_only = {
        "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "aws:lambda:FunctionArn"}
    }
    assert codes(on_key(doc(ROOT, encrypt(lambda_only)))) == ["KMS_POLICY_DENIES_CLOUDTRAIL"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("kms:CallerAccount", MGMT),
        ("kms:ViaService", f"s3.{REGION}.amazonaws.com"),
        ("aws:SourceOrgID", ORG),
        ("aws:SecureTransport", "true"),
    ],
)
def test_undocumented_key_conditions_on_the_key_are_cannot_tell(key: str, value: str) -> None:
    op = "Bool" if key == "aws:SecureTransport" else "StringEquals"
    found = on_key(doc(ROOT, encrypt({op: {key: value}})), org_id=ORG)
    assert codes(found) == ["DIAGNOSTICS_INCOMPLETE"]
    assert key in found[0].evidence["reason"]
    # A Deny on it that would apply: cannot tell either, never a critical.
    negated = "Bool" if key == "aws:SecureTransport" else "StringNotEquals"
    flipped = "false" if key == "aws:SecureTransport" else value
    found = on_key(doc(ROOT, encrypt(), key_deny({negated: {key: flipped}})), org_id=ORG)
    assert codes(found) == ["DIAGNOSTICS_INCOMPLETE"]


def test_principal_org_id_on_the_key() -> None:
    org_only = {"StringNotEquals": {"aws:PrincipalOrgID": ORG}}
    assert codes(on_key(doc(ROOT, encrypt(), key_deny(org_only)))) == [
        "KMS_POLICY_DENIES_CLOUDTRAIL"
    ]


# -- topic -----------------------------------------------------------------------------------


def publish(cond: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    st: dict[str, Any] = {
        "Sid": "Publish",
        "Effect": "Allow",
        "Principal": CT,
        "Action": "SNS:Publish",
        "Resource": TOPIC,
    }
    if cond is not None:
        st["Condition"] = cond
    st.update(kw)
    return st


def topic_deny(cond: dict[str, Any]) -> dict[str, Any]:
    return {
        "Sid": "TopicGuard",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "SNS:Publish",
        "Resource": TOPIC,
        "Condition": cond,
    }


def on_topic(policy: str, t: TrailConfig | None = None, **kw: Any) -> list[Finding]:
    t = t or trail(sns_topic_arn=TOPIC)
    fact = Fact("topic", t.sns_topic_arn or "", True, data={"policy": policy})
    return root_causes(t, VIEW, Destinations(topic=fact), NOW, **kw)


def test_topic_keys() -> None:
    assert on_topic(doc(publish())) == []
    assert on_topic(doc(publish({"ArnEquals": {"aws:SourceArn": TRAIL}}))) == []
    assert on_topic(doc(publish({"StringEquals": {"aws:SourceAccount": MGMT}}))) == []
    named = {"StringEquals": {"aws:PrincipalServiceName": CT["Service"]}}
    assert on_topic(doc(publish(named))) == []
    spare_services = {
        "StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG},
        "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
    }
    assert on_topic(doc(publish(), topic_deny(spare_services))) == []
    for bad in (
        publish({"ArnEquals": {"aws:SourceArn": OTHER_TRAIL}}),
        publish({"StringEquals": {"aws:SourceAccount": MEMBER}}),
        publish(Principal={"Service": "events.amazonaws.com"}),
    ):
        found = on_topic(doc(bad))
        assert codes(found) == ["SNS_POLICY_DENIES_CLOUDTRAIL"]
        assert found[0].severity is Severity.MEDIUM
    found = on_topic(doc(publish(), topic_deny(NO_SERVICES)))
    assert codes(found) == ["SNS_POLICY_DENIES_CLOUDTRAIL"]
    assert found[0].evidence["decision"] == "denied"


def test_topic_tls_and_org_conditions_are_cannot_tell() -> None:
    for cond in (TLS_ONLY, {"StringNotEquals": {"aws:SourceOrgID": ORG}}):
        found = on_topic(doc(publish(), topic_deny(cond)), org_id=ORG)
        assert codes(found) == ["DIAGNOSTICS_INCOMPLETE"]
        assert serious(found) == []


# -- partitions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("partition", "region"), [("aws-us-gov", "us-gov-west-1"), ("aws-cn", "cn-north-1")]
)
def test_partition_comes_from_the_trail_arn(partition: str, region: str) -> None:
    arn = f"arn:{partition}:cloudtrail:{region}:{MGMT}:trail/main"
    key_arn = f"arn:{partition}:kms:{region}:{MGMT}:key/1234abcd"
    topic = f"arn:{partition}:sns:{region}:{MGMT}:ct-topic"
    t = trail(arn=arn, home_region=region, kms_key_id=key_arn, sns_topic_arn=topic)
    view = ViewKey(MGMT, region, arn)
    base = f"arn:{partition}:s3:::{BUCKET}"
    ours = doc(
        acl_check(Resource=base, Condition={"ArnEquals": {"aws:SourceArn": arn}}),
        write(Resource=f"{base}/AWSLogs/{MGMT}/*"),
    )
    assert on_bucket(ours, t, view=view) == []
    # The same policy written for the commercial partition grants nothing here.
    commercial = doc(acl_check(), write())
    found = on_bucket(commercial, t, view=view)
    assert codes(found) == ["S3_POLICY_ACL_CHECK_MISSING", "S3_POLICY_DENIES_CLOUDTRAIL"]
    stmt = next(f for f in found if f.code is Code.S3_POLICY_DENIES_CLOUDTRAIL)
    assert stmt.evidence["missing_statement"][0]["Resource"] == f"{base}/AWSLogs/{MGMT}/*"
    assert all(
        r.startswith(f"{base}/AWSLogs/{MGMT}/CloudTrail/{region}/")
        for r in stmt.evidence["resources"]
    )

    enc = {
        "StringLike": {
            "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{partition}:cloudtrail:*:{MGMT}:trail/*",
            "kms:EncryptionContext:aws:s3:arn": f"{base}/*",
        }
    }
    assert on_key(doc(ROOT, encrypt(enc)), t, view=view) == []
    found = on_key(doc(ROOT, encrypt()), t, view=view)  # arn:aws:cloudtrail pattern
    assert codes(found) == ["KMS_POLICY_DENIES_CLOUDTRAIL"]
    pattern = found[0].evidence["missing_statement"]["Condition"]["StringLike"]
    assert pattern["kms:EncryptionContext:aws:cloudtrail:arn"] == (
        f"arn:{partition}:cloudtrail:*:{MGMT}:trail/*"
    )
    assert on_topic(doc(publish(Resource=topic)), t) == []

    request = kms_request(t, view, key_arn)
    assert request.context["kms:EncryptionContext:aws:s3:arn"].startswith(f"{base}/AWSLogs/")
    assert sns_request(t).context["aws:SourceArn"] == arn


@pytest.mark.parametrize(
    ("partition", "region"), [("aws-us-gov", "us-gov-west-1"), ("aws-cn", "cn-north-1")]
)
def test_plans_use_the_trail_partition(partition: str, region: str) -> None:
    arn = f"arn:{partition}:cloudtrail:{region}:{MGMT}:trail/main"
    key_arn = f"arn:{partition}:kms:{region}:{MGMT}:key/k"
    t = trail(arn=arn, home_region=region, kms_key_id=key_arn)
    view = ViewKey(MGMT, region, arn)
    finding = Finding(Code.S3_POLICY_DENIES_CLOUDTRAIL, Severity.CRITICAL, Channel.S3, "x", {})
    plans = plans_for(t, view, [finding], Documents(bucket_policy=None))
    policy = next(p for p in plans if p.id.startswith("s3-policy-"))
    added = json.loads(policy.after)["Statement"]
    assert {s["Resource"] for s in added} == {
        f"arn:{partition}:s3:::{BUCKET}",
        f"arn:{partition}:s3:::{BUCKET}/AWSLogs/{MGMT}/*",
    }
    key_finding = Finding(
        Code.KMS_POLICY_DENIES_CLOUDTRAIL, Severity.CRITICAL, Channel.KMS, "x", {}
    )
    meta = {"KeyId": "k", "Arn": t.kms_key_id, "KeyState": "Enabled"}
    kplans = plans_for(t, view, [key_finding], Documents(key_policy=doc(ROOT), key_metadata=meta))
    kpolicy = next(p for p in kplans if p.id.startswith("kms-policy-"))
    text = kpolicy.after
    assert (
        f"arn:{partition}:cloudtrail:*:{MGMT}:trail/*" in text and "arn:aws:cloudtrail" not in text
    )


# -- the request context itself --------------------------------------------------------------


def test_context_of_each_destination() -> None:
    t = trail(kms_key_id=KEY_ARN, sns_topic_arn=TOPIC, organization_trail=True)
    put = delivery_context(t, Destination.BUCKET, org_id=ORG, action="s3:PutObject")
    assert put["aws:SourceArn"] == TRAIL and put["aws:SourceAccount"] == MGMT
    assert put["aws:PrincipalIsAWSService"] == "true"
    assert put["aws:PrincipalServiceName"] == "cloudtrail.amazonaws.com"
    assert put["aws:SecureTransport"] == "true" and put["aws:SourceOrgID"] == ORG
    assert put["s3:x-amz-acl"] == ACL and put["s3:x-amz-server-side-encryption"] == "aws:kms"
    assert put.open_world and "aws:SourceIp" in put.unknown and "aws:PrincipalOrgID" in put.absent
    acl = delivery_context(t, Destination.BUCKET, org_id=ORG, action="s3:GetBucketAcl")
    assert "s3:x-amz-acl" not in acl and "s3:x-amz-acl" in acl.absent
    key = kms_request(t, VIEW, KEY_ARN, ORG).context
    assert key["kms:EncryptionContext:aws:cloudtrail:arn"] == TRAIL
    log = log_object_arn(t, MGMT, REGION, ORG)
    assert log is not None and key["kms:EncryptionContext:aws:s3:arn"] == log
    assert log.startswith(f"arn:aws:s3:::{BUCKET}/AWSLogs/{ORG}/{MGMT}/CloudTrail/{REGION}/")
    assert "aws:SourceOrgID" in key.unknown and "aws:SecureTransport" in key.unknown
    topic = sns_request(t, ORG).context
    assert "aws:SourceOrgID" not in topic and "aws:SourceOrgID" in topic.unknown
    decision = evaluate(
        doc(publish()), principal=CLOUDTRAIL, action="SNS:Publish", resource=TOPIC, context=topic
    )
    assert decision.outcome is Outcome.ALLOWED


# -- a landing zone: Control Tower style log archive, security-account key -------------------

LZ_BUCKET = f"aws-controltower-logs-{LOGS}-{REGION}"
LZ_TRAIL = f"arn:aws:cloudtrail:{REGION}:{MGMT}:trail/aws-controltower-BaselineCloudTrail"
LZ_KEY = f"arn:aws:kms:{REGION}:{SEC}:key/5678efgh-56ef-78gh-90ij-567890abcdef"


def lz_trail() -> TrailConfig:
    return TrailConfig(
        name="aws-controltower-BaselineCloudTrail",
        arn=LZ_TRAIL,
        home_region=REGION,
        multi_region=True,
        organization_trail=True,
        s3_bucket=LZ_BUCKET,
        s3_prefix=ORG,
        kms_key_id=LZ_KEY,
        log_file_validation=True,
    )


def lz_bucket_policy() -> dict[str, Any]:
    """The shape of a Control Tower log-archive bucket policy, with a data perimeter."""
    b = f"arn:aws:s3:::{LZ_BUCKET}"
    services = {"Service": ["cloudtrail.amazonaws.com", "config.amazonaws.com"]}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowSSLRequestsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [b, f"{b}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "AWSBucketPermissionsCheck",
                "Effect": "Allow",
                "Principal": services,
                "Action": "s3:GetBucketAcl",
                "Resource": [b],
            },
            {
                "Sid": "AWSConfigBucketExistenceCheck",
                "Effect": "Allow",
                "Principal": services,
                "Action": "s3:ListBucket",
                "Resource": [b],
            },
            {
                "Sid": "AWSBucketDeliveryForConfig",
                "Effect": "Allow",
                "Principal": {"Service": "config.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": [f"{b}/{ORG}/AWSLogs/*/*"],
                "Condition": {"StringEquals": {"aws:SourceOrgID": ORG}},
            },
            {
                "Sid": "AWSBucketDeliveryForOrganizationTrail",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": [f"{b}/{ORG}/AWSLogs/{ORG}/*"],
                "Condition": {"StringEquals": {"aws:SourceOrgID": ORG}},
            },
            {
                "Sid": "EnforceOrgIdentities",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [b, f"{b}/*"],
                "Condition": {
                    "StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG},
                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
                },
            },
            {
                "Sid": "EnforceConfusedDeputyProtection",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [b, f"{b}/*"],
                "Condition": {
                    "StringNotEqualsIfExists": {"aws:SourceOrgID": ORG},
                    "Null": {"aws:SourceAccount": "false"},
                    "Bool": {"aws:PrincipalIsAWSService": "true"},
                },
            },
        ],
    }


def lz_key_policy() -> dict[str, Any]:
    """A security-account key policy: encryption-context scoped, data perimeter."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SecurityAccountAdmin",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SEC}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AllowCloudTrailToEncryptLogs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceArn": LZ_TRAIL},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{MGMT}:trail/*",
                        "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{LZ_BUCKET}/{ORG}/AWSLogs/{ORG}/*",
                    },
                },
            },
            {
                "Sid": "AllowCloudTrailToDescribeKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
            },
            {
                "Sid": "AllowLogReadersToDecrypt",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{LOGS}:root"},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"Null": {"kms:EncryptionContext:aws:cloudtrail:arn": "false"}},
            },
            {
                "Sid": "DenyOutsideTheOrganization",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {
                    "StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG},
                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
                },
            },
        ],
    }


def landing_zone(
    bucket_policy: dict[str, Any], key_policy: dict[str, Any], view: ViewKey | None = None
) -> list[Finding]:
    t = lz_trail()
    meta = {"KeyId": LZ_KEY.rsplit("/", 1)[-1], "Arn": LZ_KEY, "KeyState": "Enabled"}
    dest = Destinations(
        bucket=Fact(
            "bucket",
            LZ_BUCKET,
            True,
            "owned by another account",
            foreign=True,
            data={"policy": json.dumps(bucket_policy)},
        ),
        key=Fact(
            "key",
            LZ_KEY,
            True,
            foreign=True,
            data={"metadata": meta, "policy": json.dumps(key_policy)},
        ),
    )
    return root_causes(t, view or ViewKey(MGMT, REGION, LZ_TRAIL), dest, NOW, ORG)


def test_landing_zone_healthy_has_nothing_to_report() -> None:
    for view in (ViewKey(MGMT, REGION, LZ_TRAIL), ViewKey(MEMBER, "eu-central-1", LZ_TRAIL)):
        found = landing_zone(lz_bucket_policy(), lz_key_policy(), view)
        assert serious(found) == [], [f.message for f in found]
        assert {f.code for f in found} <= {Code.MANAGED_ELSEWHERE}


def _statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


def _without(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    out = copy.deepcopy(policy)
    out["Statement"] = [s for s in out["Statement"] if s["Sid"] != sid]
    return out


def _bucket_breakages() -> list[tuple[str, dict[str, Any], list[str]]]:
    """(name, broken policy, the codes AWS's refusal maps to). A Deny on ``s3:*`` also
    refuses the ACL check, hence both codes for those."""
    deny = "S3_POLICY_DENIES_CLOUDTRAIL"
    acl = "S3_POLICY_ACL_CHECK_MISSING"
    out: list[tuple[str, dict[str, Any], list[str]]] = []
    write_sid = "AWSBucketDeliveryForOrganizationTrail"
    out.append(("no-trail-write", _without(lz_bucket_policy(), write_sid), [deny]))
    p = lz_bucket_policy()
    _statement(p, write_sid)["Condition"]["StringEquals"]["aws:SourceOrgID"] = OTHER_ORG
    out.append(("wrong-org", p, [deny]))
    p = lz_bucket_policy()
    _statement(p, write_sid)["Resource"] = [f"arn:aws:s3:::{LZ_BUCKET}/AWSLogs/{ORG}/*"]
    out.append(("prefix-lost", p, [deny]))
    p = lz_bucket_policy()
    del _statement(p, "EnforceOrgIdentities")["Condition"]["BoolIfExists"]
    out.append(("perimeter-without-service-exemption", p, [acl, deny]))
    p = lz_bucket_policy()
    guard = _statement(p, "EnforceConfusedDeputyProtection")["Condition"]
    guard["StringNotEqualsIfExists"]["aws:SourceOrgID"] = OTHER_ORG
    out.append(("confused-deputy-wrong-org", p, [acl, deny]))
    p = lz_bucket_policy()
    _statement(p, "AllowSSLRequestsOnly")["Condition"]["Bool"]["aws:SecureTransport"] = "true"
    out.append(("tls-deny-inverted", p, [acl, deny]))
    out.append(("no-acl-check", _without(lz_bucket_policy(), "AWSBucketPermissionsCheck"), [acl]))
    return out


@pytest.mark.parametrize(
    ("name", "policy", "expected"),
    _bucket_breakages(),
    ids=[n for n, _, _ in _bucket_breakages()],
)
def test_landing_zone_bucket_breakage(
    name: str, policy: dict[str, Any], expected: list[str]
) -> None:
    found = serious(landing_zone(policy, lz_key_policy()))
    assert codes(found) == expected, name
    for f in found:
        assert f.severity is (
            Severity.HIGH if f.code is Code.S3_POLICY_ACL_CHECK_MISSING else Severity.CRITICAL
        )


def _key_breakages() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    out.append(("no-encrypt", _without(lz_key_policy(), "AllowCloudTrailToEncryptLogs")))
    p = lz_key_policy()
    _statement(p, "AllowCloudTrailToEncryptLogs")["Condition"]["StringLike"][
        "kms:EncryptionContext:aws:cloudtrail:arn"
    ] = f"arn:aws:cloudtrail:*:{SEC}:trail/*"
    out.append(("context-for-another-account", p))
    p = lz_key_policy()
    _statement(p, "AllowCloudTrailToEncryptLogs")["Condition"]["StringLike"][
        "kms:EncryptionContext:aws:s3:arn"
    ] = f"arn:aws:s3:::another-bucket/{ORG}/AWSLogs/{ORG}/*"
    out.append(("context-for-another-bucket", p))
    p = lz_key_policy()
    _statement(p, "AllowCloudTrailToEncryptLogs")["Condition"]["StringEquals"]["aws:SourceArn"] = (
        f"arn:aws:cloudtrail:{REGION}:{MGMT}:trail/another"
    )
    out.append(("another-trail", p))
    p = lz_key_policy()
    del _statement(p, "DenyOutsideTheOrganization")["Condition"]["BoolIfExists"]
    out.append(("perimeter-without-service-exemption", p))
    return out


@pytest.mark.parametrize(("name", "policy"), _key_breakages(), ids=[n for n, _ in _key_breakages()])
def test_landing_zone_key_breakage(name: str, policy: dict[str, Any]) -> None:
    found = serious(landing_zone(lz_bucket_policy(), policy))
    expected = [Code.KMS_POLICY_DENIES_CLOUDTRAIL]
    if name == "perimeter-without-service-exemption":
        # The Deny is on kms:*: it refuses CloudTrail's DescribeKey too.
        expected.append(Code.KMS_POLICY_DESCRIBE_MISSING)
    assert [f.code for f in found] == expected, name
    assert found[0].severity is Severity.CRITICAL


def test_landing_zone_org_id_unknown_is_cannot_tell_not_critical() -> None:
    t = lz_trail()
    meta = {"KeyId": "k", "Arn": LZ_KEY, "KeyState": "Enabled"}
    dest = Destinations(
        bucket=Fact("bucket", LZ_BUCKET, True, data={"policy": json.dumps(lz_bucket_policy())}),
        key=Fact(
            "key", LZ_KEY, True, data={"metadata": meta, "policy": json.dumps(lz_key_policy())}
        ),
    )
    found = root_causes(t, ViewKey(MGMT, REGION, LZ_TRAIL), dest, NOW, None)
    assert serious(found) == []
    assert {f.code for f in found} == {Code.DIAGNOSTICS_INCOMPLETE}


def test_org_trail_without_the_organization_id_keeps_the_acl_statement() -> None:
    org = trail(organization_trail=True)
    found = on_bucket(doc(write(path=f"AWSLogs/{ORG}/*")), org)
    assert codes(found) == ["DIAGNOSTICS_INCOMPLETE", "S3_POLICY_ACL_CHECK_MISSING"]
    acl = next(f for f in found if f.code is Code.S3_POLICY_ACL_CHECK_MISSING)
    assert [s["Sid"] for s in acl.evidence["missing_statement"]] == [
        "AWSCloudTrailAclCheck20150319"
    ]
