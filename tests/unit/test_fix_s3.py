"""Bucket plans (core/fix/s3.py, core/fix/resource_policy.py): merged policies, the separate Deny plan, a missing bucket."""

from __future__ import annotations

import json

import pytest

from core.fix.documents import Documents, canonical
from core.fix.model import ApiCall
from core.fix.plans import attach_plan_ids, bind, plans_for
from core.judge.policy import Outcome, Principal, evaluate
from core.model import ViewKey
from tests.unit.fix_cases import (
    ACCT,
    ACL_STMT,
    ARN,
    ORG,
    READER,
    SSE_DENY,
    TLS_DENY,
    VIEW,
    WRITE_STMT,
    assert_additions_only,
    assert_kept,
    doc,
    finding,
    only,
    s3_acl_allowed,
    s3_put_allowed,
    sent_doc,
    statements,
    trail,
)


def test_missing_write_grant_is_merged_keeping_every_statement() -> None:
    t = trail()
    before = doc(ACL_STMT, READER, TLS_DENY)
    plans = plans_for(
        t, VIEW, [finding("S3_POLICY_DENIES_CLOUDTRAIL")], Documents(bucket_policy=before)
    )
    assert [p.id.rsplit("-", 1)[0] for p in plans] == ["s3-policy"]
    p = plans[0]
    assert p.code == "S3_POLICY_DENIES_CLOUDTRAIL"
    assert p.fixes == ("S3_POLICY_DENIES_CLOUDTRAIL",)
    assert (p.account_id, p.region, p.target) == (ACCT, "us-east-1", "ct-logs")
    assert not p.needs_extra_confirmation
    assert len(p.calls) == 1
    call = p.calls[0]
    assert (call.service, call.operation, call.region) == ("s3", "put_bucket_policy", "us-east-1")
    assert set(call.params) == {"Bucket", "Policy"} and call.params["Bucket"] == "ct-logs"
    assert sent_doc(call, "Policy") == p.after
    assert p.before == canonical(before)
    added = assert_kept(p.before, p.after)
    assert [s["Sid"] for s in added] == ["AWSCloudTrailWrite20150319"]
    assert added[0]["Resource"] == f"arn:aws:s3:::ct-logs/AWSLogs/{ACCT}/*"
    assert added[0]["Condition"]["StringEquals"]["aws:SourceArn"] == ARN
    assert_additions_only(p.diff)
    assert s3_put_allowed(p.after, t) is Outcome.ALLOWED
    assert s3_acl_allowed(p.after, t) is Outcome.ALLOWED
    assert s3_put_allowed(before, t) is Outcome.NOT_GRANTED  # the test can fail
    pre = p.preconditions[0]
    assert pre.read == ApiCall("s3", "get_bucket_policy", {"Bucket": "ct-logs"}, "us-east-1")
    assert pre.kind == "s3_policy" and pre.expected == p.before
    assert p.precondition_read == pre.read and p.precondition_expected == p.before


def test_acl_and_write_missing_is_one_plan_for_both_findings() -> None:
    t = trail(S3KeyPrefix="org/logs/")
    before = doc(READER)
    found = [finding("S3_POLICY_DENIES_CLOUDTRAIL"), finding("S3_POLICY_ACL_CHECK_MISSING")]
    plans = plans_for(t, VIEW, found, Documents(bucket_policy=before))
    p = only(plans, "s3-policy")
    assert p.fixes == ("S3_POLICY_DENIES_CLOUDTRAIL", "S3_POLICY_ACL_CHECK_MISSING")
    added = assert_kept(p.before, p.after)
    assert sorted(s["Sid"] for s in added) == [
        "AWSCloudTrailAclCheck20150319",
        "AWSCloudTrailWrite20150319",
    ]
    write = next(s for s in added if s["Action"] == "s3:PutObject")
    assert write["Resource"] == f"arn:aws:s3:::ct-logs/org/logs/AWSLogs/{ACCT}/*"
    assert_additions_only(p.diff)
    assert s3_put_allowed(p.after, t, prefix="org/logs") is Outcome.ALLOWED
    assert s3_acl_allowed(p.after, t) is Outcome.ALLOWED
    tagged = attach_plan_ids(found, plans)
    assert [f.plan_ids for f in tagged] == [(p.id,), (p.id,)]


def test_acl_check_missing_adds_only_the_acl_statement() -> None:
    t = trail()
    before = doc(WRITE_STMT)
    p = only(
        plans_for(
            t, VIEW, [finding("S3_POLICY_ACL_CHECK_MISSING")], Documents(bucket_policy=before)
        ),
        "s3-policy",
    )
    assert p.code == "S3_POLICY_ACL_CHECK_MISSING"
    added = assert_kept(p.before, p.after)
    assert [s["Action"] for s in added] == ["s3:GetBucketAcl"]
    assert_additions_only(p.diff)
    assert s3_acl_allowed(p.after, t) is Outcome.ALLOWED


def test_no_bucket_policy_at_all_gets_the_documented_policy() -> None:
    t = trail()
    p = only(
        plans_for(
            t,
            VIEW,
            [finding("S3_POLICY_DENIES_CLOUDTRAIL"), finding("S3_POLICY_ACL_CHECK_MISSING")],
            Documents(bucket_policy=None),
        ),
        "s3-policy",
    )
    assert p.before == ""
    assert p.preconditions[0].expected is None
    assert len(statements(p.after)) == 2
    assert_additions_only(p.diff)
    assert s3_put_allowed(p.after, t) is Outcome.ALLOWED


def test_sid_collision_picks_a_new_sid() -> None:
    t = trail(S3KeyPrefix="new")
    # Same Sid as the documented one, but for the old prefix: it must stay as it is.
    old_write = dict(WRITE_STMT)
    before = doc(ACL_STMT, old_write)
    p = only(
        plans_for(
            t, VIEW, [finding("S3_POLICY_DENIES_CLOUDTRAIL")], Documents(bucket_policy=before)
        ),
        "s3-policy",
    )
    added = assert_kept(p.before, p.after)
    assert [s["Sid"] for s in added] == ["AWSCloudTrailWrite20150319Trailtop"]
    sids = [s.get("Sid") for s in statements(p.after)]
    assert len(sids) == len(set(sids))
    assert s3_put_allowed(p.after, t, prefix="new") is Outcome.ALLOWED


def test_org_trail_adds_the_organization_write_statement() -> None:
    t = trail(IsOrganizationTrail=True)
    before = doc(ACL_STMT, WRITE_STMT)
    p = only(
        plans_for(
            t, VIEW, [finding("S3_POLICY_DENIES_CLOUDTRAIL")], Documents(bucket_policy=before), ORG
        ),
        "s3-policy",
    )
    added = assert_kept(p.before, p.after)
    assert [s["Sid"] for s in added] == ["AWSCloudTrailOrganizationWrite20150319"]
    assert added[0]["Resource"] == f"arn:aws:s3:::ct-logs/AWSLogs/{ORG}/*"
    assert s3_put_allowed(p.after, t, ident=f"{ORG}/{ACCT}") is Outcome.ALLOWED


def test_explicit_deny_gets_a_separate_flagged_plan_only() -> None:
    t = trail(LogFileValidationEnabled=True)  # the digest write carries AES256
    before = doc(ACL_STMT, WRITE_STMT, SSE_DENY, TLS_DENY)
    assert s3_put_allowed(before, t) is Outcome.DENIED
    plans = plans_for(
        t, VIEW, [finding("S3_POLICY_DENIES_CLOUDTRAIL")], Documents(bucket_policy=before)
    )
    # The Allow is already there: only the Deny plan, flagged.
    assert [p.id.rsplit("-", 1)[0] for p in plans] == ["s3-deny"]
    p = plans[0]
    assert p.needs_extra_confirmation
    assert "DenyUnencryptedUploads" in p.extra_confirmation_reason
    assert "DENY" in p.risk
    after = statements(p.after)
    deny = next(s for s in after if s.get("Sid") == "DenyUnencryptedUploads")
    assert deny["Effect"] == "Deny"  # not deleted
    assert deny["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "ArnNotEquals": {"aws:SourceArn": ARN},
    }
    assert canonical(TLS_DENY) in [canonical(s) for s in after]
    assert len(after) == 4
    assert s3_put_allowed(p.after, t) is Outcome.ALLOWED
    # Everyone else is still denied unencrypted uploads.
    user = evaluate(
        p.after,
        principal=Principal.aws_(f"arn:aws:iam::{ACCT}:user/bob"),
        action="s3:PutObject",
        resource="arn:aws:s3:::ct-logs/x",
        context={},
    )
    assert user.outcome is Outcome.DENIED and user.sid == "DenyUnencryptedUploads"
    # Another trail is still denied too.
    other = trail(TrailARN=f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/other")
    assert s3_put_allowed(p.after, other) is Outcome.DENIED
    assert any(line.startswith("+") and "ArnNotEquals" in line for line in p.diff.splitlines())


def test_deny_and_missing_allow_ordinary_plan_keeps_the_deny() -> None:
    t = trail(LogFileValidationEnabled=True)  # the digest write carries AES256
    before = doc(ACL_STMT, SSE_DENY)
    plans = plans_for(
        t, VIEW, [finding("S3_POLICY_DENIES_CLOUDTRAIL")], Documents(bucket_policy=before)
    )
    ordinary = only(plans, "s3-policy")
    flagged = only(plans, "s3-deny")
    assert not ordinary.needs_extra_confirmation and flagged.needs_extra_confirmation
    assert canonical(SSE_DENY) in [canonical(s) for s in statements(ordinary.after)]
    assert_kept(ordinary.before, ordinary.after)
    assert_additions_only(ordinary.diff)
    assert any("Deny" in n for n in ordinary.notes)
    assert s3_put_allowed(ordinary.after, t) is Outcome.DENIED  # honest: the Deny still wins
    assert s3_put_allowed(flagged.after, t) is Outcome.ALLOWED
    assert flagged.id != ordinary.id
    assert flagged.preconditions == ordinary.preconditions


@pytest.mark.parametrize("home", ["us-east-1", "eu-west-1"])
def test_missing_bucket_create_plan(home: str) -> None:
    arn = f"arn:aws:cloudtrail:{home}:{ACCT}:trail/main"
    t = trail(TrailARN=arn, HomeRegion=home)
    view = ViewKey(ACCT, "ap-southeast-2", arn)
    plans = plans_for(t, view, [finding("S3_BUCKET_MISSING")], Documents())
    p = only(plans, "s3-create")
    create, put = p.calls
    expected = {"Bucket": "ct-logs"}
    if home != "us-east-1":
        expected["CreateBucketConfiguration"] = {"LocationConstraint": home}  # type: ignore[assignment]
    assert (create.service, create.operation, create.region) == ("s3", "create_bucket", home)
    assert dict(create.params) == expected
    assert (put.operation, put.params["Bucket"], put.region) == (
        "put_bucket_policy",
        "ct-logs",
        home,
    )
    assert sent_doc(put, "Policy") == p.after and p.before == ""
    assert "CREATES A NEW S3 BUCKET" in p.risk
    assert p.preconditions[0].read == ApiCall("s3", "head_bucket", {"Bucket": "ct-logs"}, home)
    assert p.preconditions[0].expected is None
    assert_additions_only(p.diff)
    assert s3_put_allowed(p.after, t) is Outcome.ALLOWED
    assert s3_acl_allowed(p.after, t) is Outcome.ALLOWED


def test_missing_bucket_retarget_plan_needs_a_bucket_name() -> None:
    t = trail()
    p = only(plans_for(t, VIEW, [finding("S3_BUCKET_MISSING")], Documents()), "trail-retarget")
    assert p.parameters == ("bucket",) and p.unbound() == ("bucket",)
    bound = bind(p, {"bucket": "other-logs"})
    assert bound.id == p.id and bound.unbound() == ()
    assert bound.calls == (
        ApiCall(
            "cloudtrail",
            "update_trail",
            {"Name": ARN, "S3BucketName": "other-logs"},
            "us-east-1",
        ),
    )
    assert json.loads(bound.after) == {"S3BucketName": "other-logs"}
    assert "other-logs" in bound.diff and "${bucket}" not in bound.diff
    assert bound.preconditions[0].kind == "trail_bucket"
    assert bound.preconditions[0].expected == canonical({"S3BucketName": "ct-logs"})
    with pytest.raises(ValueError):
        bind(p, {"nope": "x"})
    with pytest.raises(ValueError):
        bind(p, {"bucket": ""})
