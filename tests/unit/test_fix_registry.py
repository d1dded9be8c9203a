"""The plan-kind registry (core/fix/registry.py): what the re-read compares, and the IAM actions
the plans need against the shipped least-privilege policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.fix.documents import Documents, canonical
from core.fix.model import ApiCall, Plan
from core.fix.plans import plans_for
from core.fix.registry import KINDS, absent_codes, extract
from tests.unit.fix_cases import (
    ACL_STMT,
    ALL_FINDINGS,
    SSE_DENY,
    VIEW,
    all_docs,
    doc,
    everything,
    finding,
    key_meta,
)

POLICY = json.loads(
    (Path(__file__).resolve().parents[2] / "iam" / "trailtop-remediate.json").read_text()
)
#: The remediation policy's actions by Sid, lower-cased (IAM matches actions case-blind).
GRANTED = {s["Sid"]: {a.lower() for a in s["Action"]} for s in POLICY["Statement"]}
#: Called by apply itself (who is writing?), not by any plan.
APPLY_READS = {"sts:GetCallerIdentity"}


def iam_action(call: ApiCall) -> str:
    """The IAM action that authorises a botocore call: snake_case op -> PascalCase action."""
    special = {("s3", "head_bucket"): "s3:ListBucket"}
    if (call.service, call.operation) in special:
        return special[(call.service, call.operation)]
    return f"{call.service}:{''.join(w.title() for w in call.operation.split('_'))}"


def every_kind_of_plan() -> list[Plan]:
    t = everything()
    plans = plans_for(t, VIEW, ALL_FINDINGS, all_docs())
    plans += plans_for(
        t,
        VIEW,
        [
            finding("S3_BUCKET_MISSING"),
            finding("KMS_KEY_PENDING_DELETION"),
            finding("SNS_TOPIC_MISSING"),
        ],
        Documents(key_metadata=key_meta("PendingDeletion")),
    )
    plans += plans_for(
        t, VIEW, [finding("S3_POLICY_DENIES_CLOUDTRAIL")], Documents(bucket_policy=doc(SSE_DENY))
    )
    return plans


def test_extract_reads_what_the_plan_compares() -> None:
    pol = doc(ACL_STMT)
    r = ApiCall("x", "y", {}, "us-east-1")
    assert extract("s3_policy", {"Policy": pol}, r) == canonical(pol)
    assert extract("kms_policy", {"Policy": pol}, r) == canonical(json.loads(pol))
    assert extract("sns_policy", {"Attributes": {"Policy": pol}}, r) == canonical(pol)
    assert extract("sns_policy", {"Attributes": {}}, r) is None
    assert extract("kms_key_state", {"KeyMetadata": {"KeyState": "Disabled"}}, r) == canonical(
        {"KeyState": "Disabled"}
    )
    encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"
    assert extract("iam_trust", {"Role": {"AssumeRolePolicyDocument": encoded}}, r) == canonical(
        {"Version": "2012-10-17", "Statement": []}
    )
    assert extract("iam_inline", {"PolicyDocument": {"a": 1}}, r) == canonical({"a": 1})
    lg = ApiCall("logs", "describe_log_groups", {"logGroupNamePrefix": "g"}, "us-east-1")
    assert extract("log_group", {"logGroups": [{"logGroupName": "g2"}]}, lg) is None
    assert extract("log_group", {"logGroups": [{"logGroupName": "g"}]}, lg) == canonical(
        {"logGroupName": "g"}
    )
    assert extract("trail_logging", {"IsLogging": False}, r) == canonical({"IsLogging": False})
    assert extract("trail_bucket", {"trailList": [{"S3BucketName": "b"}]}, r) == canonical(
        {"S3BucketName": "b"}
    )
    with pytest.raises(ValueError):
        extract("nope", {}, r)


def test_plan_before_matches_what_the_read_will_return() -> None:
    """The expected value of every precondition is what extract() yields on the same doc."""
    t = everything()
    plans = plans_for(t, VIEW, ALL_FINDINGS, all_docs())
    d = all_docs()
    responses = {
        "s3_policy": {"Policy": d.bucket_policy},
        "kms_policy": {"Policy": d.key_policy},
        "kms_key_state": {"KeyMetadata": d.key_metadata},
        "sns_policy": {"Attributes": {"Policy": d.topic_policy}},
        "iam_trust": {"Role": {"AssumeRolePolicyDocument": d.role_trust}},
        "trail_logging": {"IsLogging": False},
        "log_group": {"logGroups": []},
    }
    for p in plans:
        for pre in p.preconditions:
            if pre.kind in responses:
                assert extract(pre.kind, responses[pre.kind], pre.read) == pre.expected, p.id


def test_absent_codes_come_from_the_registry() -> None:
    assert "NoSuchBucketPolicy" in absent_codes("s3_policy")
    assert "NoSuchEntity" in absent_codes("iam_inline")
    assert absent_codes("trail_logging") == frozenset()  # a stopped trail still exists
    assert absent_codes("nope") == frozenset()


def test_iam_policy_lists_exactly_the_actions_plans_use() -> None:
    plans = every_kind_of_plan()
    writes = {iam_action(c) for p in plans for c in p.calls}
    reads = {iam_action(pre.read) for p in plans for pre in p.preconditions} | APPLY_READS
    assert GRANTED["TrailtopRemediateWrites"] == {a.lower() for a in writes}
    assert GRANTED["TrailtopRemediatePreconditionReads"] == {a.lower() for a in reads}


def test_every_action_the_registry_declares_is_granted_and_nothing_more() -> None:
    reads = {a.lower() for k in KINDS.values() for a in k.reads}
    writes = {a.lower() for k in KINDS.values() for a in k.writes}
    assert reads - GRANTED["TrailtopRemediatePreconditionReads"] == set()
    assert writes - GRANTED["TrailtopRemediateWrites"] == set()
    # Least privilege: the policy grants nothing no kind declares.
    assert GRANTED["TrailtopRemediatePreconditionReads"] - reads == {a.lower() for a in APPLY_READS}
    assert GRANTED["TrailtopRemediateWrites"] - writes == set()


def test_every_call_of_a_plan_is_declared_by_its_kind() -> None:
    """A plan's kind is its precondition's; its calls and its re-read must be among the
    actions that kind declares, so the registry (and the policy checked against it above)
    cannot drift from what the plans really send."""
    seen: set[str] = set()
    for p in every_kind_of_plan():
        assert p.preconditions, f"{p.id} has no precondition"
        for pre in p.preconditions:
            kind = KINDS[pre.kind]
            seen.add(kind.name)
            reads = {a.lower() for a in kind.reads}
            writes = {a.lower() for a in kind.writes}
            assert iam_action(pre.read).lower() in reads, (p.id, pre.read.operation)
            for call in p.calls:
                assert iam_action(call).lower() in writes, (p.id, call.operation)
    assert seen == set(KINDS)  # every kind was exercised by some plan
