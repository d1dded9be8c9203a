"""The sandbox's own policy evaluator (pure): the statement shapes CloudTrail destinations use."""

from __future__ import annotations

import pytest

from sandbox.policies import bucket_policy, deny_insecure_transport, enforce_sse_kms, key_policy
from sandbox.policy_check import allows_any, evaluate

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
