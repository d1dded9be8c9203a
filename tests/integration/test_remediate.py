"""Remediation against the emulated estate: find, plan, apply, and see delivery recover.

One private ``demo`` sandbox for the module (its trails are broken one per root cause; each
test fixes a different one, or builds its own trail, so the tests do not depend on order).
Deliveries are driven with ``sb.deliver()``: the delivery interval is an hour, so a
delivery time moves only when the test says so.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from core.aws.diagnose import DestinationDiagnoser
from core.engine.sweep import Engine, engine_from_settings
from core.fix.apply import apply, remediation_session
from core.fix.documents import canonical, documents_from
from core.fix.model import Plan
from core.fix.plans import bind, plans_for
from core.judge.statements import cloudtrail_bucket_statements, policy_document
from core.model import Snapshot, TrailView
from core.settings import RemediationSettings, load_settings
from sandbox import Sandbox
from sandbox.estate import TrailSpec, break_trail, build_trail
from sandbox.profiles import MGMT_KEY
from sandbox.seeding import Seeder

MGMT = "123456789012"
PROD = "111111111111"

TIME_FIELD = {
    "s3": "LatestDeliveryTime",
    "sns": "LatestNotificationTime",
    "cloudwatch": "LatestCloudWatchLogsDeliveryTime",
}
ERROR_FIELD = {
    "s3": "LatestDeliveryError",
    "sns": "LatestNotificationError",
    "cloudwatch": "LatestCloudWatchLogsDeliveryError",
}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    box = Sandbox(scenario="demo", delivery_interval=3600).start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
def env(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    for k, v in sb.process_env({}).items():
        monkeypatch.setenv(k, v)
    return sb


def security_account(sb: Sandbox) -> str:
    return str(sb.manifest["organization"]["members"][0]["id"])


def make_engine(sb: Sandbox, account: str, region: str, **remediation: Any) -> Engine:
    aws: dict[str, Any] = {"regions": [region], "endpoint_url": sb.endpoint_url}
    if account == PROD:
        aws["profiles"] = ["demo-prod"]
    else:
        aws["profiles"] = ["demo-mgmt"]
        if account != MGMT:
            aws["organization"] = {"enabled": True}
    settings, _ = load_settings(
        None,
        {
            "aws": aws,
            # Re-read destinations every sweep: the test checks what a fix changed at once.
            "poll": {"diagnose_refresh_seconds": 0, "max_attempts": 1},
            "remediation": remediation,
        },
    )
    return engine_from_settings(settings)


def find_view(snap: Snapshot, account: str, region: str, trail_name: str) -> TrailView:
    for v in snap.views:
        if (v.key.account_id, v.key.region, v.trail.name) == (account, region, trail_name):
            return v
    raise AssertionError(f"no view {account}/{region}/{trail_name}")


def plans_of(engine: Engine, snap: Snapshot, view: TrailView) -> list[Plan]:
    diag = cast(DestinationDiagnoser, engine.diagnoser)
    dest = diag.destinations[view.key.id]
    return plans_for(
        view.trail,
        view.key,
        view.findings,
        documents_from(dest),
        snap.org_ids.get(view.key.account_id),
    )


def session_of(engine: Engine, account: str) -> Any:
    return next(a.session for a in engine.accounts if a.account_id == account)


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_audit_clean(path: Path, sb: Sandbox) -> None:
    text = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for secret in [*sb.manifest["secrets"], MGMT_KEY.access_key_id]:
        assert secret not in text
    assert "SessionToken" not in text and "Signature" not in text


def read_document(sb: Sandbox, plan: Plan) -> str | None:
    """The document ``plan`` changes, read with boto3 (independently of trailtop)."""
    call = plan.calls[-1]
    acct = plan.account_id
    client = sb.boto3_client(call.service, None if acct == MGMT else acct, call.region)
    try:
        if call.operation == "put_bucket_policy":
            return canonical(client.get_bucket_policy(Bucket=call.params["Bucket"])["Policy"])
        if call.operation == "put_key_policy":
            return canonical(
                client.get_key_policy(KeyId=call.params["KeyId"], PolicyName="default")["Policy"]
            )
        if call.operation == "set_topic_attributes":
            attrs = client.get_topic_attributes(TopicArn=call.params["TopicArn"])["Attributes"]
            return canonical(attrs["Policy"])
        if call.operation == "update_assume_role_policy":
            role = client.get_role(RoleName=call.params["RoleName"])["Role"]
            return canonical(role["AssumeRolePolicyDocument"])
    except client.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchBucketPolicy", "NoSuchBucket"):
            return None
        raise
    return None


def statements(text: str | None) -> list[str]:
    return [canonical(s) for s in json.loads(text)["Statement"]] if text else []


# (trail, account, home region, finding code, plan kind, channel, extra confirmation)
KINDS = [
    ("mgmt-legacy", MGMT, "us-west-2", "S3_BUCKET_MISSING", "s3-create", "s3", False),
    ("prod-s3-policy", PROD, "us-west-2", "S3_POLICY_DENIES_CLOUDTRAIL", "s3-policy", "s3", False),
    ("prod-s3-deny", PROD, "eu-west-1", "S3_POLICY_DENIES_CLOUDTRAIL", "s3-deny", "s3", True),
    (
        "prod-acl-check",
        PROD,
        "ap-southeast-2",
        "S3_POLICY_ACL_CHECK_MISSING",
        "s3-policy",
        "s3",
        False,
    ),
    ("prod-kms-disabled", PROD, "us-west-2", "KMS_KEY_DISABLED", "kms-enable", "s3", False),
    (
        "prod-kms-pending",
        PROD,
        "eu-west-1",
        "KMS_KEY_PENDING_DELETION",
        "kms-cancel-deletion",
        "s3",
        False,
    ),
    (
        "prod-kms-policy",
        PROD,
        "ap-southeast-2",
        "KMS_POLICY_DENIES_CLOUDTRAIL",
        "kms-policy",
        "s3",
        False,
    ),
    ("prod-stopped", PROD, "us-west-2", "LOGGING_STOPPED", "trail-start-logging", "s3", False),
    ("sec-sns-missing", "security", "us-east-1", "SNS_TOPIC_MISSING", "sns-create", "sns", False),
    (
        "sec-sns-policy",
        "security",
        "us-west-2",
        "SNS_POLICY_DENIES_CLOUDTRAIL",
        "sns-policy",
        "sns",
        False,
    ),
    (
        "sec-cw-group",
        "security",
        "eu-west-1",
        "CLOUDWATCH_LOG_GROUP_MISSING",
        "logs-create-group",
        "cloudwatch",
        False,
    ),
    (
        "sec-cw-trust",
        "security",
        "us-east-1",
        "CLOUDWATCH_ROLE_TRUST_INVALID",
        "iam-trust",
        "cloudwatch",
        False,
    ),
    (
        "sec-cw-perms",
        "security",
        "us-west-2",
        "CLOUDWATCH_ROLE_PERMISSIONS_MISSING",
        "iam-permissions",
        "cloudwatch",
        False,
    ),
]


@pytest.mark.parametrize(
    ("trail", "account", "region", "code", "kind", "channel", "extra"),
    KINDS,
    ids=[k[4] + ":" + k[0] for k in KINDS],
)
async def test_plan_fixes_the_finding_and_delivery_resumes(
    env: Sandbox,
    tmp_path: Path,
    trail: str,
    account: str,
    region: str,
    code: str,
    kind: str,
    channel: str,
    extra: bool,
) -> None:
    sb = env
    acct = security_account(sb) if account == "security" else account
    engine = make_engine(sb, acct, region)
    audit = tmp_path / "state" / "audit.jsonl"
    try:
        snap = await engine.sweep()
        view = find_view(snap, acct, region, trail)
        assert code in [f.code for f in view.findings]
        status0 = dict(view.status or {})
        plans = plans_of(engine, snap, view)
        plan = next(p for p in plans if p.id.startswith(kind + "-"))
        assert code in plan.fixes and plan.needs_extra_confirmation is extra
        # Same finding, next sweep: same plan id.
        snap_again = await engine.sweep()
        again = plans_of(engine, snap_again, find_view(snap_again, acct, region, trail))
        assert plan.id in [p.id for p in again]

        before_doc = read_document(sb, plan)
        if extra:
            refused = await apply(
                plan, engine.collector, session_of(engine, acct), enabled=True, audit_path=audit
            )
            assert refused.result == "refused" and "extra confirmation" in refused.message
            assert read_document(sb, plan) == before_doc
        result = await apply(
            plan,
            engine.collector,
            session_of(engine, acct),
            enabled=True,
            audit_path=audit,
            confirm_extra=extra,
        )
        assert result.result == "applied", result.message
        assert result.completed == len(plan.calls)

        # The document is what the plan said, and every earlier statement is still there.
        after_doc = read_document(sb, plan)
        if after_doc is not None:
            assert after_doc == plan.after
            if kind != "s3-deny":
                for stmt in statements(before_doc):
                    assert stmt in statements(after_doc)
            else:
                sids = [json.loads(s).get("Sid") for s in statements(before_doc)]
                assert sids == [
                    json.loads(s).get("Sid") for s in statements(after_doc)[-len(sids) :]
                ]

        # The next sweeps: the finding is gone and the channel delivers again.
        previous = status0.get(TIME_FIELD[channel])
        for _ in range(2):
            sb.deliver()
            snap = await engine.sweep()
            view = find_view(snap, acct, region, trail)
            codes = [f.code for f in view.findings]
            assert code not in codes, codes
            st = dict(view.status or {})
            assert st.get("IsLogging") is True
            assert ERROR_FIELD[channel] not in st, st
            assert st.get(TIME_FIELD[channel]) is not None
            assert previous is None or st[TIME_FIELD[channel]] > previous
            previous = st[TIME_FIELD[channel]]
            assert view.state.value in ("ok",), (view.state, codes)
            if channel == "s3":
                assert "S3_DELIVERY_ERROR" not in codes

        lines = audit_lines(audit)
        assert [ln["result"] for ln in lines] == (["refused", "applied"] if extra else ["applied"])
        line = lines[-1]
        assert line["plan"]["id"] == plan.id and line["plan"]["code"] == plan.code
        assert line["account_id"] == acct and line["region"] == plan.region
        assert line["view_id"] == view.key.id
        assert line["caller_arn"].split(":")[4] == acct
        assert line["before"] == plan.before and line["after"] == plan.after
        assert [c["operation"] for c in line["calls"]] == [c.operation for c in plan.calls]
        assert line["error"] is None and line["time"].endswith("Z")
        assert_audit_clean(audit, sb)
    finally:
        await engine.close()


# --------------------------------------------------------------------------- own trails


def build_broken(sb: Sandbox, name: str, cause: str, region: str = "us-east-1") -> Any:
    seeder = Seeder(sb.endpoint_url, MGMT_KEY.access_key_id, MGMT_KEY.secret_access_key)
    actor = seeder.admin()
    built = build_trail(actor, TrailSpec(account=MGMT, name=name, region=region))
    break_trail(actor, built, cause, time.time())
    sb.deliver()
    return built


async def planned(sb: Sandbox, name: str, code: str, kind: str) -> tuple[Engine, Plan]:
    engine = make_engine(sb, MGMT, "us-east-1")
    snap = await engine.sweep()
    view = find_view(snap, MGMT, "us-east-1", name)
    assert code in [f.code for f in view.findings]
    plan = next(p for p in plans_of(engine, snap, view) if p.id.startswith(kind + "-"))
    return engine, plan


def bucket_policy(sb: Sandbox, bucket: str) -> str:
    s3 = sb.boto3_client("s3", None, "us-east-1")
    return canonical(s3.get_bucket_policy(Bucket=bucket)["Policy"])


async def test_concurrent_edit_aborts_and_writes_nothing(env: Sandbox, tmp_path: Path) -> None:
    sb = env
    built = build_broken(sb, "rm-race", "S3_POLICY_DENIES_CLOUDTRAIL")
    engine, plan = await planned(sb, "rm-race", "S3_POLICY_DENIES_CLOUDTRAIL", "s3-policy")
    try:
        # Someone else edits the policy between plan and apply.
        s3 = sb.boto3_client("s3", None, "us-east-1")
        theirs = json.loads(s3.get_bucket_policy(Bucket=built.bucket)["Policy"])
        theirs["Statement"].append(
            {
                "Sid": "SomeoneElse",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MGMT}:root"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{built.bucket}/*",
            }
        )
        s3.put_bucket_policy(Bucket=built.bucket, Policy=json.dumps(theirs))
        edited = bucket_policy(sb, built.bucket)
        sb.reset_requests()

        audit = tmp_path / "audit.jsonl"
        result = await apply(
            plan, engine.collector, session_of(engine, MGMT), enabled=True, audit_path=audit
        )
        # Exactly the re-read reached AWS (after the caller identity): no write.
        ops = sorted(r["operation"] for r in sb.requests(account=MGMT)["counts"])
        assert ops == ["GetBucketPolicy", "GetCallerIdentity"]
        assert result.result == "aborted"
        assert "changed since the plan was made" in result.message
        assert "Nothing was written" in result.message
        assert bucket_policy(sb, built.bucket) == edited
        (line,) = audit_lines(audit)
        assert line["result"] == "aborted" and "changed since" in line["message"]
        assert_audit_clean(audit, sb)

        # A fresh plan from the new document keeps their statement and applies.
        snap = await engine.sweep()
        view = find_view(snap, MGMT, "us-east-1", "rm-race")
        fresh = next(p for p in plans_of(engine, snap, view) if p.id == plan.id)
        assert fresh.before == edited
        ok = await apply(
            fresh, engine.collector, session_of(engine, MGMT), enabled=True, audit_path=audit
        )
        assert ok.result == "applied", ok.message
        assert all(s in statements(bucket_policy(sb, built.bucket)) for s in statements(edited))
    finally:
        await engine.close()


async def test_disabled_remediation_writes_nothing(env: Sandbox, tmp_path: Path) -> None:
    sb = env
    built = build_broken(sb, "rm-disabled", "S3_POLICY_DENIES_CLOUDTRAIL")
    engine, plan = await planned(sb, "rm-disabled", "S3_POLICY_DENIES_CLOUDTRAIL", "s3-policy")
    try:
        before = bucket_policy(sb, built.bucket)
        sb.reset_requests()
        audit = tmp_path / "audit.jsonl"
        result = await apply(
            plan,
            engine.collector,
            session_of(engine, MGMT),
            enabled=engine.settings.remediation.enabled,
            audit_path=audit,
        )
        assert engine.settings.remediation.enabled is False
        assert result.result == "refused"
        assert "remediation is disabled" in result.message
        assert sb.requests()["total"] == 0  # not even a read
        assert bucket_policy(sb, built.bucket) == before
        (line,) = audit_lines(audit)
        assert line["result"] == "refused" and line["caller_arn"] is None
        sb.deliver()
        snap = await engine.sweep()
        view = find_view(snap, MGMT, "us-east-1", "rm-disabled")
        assert "S3_POLICY_DENIES_CLOUDTRAIL" in [f.code for f in view.findings]
    finally:
        await engine.close()


async def test_failed_call_is_reported_and_audited(env: Sandbox, tmp_path: Path) -> None:
    sb = env
    build_broken(sb, "rm-fail", "LOGGING_STOPPED")
    engine, plan = await planned(sb, "rm-fail", "LOGGING_STOPPED", "trail-start-logging")
    rule = sb.faults.add(
        "access_denied", service="cloudtrail", operation="StartLogging", account=MGMT
    )
    try:
        audit = tmp_path / "audit.jsonl"
        result = await apply(
            plan, engine.collector, session_of(engine, MGMT), enabled=True, audit_path=audit
        )
        assert result.result == "failed"
        assert result.completed == 0
        assert result.error is not None and "access denied" in result.error
        assert "nothing was changed" in result.message
        (line,) = audit_lines(audit)
        assert line["result"] == "failed" and line["error"] == result.error
        assert_audit_clean(audit, sb)
    finally:
        sb.faults.remove(rule)
        await engine.close()


async def test_retarget_plan_points_the_trail_at_another_bucket(
    env: Sandbox, tmp_path: Path
) -> None:
    sb = env
    built = build_broken(sb, "rm-retarget", "S3_BUCKET_MISSING")
    engine, plan = await planned(sb, "rm-retarget", "S3_BUCKET_MISSING", "trail-retarget")
    try:
        new_bucket = "rm-retarget-new-logs"
        s3 = sb.boto3_client("s3", None, "us-east-1")
        s3.create_bucket(Bucket=new_bucket)
        stmts = cloudtrail_bucket_statements(new_bucket, None, [MGMT], built.arn, MGMT)
        s3.put_bucket_policy(Bucket=new_bucket, Policy=json.dumps(policy_document(stmts)))

        unbound = await apply(
            plan,
            engine.collector,
            session_of(engine, MGMT),
            enabled=True,
            audit_path=tmp_path / "a.jsonl",
        )
        assert unbound.result == "refused" and "bucket" in unbound.message

        result = await apply(
            bind(plan, {"bucket": new_bucket}),
            engine.collector,
            session_of(engine, MGMT),
            enabled=True,
            audit_path=tmp_path / "a.jsonl",
        )
        assert result.result == "applied", result.message
        engine.request_full_refresh()  # the trail's configuration changed: re-describe
        sb.deliver()
        snap = await engine.sweep()
        view = find_view(snap, MGMT, "us-east-1", "rm-retarget")
        assert view.trail.s3_bucket == new_bucket
        codes = [f.code for f in view.findings]
        assert "S3_BUCKET_MISSING" not in codes and "S3_DELIVERY_ERROR" not in codes, codes
        assert (view.status or {}).get("LatestDeliveryTime") is not None
    finally:
        await engine.close()


async def test_separate_remediation_profile_makes_the_writes(env: Sandbox, tmp_path: Path) -> None:
    sb = env
    build_broken(sb, "rm-profile", "LOGGING_STOPPED")
    engine, plan = await planned(sb, "rm-profile", "LOGGING_STOPPED", "trail-start-logging")
    try:
        settings = RemediationSettings(
            enabled=True,
            profile="demo-mgmt",
            role_arn="arn:aws:iam::{account_id}:role/trailtop-remediate",
        )
        read = session_of(engine, MGMT)
        writer = await remediation_session(
            settings, read, engine.collector, account_id=MGMT, region="us-east-1"
        )
        assert writer is not read
        same = await remediation_session(
            RemediationSettings(enabled=True),
            read,
            engine.collector,
            account_id=MGMT,
            region="us-east-1",
        )
        assert same is read
        audit = tmp_path / "audit.jsonl"
        result = await apply(plan, engine.collector, writer, enabled=True, audit_path=audit)
        assert result.result == "applied", result.message
        assert result.caller_arn is not None
        assert ":assumed-role/trailtop-remediate/" in result.caller_arn
        (line,) = audit_lines(audit)
        assert line["caller_arn"] == result.caller_arn
        assert_audit_clean(audit, sb)
    finally:
        await engine.close()


async def test_credentials_of_another_account_abort(env: Sandbox, tmp_path: Path) -> None:
    sb = env
    build_broken(sb, "rm-wrong-acct", "LOGGING_STOPPED")
    engine, plan = await planned(sb, "rm-wrong-acct", "LOGGING_STOPPED", "trail-start-logging")
    try:
        other = await remediation_session(
            RemediationSettings(enabled=True, role_arn=f"arn:aws:iam::{PROD}:role/ci-deployer"),
            session_of(engine, MGMT),
            engine.collector,
            account_id=MGMT,
            region="us-east-1",
        )
        sb.reset_requests()
        result = await apply(
            plan, engine.collector, other, enabled=True, audit_path=tmp_path / "a.jsonl"
        )
        assert result.result == "aborted"
        assert PROD in result.message and MGMT in result.message
        assert sb.requests(operation="StartLogging")["total"] == 0
    finally:
        await engine.close()
