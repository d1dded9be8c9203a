"""Key and topic plans (core/fix/kms.py, core/fix/sns.py)."""

from __future__ import annotations

import json

from core.fix.documents import Documents, canonical
from core.fix.model import ApiCall
from core.fix.plans import plans_for
from core.judge.policy import Outcome, evaluate
from tests.unit.fix_cases import (
    ARN,
    CLOUDTRAIL,
    CT,
    KEY_ARN,
    KEY_ID,
    OTHER,
    OWNER,
    ROOT_ADMIN,
    TOPIC,
    VIEW,
    assert_additions_only,
    assert_kept,
    ctx,
    doc,
    finding,
    key_meta,
    kms_trail,
    only,
    sent_doc,
    sns_trail,
    statements,
    trail,
)


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


def test_a_topic_in_another_account_is_fixed_in_that_account() -> None:
    t = trail(SnsTopicARN=f"arn:aws:sns:us-east-1:{OTHER}:ct-topic")
    (plan,) = plans_for(t, VIEW, [finding("SNS_TOPIC_MISSING")], Documents())
    assert plan.account_id == OTHER != VIEW.account_id
    assert plan.calls[0].region == "us-east-1"


def test_a_key_in_another_account_is_fixed_in_that_account() -> None:
    karn = f"arn:aws:kms:us-east-1:{OTHER}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    t = trail(KmsKeyId=karn)
    plans = plans_for(
        t,
        VIEW,
        [finding("KMS_KEY_DISABLED")],
        Documents(key_metadata={"KeyState": "Disabled", "Arn": karn}),
    )
    assert [p.account_id for p in plans] == [OTHER]


def test_a_bucket_owned_elsewhere_is_fixed_in_its_owner_account() -> None:
    plans = plans_for(
        trail(),
        VIEW,
        [finding("S3_POLICY_DENIES_CLOUDTRAIL")],
        Documents(bucket_policy={"Version": "2012-10-17", "Statement": []}, bucket_owner=OTHER),
    )
    assert plans and {p.account_id for p in plans} == {OTHER}
