"""The sandbox's own policy evaluator (pure): the statement shapes CloudTrail destinations use."""

from __future__ import annotations

import pytest

from sandbox.policies import (
    bucket_policy,
    deny_insecure_transport,
    enforce_sse_kms,
    key_policy,
    lz_bucket_policy,
    lz_key_policy,
)
from sandbox.policy_check import allows_any, evaluate, principal_names

CT = "cloudtrail.amazonaws.com"
TRAIL = "arn:aws:cloudtrail:us-east-1:111111111111:trail/main"
PUT = {
    "aws:SourceArn": TRAIL,
    "aws:SourceAccount": "111111111111",
    "s3:x-amz-acl": "bucket-owner-full-control",
}
OBJECT = "arn:aws:s3:::logs/AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01/x.json.gz"


def put(policy: str, resource: str = OBJECT, context: dict[str, str] | None = None) -> bool:
    return evaluate(
        policy,
        action="s3:PutObject",
        resource=resource,
        service_principal=CT,
        context=context if context is not None else PUT,
    ).allowed


def test_documented_bucket_policy_allows_its_trail_only() -> None:
    policy = bucket_policy("logs", "", ["111111111111"], TRAIL)
    assert put(policy)
    assert not put(policy, context={**PUT, "aws:SourceArn": TRAIL.replace("main", "other")})
    assert not put(policy, context={k: v for k, v in PUT.items() if k != "s3:x-amz-acl"})
    assert not put(policy, resource=OBJECT.replace("111111111111", "222222222222", 1))


def test_prefix_and_wildcard_source_arn() -> None:
    policy = bucket_policy(
        "logs", "audit/eu", ["111111111111"], "arn:aws:cloudtrail:*:111111111111:trail/*", like=True
    )
    assert put(policy, resource=OBJECT.replace("logs/AWSLogs", "logs/audit/eu/AWSLogs"))
    assert not put(policy)  # no prefix: outside the granted path


def test_explicit_deny_wins_and_irrelevant_deny_does_not() -> None:
    base = bucket_policy(
        "logs", "", ["111111111111"], TRAIL, extra=[deny_insecure_transport("logs")]
    )
    assert put(base)
    denied = bucket_policy("logs", "", ["111111111111"], TRAIL, extra=[enforce_sse_kms("logs")])
    decision = evaluate(
        denied, action="s3:PutObject", resource=OBJECT, service_principal=CT, context=PUT
    )
    assert not decision.allowed and decision.explicit_deny


@pytest.mark.parametrize("document", [None, "", "not json", "[]", '{"Statement": "x"}'])
def test_unreadable_documents_allow_nothing(document: str | None) -> None:
    assert not put(document)  # type: ignore[arg-type]


def test_key_policy_actions_are_wildcards_and_case_insensitive() -> None:
    policy = key_policy("111111111111")
    context = {"kms:EncryptionContext:aws:cloudtrail:arn": TRAIL}
    assert evaluate(
        policy,
        action="kms:GenerateDataKey",
        resource="arn:aws:kms:us-east-1:111111111111:key/k",
        service_principal=CT,
        context=context,
    ).allowed
    assert not evaluate(
        key_policy("111111111111", cloudtrail=False),
        action="KMS:GenerateDataKey",
        resource="*",
        service_principal=CT,
        context=context,
    ).allowed


def test_identity_policies_need_one_allow_and_no_deny() -> None:
    allow = '{"Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}'
    deny = '{"Statement": [{"Effect": "Deny", "Action": "logs:PutLogEvents", "Resource": "*"}]}'
    assert allows_any([allow], action="logs:PutLogEvents", resource="arn:aws:logs:x")
    assert not allows_any([allow, deny], action="logs:PutLogEvents", resource="arn:aws:logs:x")
    assert not allows_any([], action="logs:PutLogEvents", resource="arn:aws:logs:x")


# -- landing-zone shapes: org conditions, perimeter Denies, AWS principals --------------------

ORG = "o-abc123def4"
MGMT = "123456789012"
SECURITY = "333333333333"
LOG_ARCHIVE = "444444444444"
ORG_TRAIL = f"arn:aws:cloudtrail:us-east-1:{MGMT}:trail/org"
LZ_OBJECT = f"arn:aws:s3:::lz-logs/{ORG}/AWSLogs/{ORG}/555555555555/CloudTrail/x.json.gz"
#: What CloudTrail's PutObject for the organization trail carries.
CT_PUT = {
    "aws:SourceArn": ORG_TRAIL,
    "aws:SourceAccount": MGMT,
    "aws:SourceOrgID": ORG,
    "aws:PrincipalIsAWSService": "true",
    "aws:SecureTransport": "true",
    "s3:x-amz-acl": "bucket-owner-full-control",
}


def lz_put(policy: str, context: dict[str, str]) -> tuple[bool, bool]:
    d = evaluate(
        policy, action="s3:PutObject", resource=LZ_OBJECT, service_principal=CT, context=context
    )
    return d.allowed, d.explicit_deny


def test_hardened_bucket_policy_lets_the_organization_trail_write() -> None:
    policy = lz_bucket_policy("lz-logs", ORG, ORG, MGMT, SECURITY)
    assert lz_put(policy, CT_PUT) == (True, False)
    assert lz_put(policy, {**CT_PUT, "aws:SourceOrgID": "o-other00000"}) == (False, False)
    assert lz_put(policy, {k: v for k, v in CT_PUT.items() if k != "aws:SourceOrgID"})[0] is False
    other_trail = ORG_TRAIL.replace(MGMT, SECURITY)
    assert lz_put(policy, {**CT_PUT, "aws:SourceArn": other_trail})[0] is False
    # Without TLS the Deny wins (Bool); without the key at all, Bool does not match.
    assert lz_put(policy, {**CT_PUT, "aws:SecureTransport": "false"}) == (False, True)
    no_tls_key = {k: v for k, v in CT_PUT.items() if k != "aws:SecureTransport"}
    assert lz_put(policy, no_tls_key) == (True, False)


def test_the_data_perimeter_deny_exempts_aws_services_only_when_it_says_so() -> None:
    exempt = lz_bucket_policy("lz-logs", ORG, ORG, MGMT, SECURITY)
    strict = lz_bucket_policy("lz-logs", ORG, ORG, MGMT, SECURITY, service_exemption=False)
    # A service principal carries no aws:PrincipalOrgID: StringNotEqualsIfExists matches.
    assert lz_put(strict, CT_PUT) == (False, True)
    assert lz_put(exempt, CT_PUT) == (True, False)
    outsider = principal_names("999999999999", "arn:aws:iam::999999999999:role/x")
    member = principal_names(SECURITY, f"arn:aws:iam::{SECURITY}:role/audit")
    read = {"aws:PrincipalIsAWSService": "false", "aws:SecureTransport": "true"}
    bucket = "arn:aws:s3:::lz-logs"
    from_outside = evaluate(
        exempt, action="s3:GetBucketAcl", resource=bucket, aws_principals=outsider, context=read
    )
    assert from_outside.explicit_deny
    in_org = {**read, "aws:PrincipalOrgID": ORG}
    from_security = evaluate(
        exempt, action="s3:GetBucketAcl", resource=bucket, aws_principals=member, context=in_org
    )
    assert from_security.allowed
    from_member_not_granted = evaluate(
        exempt,
        action="s3:GetBucketAcl",
        resource=bucket,
        aws_principals=principal_names(LOG_ARCHIVE),
        context=in_org,
    )
    assert not from_member_not_granted.allowed and not from_member_not_granted.explicit_deny


def test_aws_principals_match_by_account_root_or_arn_and_not_principal_excludes() -> None:
    role = f"arn:aws:iam::{SECURITY}:role/audit"
    session = f"arn:aws:sts::{SECURITY}:assumed-role/audit/alice"
    caller = principal_names(SECURITY, session, role)
    for named in (SECURITY, f"arn:aws:iam::{SECURITY}:root", role, session, "*"):
        doc = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": named}, "Action": "s3:*"}]}
        assert evaluate(doc, action="s3:GetObject", resource="x", aws_principals=caller).allowed
    other = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": MGMT}, "Action": "s3:*"}]}
    assert not evaluate(other, action="s3:GetObject", resource="x", aws_principals=caller).allowed
    but_security = {
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:*"},
            {"Effect": "Deny", "NotPrincipal": {"AWS": role}, "Action": "s3:PutObject"},
        ]
    }
    assert evaluate(
        but_security, action="s3:PutObject", resource="x", aws_principals=caller
    ).allowed
    outsider = principal_names(MGMT)
    denied = evaluate(but_security, action="s3:PutObject", resource="x", aws_principals=outsider)
    assert denied.explicit_deny
    # A service principal is never named by an AWS entry.
    assert not evaluate(other, action="s3:GetObject", resource="x", service_principal=CT).allowed


def test_organization_key_policy_needs_the_management_account_as_source() -> None:
    key = f"arn:aws:kms:us-east-1:{SECURITY}:key/k"
    context = {
        "kms:EncryptionContext:aws:cloudtrail:arn": ORG_TRAIL,
        "aws:SourceArn": ORG_TRAIL,
        "aws:SourceAccount": MGMT,
        "aws:PrincipalIsAWSService": "true",
    }

    def encrypts(policy: str, ctx: dict[str, str]) -> bool:
        return evaluate(
            policy, action="kms:GenerateDataKey", resource=key, service_principal=CT, context=ctx
        ).allowed

    good = lz_key_policy(SECURITY, MGMT, LOG_ARCHIVE)
    assert encrypts(good, context)
    # The member account whose events are written is not the source: the owner is.
    assert not encrypts(good, {**context, "aws:SourceAccount": "555555555555"})
    assert not encrypts(lz_key_policy(SECURITY, MGMT, LOG_ARCHIVE, trail_account=SECURITY), context)
    reader = principal_names(LOG_ARCHIVE)
    with_context = {"kms:EncryptionContext:aws:cloudtrail:arn": ORG_TRAIL}
    assert evaluate(
        good, action="kms:Decrypt", resource=key, aws_principals=reader, context=with_context
    ).allowed
    # Null: "false" means the key must be present.
    assert not evaluate(good, action="kms:Decrypt", resource=key, aws_principals=reader).allowed
