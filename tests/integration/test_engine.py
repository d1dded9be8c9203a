"""The engine against the emulated estate over HTTP: accounts, views, verdicts, faults."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.engine.sweep import Engine, engine_from_settings
from core.model import Snapshot, State
from core.report import snapshot_json
from sandbox import Sandbox
from tests.support.engine import ROOT, aws_env, codes, settings_for


async def sweep(sb: Sandbox, engine: Engine | None = None, **extra: Any) -> Snapshot:
    own = engine is None
    engine = engine or engine_from_settings(settings_for(sb, **extra))
    try:
        with aws_env(sb):
            return await engine.sweep()
    finally:
        if own:
            await engine.close()


@pytest.fixture(scope="module")
def demo_snap(sandbox: Sandbox) -> Iterator[Snapshot]:
    import asyncio

    yield asyncio.run(sweep(sandbox))


def views_of(snap: Snapshot, account: str, arn: str) -> dict[str, Any]:
    return {
        v.key.region: v for v in snap.views if v.key.account_id == account and v.trail.arn == arn
    }


def test_every_account_is_reached_by_its_route(demo_snap: Snapshot, sandbox: Sandbox) -> None:
    m = sandbox.manifest
    reached = {t.account_id for t in demo_snap.targets}
    assert reached == set(m["accounts"])
    assert len(reached) >= 3
    # One through an explicit role ARN, one through the Organization.
    assert "222222222222" in reached
    assert {a["id"] for a in m["organization"]["members"]} <= reached
    assert all(t.ok for t in demo_snap.targets), [t for t in demo_snap.targets if not t.ok]
    regions = {t.region for t in demo_snap.targets}
    assert len(regions) >= 4 and regions == set(m["regions"])


def summarised(snap: Snapshot, t: dict[str, Any], account: str) -> bool:
    """A member's copy of an organization trail whose owner is reached is not a view: the
    owner's views carry the trail, and list the member among the accounts it covers."""
    return bool(
        t["organization_trail"]
        and account != t["account"]
        and any(c.trail_arn == t["arn"] and account in c.accounts for c in snap.organization_trails)
    )


def test_multi_region_trail_is_one_view_per_region(demo_snap: Snapshot, sandbox: Sandbox) -> None:
    multi = [t for t in sandbox.manifest["trails"] if t["multi_region"]]
    assert multi
    for t in multi:
        for acct in {v["account"] for v in t["views"]}:
            expected = {v["region"] for v in t["views"] if v["account"] == acct}
            got = set(views_of(demo_snap, acct, t["arn"]))
            assert got == (set() if summarised(demo_snap, t, acct) else expected), t["name"]


def test_an_organization_trail_is_read_once_from_its_owner(
    demo_snap: Snapshot, sandbox: Sandbox
) -> None:
    org = next(t for t in sandbox.manifest["trails"] if t["organization_trail"])
    members = {a["id"] for a in sandbox.manifest["organization"]["members"]}
    owner_views = views_of(demo_snap, org["account"], org["arn"])
    assert owner_views and all(v.org_coverage is not None for v in owner_views.values())
    cov = next(iter(owner_views.values())).org_coverage
    assert cov is not None and cov.read_from == org["account"]
    assert members | {org["account"]} <= set(cov.accounts) and not cov.unreachable
    # No member reads its status or shows it as a view of its own.
    assert not [
        v for v in demo_snap.views if v.trail.arn == org["arn"] and v.key.account_id in members
    ]
    assert demo_snap.organization_trails == (cov,)


def test_each_view_gets_the_sandboxs_expected_codes(demo_snap: Snapshot, sandbox: Sandbox) -> None:
    checked = 0
    for t in sandbox.manifest["trails"]:
        for mv in t["views"]:
            if summarised(demo_snap, t, mv["account"]):
                continue  # checked from the owner's views
            view = views_of(demo_snap, mv["account"], t["arn"]).get(mv["region"])
            assert view is not None, (t["name"], mv)
            got = codes(view)
            missing = set(mv["expected_codes"]) - got
            assert not missing, (t["name"], mv["region"], got)
            if t["broken"] or not t["logging"]:
                assert view.state in (State.FAILING, State.WARNING), (t["name"], got)
            checked += 1
    assert checked >= 20


def test_healthy_trails_have_no_false_positives(demo_snap: Snapshot, sandbox: Sandbox) -> None:
    healthy = [t for t in sandbox.manifest["trails"] if not t["broken"] and t["logging"]]
    assert len(healthy) >= 4
    for t in healthy:
        for view in views_of(demo_snap, t["account"], t["arn"]).values():
            assert view.state is State.OK, (
                t["name"],
                view.key.region,
                [f.code for f in view.findings],
            )
            bad = [f.code for f in view.findings if f.state is not State.OK]
            assert bad == [], (t["name"], bad)


def test_uncovered_region(demo_snap: Snapshot, sandbox: Sandbox) -> None:
    gaps = {(g.account_id, g.region): g for g in demo_snap.coverage}
    for u in sandbox.manifest["uncovered"]:
        assert "REGION_NOT_COVERED" in {f.code for f in gaps[(u["account"], u["region"])].findings}
    covered = {
        (v["account"], v["region"])
        for t in sandbox.manifest["trails"]
        if t["logging"]
        for v in t["views"]
    }
    assert not covered & set(gaps)


def test_stopped_trail(demo_snap: Snapshot, sandbox: Sandbox) -> None:
    for arn in sandbox.manifest["stopped"]:
        acct = arn.split(":")[4]
        views = views_of(demo_snap, acct, arn)
        assert views and all("LOGGING_STOPPED" in codes(v) for v in views.values())


def test_json_output_has_every_contract_key(demo_snap: Snapshot) -> None:
    doc = json.loads(json.dumps(snapshot_json(demo_snap)))
    assert {"generated_at", "summary", "targets", "views", "coverage"} <= set(doc)
    assert doc["generated_at"].endswith("Z")
    assert set(doc["summary"]) >= {"views", "ok", "warning", "failing", "unknown"}
    assert (
        doc["summary"]["views"]
        == len(doc["views"])
        == sum(doc["summary"][s] for s in ("ok", "warning", "failing", "unknown"))
    )
    for t in doc["targets"]:
        assert set(t) >= {"profile", "account_id", "region", "ok", "error"}
    view_keys = {
        "account_id",
        "profile",
        "region",
        "trail_name",
        "trail_arn",
        "home_region",
        "multi_region",
        "organization_trail",
        "state",
        "status",
        "findings",
    }
    for v in doc["views"]:
        assert view_keys <= set(v)
        assert v["state"] in ("ok", "warning", "failing", "unknown")
        for f in v["findings"]:
            assert set(f) >= {"code", "severity", "channel", "message", "evidence", "remediation"}
        for k in ("LatestDeliveryTime", "StartLoggingTime"):
            if v["status"] and v["status"].get(k):
                assert v["status"][k].endswith("Z")
    for g in doc["coverage"]:
        assert set(g) >= {"account_id", "region", "findings"}


async def test_fault_in_one_account_leaves_the_others_correct(
    sandbox: Sandbox, sandbox_faults: Any, demo_snap: Snapshot
) -> None:
    victim = "222222222222"
    sandbox_faults.add("throttle", service="cloudtrail", account=victim)
    snap = await sweep(sandbox, poll={"max_attempts": 1})
    for v in snap.views:
        if v.key.account_id == victim:
            assert v.state is State.UNKNOWN, v
            assert "Throttling" in v.findings[0].evidence["reason"]
        else:
            before = next((b for b in demo_snap.views if b.id == v.id), None)
            assert before is not None and v.state is before.state, v.id
    bad_targets = [t for t in snap.targets if not t.ok]
    assert bad_targets and {t.account_id for t in bad_targets} == {victim}
    # An account we cannot read is never claimed "not covered".
    assert not [g for g in snap.coverage if g.account_id == victim]


async def test_recovery_on_next_sweep_keeps_last_good_data(
    sandbox: Sandbox, sandbox_faults: Any
) -> None:
    engine = engine_from_settings(settings_for(sandbox, poll={"max_attempts": 1}))
    try:
        first = await sweep(sandbox, engine)
        victim = "111111111111"
        rule = sandbox_faults.add(
            "access_denied", service="cloudtrail", operation="GetTrailStatus", account=victim
        )
        second = await sweep(sandbox, engine)
        hit = [v for v in second.views if v.key.account_id == victim]
        assert hit and all(v.state is State.UNKNOWN for v in hit)
        # Last good status kept (for the drill-down) with its time, not yet stale.
        assert all(v.status is not None and v.status_sweep == first.sweep for v in hit)
        third = await sweep(sandbox, engine)
        assert all(v.stale for v in third.views if v.key.account_id == victim)
        assert sandbox_faults.remove(rule)
        fourth = await sweep(sandbox, engine)
        back = {v.id: v.state for v in fourth.views if v.key.account_id == victim}
        assert back == {v.id: v.state for v in first.views if v.key.account_id == victim}
        assert not any(v.stale for v in fourth.views)
    finally:
        await engine.close()


async def test_steady_state_rereads_nothing_that_did_not_change(sandbox: Sandbox) -> None:
    engine = engine_from_settings(settings_for(sandbox))
    try:
        first = await sweep(sandbox, engine)
        second = await sweep(sandbox, engine)
        assert first.stats.describe_calls > 0 and first.stats.diagnostic_calls > 0
        assert second.stats.describe_calls == 0
        assert second.stats.diagnostic_calls == 0
        assert second.stats.status_calls == len([v for v in second.views if v.trail.arn])
        assert {v.id: v.state for v in second.views} == {v.id: v.state for v in first.views}
    finally:
        await engine.close()


def run_cli(
    sb: Sandbox, tmp_path: Path, *args: str, config: str = ""
) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "trailtop.toml"
    cfg.write_text(config)
    env = sb.process_env()
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(cfg), "--once", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


HEALTHY_ONLY = """
[aws]
profiles = ["demo-mgmt"]
regions = ["eu-west-1"]
[thresholds]
s3_stale_seconds = 600
"""


def test_exit_codes_0_1_3(sandbox: Sandbox, sandbox_faults: Any, tmp_path: Path) -> None:
    everything = run_cli(
        sandbox, tmp_path, "--format", "json", "--profile", "demo-mgmt", "--profile", "demo-prod"
    )
    assert everything.returncode == 1, everything.stderr
    assert json.loads(everything.stdout)["summary"]["failing"] > 0

    ok = run_cli(sandbox, tmp_path, "--format", "table", config=HEALTHY_ONLY)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "FAILING" not in ok.stdout and "OK" in ok.stdout

    sandbox_faults.add(
        "access_denied", service="cloudtrail", operation="GetTrailStatus", account="123456789012"
    )
    unknown = run_cli(sandbox, tmp_path, "--format", "json", config=HEALTHY_ONLY)
    assert unknown.returncode == 3, unknown.stdout + unknown.stderr
    doc = json.loads(unknown.stdout)
    assert doc["summary"]["unknown"] == doc["summary"]["views"] > 0
    assert all("AccessDenied" in v["findings"][0]["evidence"]["reason"] for v in doc["views"])
    assert "Traceback" not in unknown.stderr


def test_unknown_profile_stops_at_start_with_the_known_ones(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A typo never fixes itself: exit 2 before any sweep, listing what the shared config
    defines (a profile failing at run time stays per row: test_faults)."""
    r = run_cli(
        sandbox,
        tmp_path,
        "--format",
        "json",
        "--profile",
        "no-such-profile",
        "--profile",
        "demo-mgmt",
        "--region",
        "eu-west-1",
    )
    assert r.returncode == 2, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr
    assert "profile 'no-such-profile' (from --profile)" in r.stderr
    assert "demo-mgmt" in r.stderr.split("Known profiles:")[1]


async def test_root_cause_found_before_cloudtrail_reports_an_error(
    sandbox_factory: Any,
) -> None:
    """A destination broken minutes ago has not failed a delivery yet: the cause shows anyway."""
    sb = sandbox_factory("demo", delivery_interval=3600)
    usw2 = sb.trail("staging-usw2")
    org = sb.trail("org-trail")
    engine = engine_from_settings(settings_for(sb, poll={"diagnose_refresh_seconds": 0}))
    try:
        before = await sweep(sb, engine)
        for t in (usw2, org):
            assert views_of(before, t["account"], t["arn"]), t["name"]
            assert all(
                v.state is State.OK for v in views_of(before, t["account"], t["arn"]).values()
            )

        # Break two destinations by hand; no delivery happens (interval 3600 s, no tick).
        s3 = sb.boto3_client("s3", account=usw2["account"], region=usw2["home_region"])
        s3.put_bucket_policy(
            Bucket=usw2["bucket"],
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "OwnerOnly",
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{usw2['account']}:root"},
                            "Action": "s3:*",
                            "Resource": f"arn:aws:s3:::{usw2['bucket']}/*",
                        }
                    ],
                }
            ),
        )
        sb.boto3_client("kms", account=org["account"], region=org["home_region"]).disable_key(
            KeyId=org["kms_key_arn"].rsplit("/", 1)[-1]
        )

        early = await sweep(sb, engine)
        v = views_of(early, usw2["account"], usw2["arn"])[usw2["home_region"]]
        assert {"S3_POLICY_DENIES_CLOUDTRAIL", "S3_POLICY_ACL_CHECK_MISSING"} <= codes(v)
        assert "LatestDeliveryError" not in (v.status or {})
        assert v.state is State.FAILING and v.id in early.changed
        for ov in views_of(early, org["account"], org["arn"]).values():
            assert "KMS_KEY_DISABLED" in codes(ov), ov.key.region
            assert "LatestDeliveryError" not in (ov.status or {})

        # CloudTrail's next delivery fails; the raw error is linked to the cause found earlier.
        sb.deliver()
        late = await sweep(sb, engine)
        v = views_of(late, usw2["account"], usw2["arn"])[usw2["home_region"]]
        raw = next(f for f in v.findings if f.code == "S3_DELIVERY_ERROR")
        assert "S3_POLICY_DENIES_CLOUDTRAIL" in raw.evidence["explained_by"]
        assert v.findings[0].code in {"S3_POLICY_DENIES_CLOUDTRAIL", "S3_POLICY_ACL_CHECK_MISSING"}
    finally:
        await engine.close()
