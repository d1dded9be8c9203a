"""Remediation plans (core/fix/plans.py): pure, from plain documents as AWS returns them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.fix.plans import (
    INLINE_POLICY_NAME,
    ApiCall,
    Documents,
    Plan,
    attach_plan_ids,
    bind,
    canonical,
    documents_from,
    exclude_trail,
    extract,
    merge_statements,
    plans_for,
)
from core.judge.policy import Outcome, Principal, evaluate
from core.judge.rootcause import Destinations, Fact, root_causes
from core.model import Finding, TrailConfig, ViewKey

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
    from core.model import Channel, Severity

    return Finding(code, Severity.CRITICAL, Channel.S3, code, evidence)


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


# --------------------------------------------------------------------------- S3 policy


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


def test_sid_collision_twice() -> None:
    taken = {"Sid": "A", "Effect": "Allow", "Principal": CT, "Action": "s3:x", "Resource": "*"}
    taken2 = dict(taken, Sid="ATrailtop", Action="s3:y")
    merged, added = merge_statements(
        doc(taken, taken2), [dict(taken, Action="s3:z"), dict(taken, Action="s3:w")]
    )
    assert [s["Sid"] for s in added] == ["ATrailtop2", "ATrailtop3"]
    assert merged["Statement"][-2:] == [taken, taken2]


def test_merge_skips_an_identical_statement_and_keeps_other_keys() -> None:
    text = json.dumps({"Version": "2012-10-17", "Id": "keep-me", "Statement": ACL_STMT})
    merged, added = merge_statements(text, [ACL_STMT, WRITE_STMT])
    assert [s["Sid"] for s in added] == ["AWSCloudTrailWrite20150319"]
    assert merged["Id"] == "keep-me"
    assert merged["Statement"] == [WRITE_STMT, ACL_STMT]


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


# --------------------------------------------------------------------------- explicit Deny


def test_explicit_deny_gets_a_separate_flagged_plan_only() -> None:
    t = trail()
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
    t = trail()
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


def test_exclude_trail_extends_an_existing_arn_not_equals() -> None:
    st: dict[str, Any] = {
        **SSE_DENY,
        "Condition": {"ArnNotEquals": {"aws:SourceArn": "arn:aws:x:::a"}},
    }
    out = exclude_trail(st, ARN)
    assert out["Condition"]["ArnNotEquals"]["aws:SourceArn"] == ["arn:aws:x:::a", ARN]
    assert st["Condition"]["ArnNotEquals"]["aws:SourceArn"] == "arn:aws:x:::a"  # not mutated


# --------------------------------------------------------------------------- bucket missing


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


# --------------------------------------------------------------------------- KMS


def kms_trail() -> TrailConfig:
    return trail(KmsKeyId=KEY_ARN)


def key_meta(state: str) -> dict[str, Any]:
    return {"KeyId": KEY_ID, "Arn": KEY_ARN, "KeyState": state}


def test_kms_pending_deletion_cancels_then_enables_by_key_id() -> None:
    p = only(
        plans_for(
            kms_trail(),
            VIEW,
            [finding("KMS_KEY_PENDING_DELETION")],
            Documents(key_metadata=key_meta("PendingDeletion")),
        ),
        "kms-cancel-deletion",
    )
    assert p.calls == (
        ApiCall("kms", "cancel_key_deletion", {"KeyId": KEY_ID}, "us-east-1"),
        ApiCall("kms", "enable_key", {"KeyId": KEY_ID}, "us-east-1"),
    )
    assert json.loads(p.before) == {"KeyState": "PendingDeletion"}
    assert json.loads(p.after) == {"KeyState": "Enabled"}
    assert p.preconditions[0].read == ApiCall("kms", "describe_key", {"KeyId": KEY_ID}, "us-east-1")


def test_kms_disabled_enables() -> None:
    p = only(
        plans_for(
            kms_trail(),
            VIEW,
            [finding("KMS_KEY_DISABLED")],
            Documents(key_metadata=key_meta("Disabled")),
        ),
        "kms-enable",
    )
    assert p.calls == (ApiCall("kms", "enable_key", {"KeyId": KEY_ID}, "us-east-1"),)
    # A key in another odd state (PendingImport...) gets no "enable" plan.
    assert (
        plans_for(
            kms_trail(),
            VIEW,
            [finding("KMS_KEY_DISABLED")],
            Documents(key_metadata=key_meta("PendingImport")),
        )
        == []
    )


ROOT_ADMIN = {
    "Sid": "Enable IAM User Permissions",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def test_kms_policy_merged() -> None:
    t = kms_trail()
    before = doc(ROOT_ADMIN)
    p = only(
        plans_for(
            t,
            VIEW,
            [finding("KMS_POLICY_DENIES_CLOUDTRAIL")],
            Documents(key_policy=before, key_metadata=key_meta("Enabled")),
        ),
        "kms-policy",
    )
    (call,) = p.calls
    assert (call.service, call.operation, call.region) == ("kms", "put_key_policy", "us-east-1")
    assert call.params["KeyId"] == KEY_ID and call.params["PolicyName"] == "default"
    assert sent_doc(call, "Policy") == p.after
    assert_kept(p.before, p.after)
    assert_additions_only(p.diff)
    d = evaluate(
        p.after,
        principal=CLOUDTRAIL,
        action="kms:GenerateDataKey",
        resource=KEY_ARN,
        context=ctx(t, **{"kms:EncryptionContext:aws:cloudtrail:arn": ARN}),
    )
    assert d.outcome is Outcome.ALLOWED
    assert p.preconditions[0].read == ApiCall(
        "kms", "get_key_policy", {"KeyId": KEY_ID, "PolicyName": "default"}, "us-east-1"
    )


def test_kms_policy_deny_gets_flagged_plan() -> None:
    t = kms_trail()
    deny = {
        "Sid": "NoServices",
        "Effect": "Deny",
        "Principal": CT,
        "Action": "kms:*",
        "Resource": "*",
    }
    plans = plans_for(
        t,
        VIEW,
        [finding("KMS_POLICY_DENIES_CLOUDTRAIL")],
        Documents(key_policy=doc(ROOT_ADMIN, deny), key_metadata=key_meta("Enabled")),
    )
    assert {p.id.rsplit("-", 1)[0] for p in plans} == {"kms-policy", "kms-deny"}
    flagged = only(plans, "kms-deny")
    assert flagged.needs_extra_confirmation
    assert "NoServices" in [s.get("Sid") for s in statements(flagged.after)]


# --------------------------------------------------------------------------- SNS


def sns_trail() -> TrailConfig:
    return trail(SnsTopicARN=TOPIC)


OWNER = {
    "Sid": "OwnerFullAccess",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"},
    "Action": ["SNS:GetTopicAttributes", "SNS:Subscribe"],
    "Resource": TOPIC,
}


def test_sns_policy_merged() -> None:
    t = sns_trail()
    before = doc(OWNER)
    p = only(
        plans_for(
            t, VIEW, [finding("SNS_POLICY_DENIES_CLOUDTRAIL")], Documents(topic_policy=before)
        ),
        "sns-policy",
    )
    (call,) = p.calls
    assert (call.operation, call.region) == ("set_topic_attributes", "us-east-1")
    assert call.params["TopicArn"] == TOPIC and call.params["AttributeName"] == "Policy"
    assert sent_doc(call, "AttributeValue") == p.after
    assert_kept(p.before, p.after)
    assert_additions_only(p.diff)
    d = evaluate(
        p.after, principal=CLOUDTRAIL, action="SNS:Publish", resource=TOPIC, context=ctx(t)
    )
    assert d.outcome is Outcome.ALLOWED
    assert p.preconditions[0].kind == "sns_policy"


def test_sns_topic_missing_creates_it_under_the_trails_arn() -> None:
    t = sns_trail()
    p = only(plans_for(t, VIEW, [finding("SNS_TOPIC_MISSING")], Documents()), "sns-create")
    (call,) = p.calls
    assert (call.service, call.operation, call.region) == ("sns", "create_topic", "us-east-1")
    assert call.params["Name"] == "ct-topic"
    # The topic ARN AWS will give it is the trail's: same account, region and name.
    assert f"arn:aws:sns:{call.region}:{p.account_id}:{call.params['Name']}" == TOPIC
    assert canonical(call.params["Attributes"]["Policy"]) == p.after
    d = evaluate(
        p.after, principal=CLOUDTRAIL, action="SNS:Publish", resource=TOPIC, context=ctx(t)
    )
    assert d.outcome is Outcome.ALLOWED
    assert p.preconditions[0].kind == "sns_exists" and p.preconditions[0].expected is None


def test_foreign_topic_gets_no_plan() -> None:
    t = trail(SnsTopicARN=f"arn:aws:sns:us-east-1:{OTHER}:ct-topic")
    assert plans_for(t, VIEW, [finding("SNS_TOPIC_MISSING")], Documents()) == []


# --------------------------------------------------------------------------- CloudWatch


def cw_trail() -> TrailConfig:
    return trail(CloudWatchLogsLogGroupArn=GROUP, CloudWatchLogsRoleArn=ROLE)


def test_log_group_missing_is_created() -> None:
    p = only(
        plans_for(cw_trail(), VIEW, [finding("CLOUDWATCH_LOG_GROUP_MISSING")], Documents()),
        "logs-create-group",
    )
    assert p.calls == (
        ApiCall("logs", "create_log_group", {"logGroupName": "ct-group"}, "us-east-1"),
    )
    assert p.preconditions[0].read == ApiCall(
        "logs", "describe_log_groups", {"logGroupNamePrefix": "ct-group"}, "us-east-1"
    )


EC2_TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "ec2.amazonaws.com"},
    "Action": "sts:AssumeRole",
}


def test_role_trust_merged_keeps_other_principals() -> None:
    t = cw_trail()
    before = {"Version": "2012-10-17", "Statement": [EC2_TRUST]}  # IAM's parsed form
    p = only(
        plans_for(
            t, VIEW, [finding("CLOUDWATCH_ROLE_TRUST_INVALID")], Documents(role_trust=before)
        ),
        "iam-trust",
    )
    (call,) = p.calls
    assert (call.service, call.operation) == ("iam", "update_assume_role_policy")
    assert call.params["RoleName"] == "ct-cw"
    assert sent_doc(call, "PolicyDocument") == p.after
    added = assert_kept(p.before, p.after)
    assert added == [{"Effect": "Allow", "Principal": CT, "Action": "sts:AssumeRole"}]
    assert_additions_only(p.diff)
    d = evaluate(
        p.after, principal=CLOUDTRAIL, action="sts:AssumeRole", resource=ROLE, context=ctx(t)
    )
    assert d.outcome is Outcome.ALLOWED
    assert p.preconditions[0].read == ApiCall("iam", "get_role", {"RoleName": "ct-cw"}, "us-east-1")


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


def test_role_permissions_new_inline_policy() -> None:
    p = only(
        plans_for(cw_trail(), VIEW, [finding("CLOUDWATCH_ROLE_PERMISSIONS_MISSING")], Documents()),
        "iam-permissions",
    )
    (call,) = p.calls
    assert (call.operation, call.params["RoleName"], call.params["PolicyName"]) == (
        "put_role_policy",
        "ct-cw",
        INLINE_POLICY_NAME,
    )
    assert p.before == "" and sent_doc(call, "PolicyDocument") == p.after
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert stream_allowed(p.after, action) is Outcome.ALLOWED
    pre = p.preconditions[0]
    assert pre.kind == "iam_inline" and pre.expected is None


def test_role_permissions_merged_into_existing_trailtop_policy() -> None:
    mine = {
        "Sid": "AWSCloudTrailCreateLogStream2014110",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream"],
        "Resource": "arn:aws:logs:us-east-1:111111111111:log-group:old:*",
    }
    existing = {"Version": "2012-10-17", "Statement": [mine]}
    p = only(
        plans_for(
            cw_trail(),
            VIEW,
            [finding("CLOUDWATCH_ROLE_PERMISSIONS_MISSING")],
            Documents(role_inline={INLINE_POLICY_NAME: existing}),
        ),
        "iam-permissions",
    )
    added = assert_kept(p.before, p.after)
    assert "AWSCloudTrailCreateLogStream2014110Trailtop" in [s["Sid"] for s in added]
    assert_additions_only(p.diff)
    assert p.preconditions[0].expected == canonical(existing)
    assert stream_allowed(p.after, "logs:PutLogEvents") is Outcome.ALLOWED


# --------------------------------------------------------------------------- logging


def test_start_logging_by_arn_in_home_region() -> None:
    p = only(
        plans_for(trail(), VIEW, [finding("LOGGING_STOPPED")], Documents()), "trail-start-logging"
    )
    assert VIEW.region == "eu-west-1"
    assert p.calls == (ApiCall("cloudtrail", "start_logging", {"Name": ARN}, "us-east-1"),)
    assert p.preconditions[0].read == ApiCall(
        "cloudtrail", "get_trail_status", {"Name": ARN}, "us-east-1"
    )


# --------------------------------------------------------------------------- ids, scope


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


def test_plan_ids_stable_and_distinct() -> None:
    a = plans_for(everything(), VIEW, ALL_FINDINGS, all_docs())
    b = plans_for(everything(), VIEW, ALL_FINDINGS, all_docs())
    assert [p.id for p in a] == [p.id for p in b]
    assert len(a) == 8
    assert len({p.id for p in a}) == len(a)
    for p in a:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*-[0-9a-f]{8}", p.id), p.id
    # Another view of the same trail: same kinds, other ids.
    other_view = plans_for(everything(), HOME_VIEW, ALL_FINDINGS, all_docs())
    assert {p.id for p in other_view}.isdisjoint({p.id for p in a})
    # Another bucket: another id; a changed document keeps the id.
    other_bucket = plans_for(
        trail(S3BucketName="other"),
        VIEW,
        [finding("S3_POLICY_DENIES_CLOUDTRAIL")],
        Documents(bucket_policy=None),
    )
    changed_doc = plans_for(
        trail(), VIEW, [finding("S3_POLICY_DENIES_CLOUDTRAIL")], Documents(bucket_policy=None)
    )
    s3_id = only(a, "s3-policy").id
    assert other_bucket[0].id != s3_id
    assert changed_doc[0].id == s3_id


def test_views_outside_the_owner_account_get_no_plans() -> None:
    member = ViewKey(OTHER, "eu-west-1", ARN)
    assert plans_for(everything(), member, ALL_FINDINGS, all_docs()) == []


def test_unparseable_policy_gets_no_merge_plan() -> None:
    plans = plans_for(
        trail(), VIEW, [finding("S3_POLICY_DENIES_CLOUDTRAIL")], Documents(bucket_policy="{nope")
    )
    assert plans == []


def test_render_shows_the_exact_calls() -> None:
    p = only(
        plans_for(
            trail(), VIEW, [finding("S3_POLICY_DENIES_CLOUDTRAIL")], Documents(bucket_policy=None)
        ),
        "s3-policy",
    )
    cli = p.calls[0].render_cli()
    assert cli == (
        "aws s3api put-bucket-policy --region us-east-1 --bucket ct-logs "
        "--policy file://policy.json"
    )
    sdk = p.calls[0].render()
    assert sdk.startswith("s3.put_bucket_policy(Bucket='ct-logs', Policy='{")
    text = p.render()
    assert p.id in text and cli in text and p.diff in text and p.risk in text
    j = p.to_json()
    assert j["id"] == p.id and j["calls"][0]["operation"] == "put_bucket_policy"
    json.dumps(j)  # serialisable
    assert (
        ApiCall(
            "s3",
            "create_bucket",
            {"Bucket": "b", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}},
            "eu-west-1",
        ).render_cli()
        == "aws s3api create-bucket --region eu-west-1 --bucket b --create-bucket-configuration "
        '\'{"LocationConstraint": "eu-west-1"}\''
    )
    assert ApiCall(
        "iam", "update_assume_role_policy", {"RoleName": "r"}, "us-east-1"
    ).render_cli() == ("aws iam update-assume-role-policy --region us-east-1 --role-name r")


# --------------------------------------------------------------------------- preconditions


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


# --------------------------------------------------------------------------- end to end (pure)


def _fact_with(dest: Destinations, plan: Plan) -> Destinations:
    """The destinations as they would read after ``plan`` (pure model of its calls)."""
    from dataclasses import replace

    op = plan.calls[-1].operation
    after = json.loads(plan.after)
    if op == "put_bucket_policy":
        return replace(dest, bucket=Fact("bucket", "ct-logs", True, data={"policy": plan.after}))
    if op == "put_key_policy":
        assert dest.key is not None
        return replace(dest, key=replace(dest.key, data={**dest.key.data, "policy": plan.after}))
    if op == "enable_key":
        assert dest.key is not None
        meta = {**dest.key.data["metadata"], "KeyState": "Enabled"}
        return replace(dest, key=replace(dest.key, data={**dest.key.data, "metadata": meta}))
    if op == "set_topic_attributes":
        return replace(dest, topic=Fact("topic", TOPIC, True, data={"policy": plan.after}))
    if op == "update_assume_role_policy":
        assert dest.role is not None
        return replace(dest, role=replace(dest.role, data={**dest.role.data, "trust": after}))
    if op == "put_role_policy":
        assert dest.role is not None
        pols = [*dest.role.data.get("policies", []), after]
        return replace(dest, role=replace(dest.role, data={**dest.role.data, "policies": pols}))
    if op == "create_log_group":
        return replace(dest, log_group=Fact("log_group", GROUP, True))
    raise AssertionError(op)


@pytest.mark.parametrize(
    "code",
    [
        "S3_POLICY_DENIES_CLOUDTRAIL",
        "S3_POLICY_ACL_CHECK_MISSING",
        "KMS_KEY_DISABLED",
        "KMS_POLICY_DENIES_CLOUDTRAIL",
        "SNS_POLICY_DENIES_CLOUDTRAIL",
        "CLOUDWATCH_LOG_GROUP_MISSING",
        "CLOUDWATCH_ROLE_TRUST_INVALID",
        "CLOUDWATCH_ROLE_PERMISSIONS_MISSING",
    ],
)
def test_rootcause_finding_is_gone_after_the_plan(code: str) -> None:
    """Findings from core.judge.rootcause -> plans -> the planned documents -> no such finding."""
    t = everything()
    healthy_bucket = doc(ACL_STMT, WRITE_STMT)
    bucket = {
        "S3_POLICY_DENIES_CLOUDTRAIL": doc(ACL_STMT, READER, SSE_DENY),
        "S3_POLICY_ACL_CHECK_MISSING": doc(WRITE_STMT, TLS_DENY),
    }.get(code, healthy_bucket)
    good_key = doc(
        ROOT_ADMIN,
        {
            "Effect": "Allow",
            "Principal": CT,
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
        },
    )
    dest = Destinations(
        bucket=Fact("bucket", "ct-logs", True, data={"policy": bucket}),
        key=Fact(
            "key",
            KEY_ARN,
            True,
            data={
                "metadata": key_meta("Disabled" if code == "KMS_KEY_DISABLED" else "Enabled"),
                "policy": doc(ROOT_ADMIN) if code == "KMS_POLICY_DENIES_CLOUDTRAIL" else good_key,
            },
        ),
        topic=Fact(
            "topic",
            TOPIC,
            True,
            data={
                "policy": doc(OWNER)
                if code == "SNS_POLICY_DENIES_CLOUDTRAIL"
                else doc(
                    OWNER,
                    {
                        "Effect": "Allow",
                        "Principal": CT,
                        "Action": "SNS:Publish",
                        "Resource": TOPIC,
                    },
                )
            },
        ),
        log_group=Fact("log_group", GROUP, code != "CLOUDWATCH_LOG_GROUP_MISSING"),
        role=Fact(
            "role",
            ROLE,
            True,
            data={
                "trust": {"Version": "2012-10-17", "Statement": [EC2_TRUST]}
                if code == "CLOUDWATCH_ROLE_TRUST_INVALID"
                else json.loads(
                    doc({"Effect": "Allow", "Principal": CT, "Action": "sts:AssumeRole"})
                ),
                "policies": []
                if code == "CLOUDWATCH_ROLE_PERMISSIONS_MISSING"
                else [
                    json.loads(
                        doc(
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": "*",
                            }
                        )
                    )
                ],
            },
        ),
    )
    found = root_causes(t, HOME_VIEW, dest, NOW)
    assert code in {f.code for f in found}
    plans = plans_for(t, HOME_VIEW, found, documents_from(dest))
    fixing = [p for p in plans if code in p.fixes]
    assert fixing, [p.id for p in plans]
    # Prefer the flagged plan when there is one: it is the one that also lifts a Deny.
    plan = sorted(fixing, key=lambda p: not p.needs_extra_confirmation)[0]
    fixed = _fact_with(dest, plan)
    assert code not in {f.code for f in root_causes(t, HOME_VIEW, fixed, NOW)}


def test_documents_from_destinations() -> None:
    dest = Destinations(
        bucket=Fact("bucket", "b", True, data={"policy": "P"}),
        key=Fact("key", "k", True, data={"policy": "K", "metadata": {"KeyState": "Enabled"}}),
        topic=Fact("topic", "t", True, data={"policy": "T"}),
        role=Fact("role", "r", True, data={"trust": {"a": 1}, "policies": [], "inline": {"x": {}}}),
    )
    d = documents_from(dest)
    assert d == Documents("P", "K", {"KeyState": "Enabled"}, "T", {"a": 1}, {"x": {}})
    assert documents_from(Destinations()) == Documents()


def test_iam_policy_lists_exactly_the_actions_plans_use() -> None:
    def action(call: ApiCall) -> str:
        special = {("s3", "head_bucket"): "s3:ListBucket"}
        if (call.service, call.operation) in special:
            return special[(call.service, call.operation)]
        return f"{call.service}:{''.join(w.title() for w in call.operation.split('_'))}"

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
    writes = {action(c) for p in plans for c in p.calls}
    reads = {action(pre.read) for p in plans for pre in p.preconditions} | {"sts:GetCallerIdentity"}
    policy = json.loads(
        (Path(__file__).resolve().parents[2] / "iam" / "trailtop-remediate.json").read_text()
    )
    by_sid = {s["Sid"]: {a.lower() for a in s["Action"]} for s in policy["Statement"]}
    assert by_sid["TrailtopRemediateWrites"] == {a.lower() for a in writes}
    assert by_sid["TrailtopRemediatePreconditionReads"] == {a.lower() for a in reads}
