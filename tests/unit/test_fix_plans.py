"""Plans as a whole (core/fix/plans.py): which plans a view gets, their ids, their rendering, and
that applying one (modelled purely) clears the root cause it was made for."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import replace

import pytest

from core.fix.documents import Documents, documents_from
from core.fix.model import ApiCall, Plan
from core.fix.plans import plans_for
from core.judge.facts import Destinations, Fact
from core.judge.rootcause import root_causes
from core.model import ViewKey
from tests.unit.fix_cases import (
    ACL_STMT,
    ALL_FINDINGS,
    ARN,
    CT,
    EC2_TRUST,
    GROUP,
    HOME_VIEW,
    KEY_ARN,
    NOW,
    OTHER,
    OWNER,
    READER,
    ROLE,
    ROOT_ADMIN,
    SSE_DENY,
    TLS_DENY,
    TOPIC,
    VIEW,
    WRITE_STMT,
    all_docs,
    doc,
    everything,
    finding,
    key_meta,
    only,
    trail,
)


def test_start_logging_by_arn_in_home_region() -> None:
    p = only(
        plans_for(trail(), VIEW, [finding("LOGGING_STOPPED")], Documents()), "trail-start-logging"
    )
    assert VIEW.region == "eu-west-1"
    assert p.calls == (ApiCall("cloudtrail", "start_logging", {"Name": ARN}, "us-east-1"),)
    assert p.preconditions[0].read == ApiCall(
        "cloudtrail", "get_trail_status", {"Name": ARN}, "us-east-1"
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
    assert cli.startswith(
        "aws s3api put-bucket-policy --region us-east-1 --bucket ct-logs --policy "
    )
    # The command is complete: the document itself, not a file it never writes.
    words = shlex.split(cli)
    assert "file://" not in cli and "\n" not in cli
    assert json.loads(words[words.index("--policy") + 1]) == json.loads(p.calls[0].params["Policy"])
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


def _fact_with(dest: Destinations, plan: Plan) -> Destinations:
    """The destinations as they would read after ``plan`` (pure model of its calls)."""
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


def test_a_sweep_makes_a_views_plans_again_only_when_what_they_come_from_changes() -> None:
    from core.codes import Code
    from core.engine.sweep import Engine
    from core.settings import load_settings
    from tests.unit.fix_cases import VIEW, doc, finding, trail

    settings, _ = load_settings(None)
    engine = Engine(settings, diagnoser=None, culprits=None)
    t = trail()
    bucket = Fact("bucket", t.s3_bucket or "", True, data={"policy": doc(ACL_STMT, READER)})
    dest = Destinations(bucket=bucket)
    found = (finding(Code.S3_POLICY_DENIES_CLOUDTRAIL),)
    first = engine._plans(t, VIEW, found, dest, {}, False)
    assert first and first == plans_for(t, VIEW, found, documents_from(dest))
    # The same trail, codes and facts (as read, the same objects): the same plans, kept.
    assert engine._plans(t, VIEW, found, Destinations(bucket=bucket), {}, False) is first
    # The bucket read again with another policy: made again from it.
    reread = Fact("bucket", bucket.ident, True, data={"policy": doc(ACL_STMT)})
    again = engine._plans(t, VIEW, found, Destinations(bucket=reread), {}, False)
    assert again is not first
    assert again == plans_for(t, VIEW, found, documents_from(Destinations(bucket=reread)))
    # Another finding code, or another organization: made again.
    other = (finding(Code.S3_POLICY_ACL_CHECK_MISSING),)
    assert engine._plans(t, VIEW, other, Destinations(bucket=reread), {}, False) is not again
    org = {t.owner_account: "o-exampleorg"}
    assert engine._plans(t, VIEW, other, Destinations(bucket=reread), org, False) == plans_for(
        t, VIEW, other, documents_from(Destinations(bucket=reread)), "o-exampleorg"
    )
