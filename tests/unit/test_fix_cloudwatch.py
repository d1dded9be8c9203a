"""CloudWatch Logs plans (core/fix/cloudwatch.py): the log group and the delivery role."""

from __future__ import annotations

from core.fix.cloudwatch import INLINE_POLICY_NAME
from core.fix.documents import Documents, canonical
from core.fix.model import ApiCall
from core.fix.plans import plans_for
from core.judge.policy import Outcome, evaluate
from tests.unit.fix_cases import (
    CLOUDTRAIL,
    CT,
    EC2_TRUST,
    ROLE,
    VIEW,
    assert_additions_only,
    assert_kept,
    ctx,
    cw_trail,
    finding,
    only,
    sent_doc,
    stream_allowed,
)


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
