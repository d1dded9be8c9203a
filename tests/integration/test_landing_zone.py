"""The landing-zone layout, end to end: trailtop diagnoses an organization trail whose bucket
lives in a log-archive account and whose key lives in a security account, from the accounts
that own them, reached through the Organization role as an operator would configure it.

One sandbox for the module (``landing-zone`` scenario); each breakage test breaks the estate
in the owner account, checks the diagnosis, the culprit (behind 2,000+ newer read events)
and the plan's target account, applies the plan and sees the finding clear, so the estate is
healthy again for the next test. Deliveries happen when a test says (``sb.deliver()``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.engine.sweep import Engine, engine_from_settings
from core.judge.evaluate import view_covers_region
from core.model import Finding, Severity, Snapshot, TrailView
from core.settings import Settings, deep_merge, load_settings
from sandbox import Sandbox
from tests.support.engine import aws_env

SERIOUS = {Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM}
#: Breakages whose resource lives outside the trail's account, and those in it.
BREAKAGES = [
    "bucket_policy",
    "key_disabled",
    "key_pending_deletion",
    "key_policy",
    "topic_policy",
    "role_policy",
    "log_group_key_policy",
]


@pytest.fixture(scope="module")
def lz() -> Iterator[Sandbox]:
    sb = Sandbox(scenario="landing-zone", delivery_interval=3600.0).start()
    try:
        yield sb
    finally:
        sb.stop()


def lz_settings(sb: Sandbox, tmp: Path, **extra: Any) -> Settings:
    reach = sb.manifest["reach"]
    base: dict[str, Any] = {
        "aws": {
            "profiles": list(reach["profiles"]),
            "regions": [],
            "endpoint_url": sb.endpoint_url,
            "assume_roles": [{"role_arn": r} for r in reach["assume_roles"]],
            "organization": {"enabled": True, "role_name": reach["organization_role"]},
        },
        "poll": {"max_attempts": 2, "read_timeout_seconds": 10, "connect_timeout_seconds": 2},
        "remediation": {"enabled": True, "audit_log": str(tmp / "audit.jsonl")},
    }
    settings, _ = load_settings(None, deep_merge(base, extra))
    return settings


@pytest.fixture
async def engine(lz: Sandbox, tmp_path: Path) -> AsyncIterator[Engine]:
    with aws_env(lz):
        eng = engine_from_settings(lz_settings(lz, tmp_path))
        try:
            yield eng
        finally:
            await eng.close()


def org_views(sb: Sandbox, snap: Snapshot, account: str | None = None) -> list[TrailView]:
    arn = sb.manifest["landing_zone"]["org_trail_arn"]
    return [
        v
        for v in snap.views
        if v.trail.arn == arn and (account is None or v.key.account_id == account)
    ]


def serious(views: list[TrailView]) -> list[tuple[str, str, str]]:
    return [
        (v.key.account_id, v.key.region, f.code)
        for v in views
        for f in v.findings
        if f.severity in SERIOUS
    ]


async def test_the_healthy_landing_zone_raises_nothing_and_reads_every_destination(
    lz: Sandbox, engine: Engine
) -> None:
    ids = lz.manifest["landing_zone"]
    since = time.time()
    snap = await engine.sweep()
    assert all(t.ok for t in snap.targets), [t for t in snap.targets if not t.ok]
    # Owner discovery: at most one ListBuckets per reached account, none on the next sweep.
    listed = [e["account"] for e in lz.request_log(since=since, operation="ListBuckets")]
    assert listed and len(listed) == len(set(listed)) <= len(engine.accounts)
    # Event selectors: one GetEventSelectors per trail (not per view), by its owner when
    # reached, none on the next sweep; no trail of the estate leaves management events out.
    arns = {v.trail.arn for v in snap.views if v.trail.arn}
    read = lz.request_log(since=since, operation="GetEventSelectors")
    assert len(read) == len(arns) == 2, read
    again = time.time()
    await engine.sweep()
    assert lz.request_log(since=again, operation="ListBuckets") == []
    assert lz.request_log(since=again, operation="GetEventSelectors") == []
    assert serious(list(snap.views)) == []
    assert not [f for v in snap.views for f in v.findings if f.code == "TRAIL_NO_MANAGEMENT_EVENTS"]
    mgmt = org_views(lz, snap, ids["management"])
    assert mgmt, "the management account's views of its organization trail"
    for v in mgmt:
        codes = {f.code for f in v.findings}
        assert "DIAGNOSTICS_INCOMPLETE" not in codes, v.findings
        assert "MANAGED_ELSEWHERE" not in codes
    # Each destination was read in the account that owns it.
    diag: Any = engine.diagnoser
    assert diag.owner_of("bucket", ids["bucket"]) == ids["log_archive"]
    assert diag.owner_of("key", ids["key_arn"]) == ids["security"]
    assert diag.owner_of("topic", ids["topic_arn"]) == ids["management"]
    # The log group is KMS-encrypted; its key's policy lets CloudWatch Logs use it for it.
    group = diag.destinations[mgmt[0].key.id].log_group
    assert group is not None and group.data["kms_key"] == ids["log_group_key_arn"]
    assert "key_policy" in group.data
    # The trail is read once per region, from the management account; members (delegated
    # administrators included) are listed as covered, not shown as copies of it.
    cov = mgmt[0].org_coverage
    assert cov is not None and cov.read_from == ids["management"]
    assert {ids["workload_prod"], *ids["delegated_admins"]} <= set(cov.accounts)
    assert not org_views(lz, snap, ids["workload_prod"])


def root_cause_of(done: dict[str, Any], views: list[TrailView]) -> Finding:
    """The breakage's root cause on one of `views`, its evidence naming the owner account."""
    hits = [f for v in views for f in v.findings if f.code == done["root_cause"]]
    assert hits, [(v.key.region, [f.code for f in v.findings]) for v in views]
    assert hits[0].evidence.get("owner_account") == done["account"]
    return hits[0]


async def plan_clears_it(
    lz: Sandbox, eng: Engine, snap: Snapshot, finding: Finding, done: dict[str, Any],
    reader: str | None,
) -> None:  # fmt: skip
    """The finding's plan is aimed at the owner account; applying it clears the finding
    (and everything serious) on the reader's views by the second sweep after the next
    delivery."""
    assert finding.plan_ids, finding
    plan = snap.plans[finding.plan_ids[0]]
    assert plan.account_id == done["account"]
    result, _after = await eng.apply_plan(plan.id, confirm_extra=True)
    assert result.result == "applied", result
    lz.deliver()
    await eng.sweep()
    final = await eng.sweep()
    left = [
        (v.key.region, f.code)
        for v in org_views(lz, final, reader)
        for f in v.findings
        if f.code == done["root_cause"] or f.severity in SERIOUS
    ]
    assert left == []


@pytest.mark.parametrize("kind", BREAKAGES)
async def test_a_breakage_is_diagnosed_in_its_owner_account_and_its_plan_clears_it(
    lz: Sandbox, engine: Engine, kind: str
) -> None:
    ids = lz.manifest["landing_zone"]
    done = lz.landing_zone.break_(kind, minutes_ago=30)
    assert done["noise"] >= 2000
    lz.deliver()
    snap = await engine.sweep()
    # The evidence names the account that owns the broken resource.
    finding = root_cause_of(done, org_views(lz, snap, ids["management"]))
    # Who broke it: the breaking event, from the owner account's Event history, found
    # although 2,000+ newer read events name the same resource.
    cause = finding.cause_event
    assert cause is not None, finding
    assert cause["event_name"] == done["event"]
    assert cause["actor"] == done["actor"]
    await plan_clears_it(lz, engine, snap, finding, done, ids["management"])


async def test_a_trail_whose_selectors_log_no_management_events_does_not_cover_its_region(
    lz: Sandbox, engine: Engine
) -> None:
    ids = lz.manifest["landing_zone"]
    local = next(t for t in lz.manifest["trails"] if t["account"] == ids["workload_prod"])
    region = local["home_region"]
    ct = lz.boto3_client("cloudtrail", account=ids["workload_prod"], region=region)
    data_only = [
        {
            "ReadWriteType": "All",
            "IncludeManagementEvents": False,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}],
        }
    ]
    ct.put_event_selectors(TrailName=local["arn"], EventSelectors=data_only)
    try:
        snap = await engine.sweep()
    finally:
        # Back to AWS's default selector, for the other tests of this sandbox.
        ct.put_event_selectors(
            TrailName=local["arn"],
            EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}],
        )
    view = next(v for v in snap.views if v.trail.arn == local["arn"])
    found = [f for f in view.findings if f.code == "TRAIL_NO_MANAGEMENT_EVENTS"]
    assert len(found) == 1, view.findings
    evidence = found[0].evidence
    assert evidence["region"] == region and evidence["trail_arn"] == local["arn"]
    assert evidence["EventSelectors"][0]["IncludeManagementEvents"] is False
    assert found[0].severity is Severity.LOW and view.state.value == "ok"
    # Who set the selectors: PutEventSelectors, in the trail owner's Event history.
    assert found[0].cause_event is not None and (
        found[0].cause_event["event_name"] == "PutEventSelectors"
    )
    # The view is logging but records no management event: it does not cover its region;
    # the organization trail still does, so the account-region is not a gap.
    assert view.status is not None and view.status["IsLogging"] is True
    assert view_covers_region(view.status, view.findings) is False
    org = org_views(lz, snap, ids["management"])
    assert any(
        v.key.region == region
        and view_covers_region(v.status, v.findings)
        and v.org_coverage is not None
        and ids["workload_prod"] in v.org_coverage.accounts
        for v in org
    )
    assert (ids["workload_prod"], region) not in {(g.account_id, g.region) for g in snap.coverage}


async def test_without_the_management_account_the_delegated_administrator_reads_the_trail(
    lz: Sandbox, tmp_path: Path
) -> None:
    """An operator working from the security account (CloudTrail's delegated administrator),
    reaching the other members but not the management account: the trail is read from the
    administrator, once per region, not from every member; a breakage is diagnosed there and
    its plan, made from the administrator's view, clears it."""
    ids = lz.manifest["landing_zone"]
    mgmt, security = ids["management"], ids["security"]
    assert ids["delegated_admins"] == [security]
    role = lz.manifest["organization"]["role_name"]
    lz.add_role_profile("lz-security", f"arn:aws:iam::{security}:role/{role}", "lz-mgmt")
    members = [ids["log_archive"], ids["workload_prod"], ids["workload_dev"]]
    settings = lz_settings(
        lz,
        tmp_path,
        aws={
            "profiles": ["lz-security"],
            "assume_roles": [{"role_arn": f"arn:aws:iam::{m}:role/{role}"} for m in members],
            "organization": {"enabled": False},
        },
    )
    with aws_env(lz):
        eng = engine_from_settings(settings)
        try:
            snap = await eng.sweep()
            reached = {a.account_id for a in eng.accounts}
            assert mgmt not in reached and {security, *members} <= reached
            assert eng.collector.trail_admins == {mgmt: frozenset({security})}
            views = org_views(lz, snap)
            assert views and {v.key.account_id for v in views} == {security}
            assert {v.key.region for v in views} == set(lz.manifest["regions"])
            for v in views:
                assert "MANAGED_ELSEWHERE" not in {f.code for f in v.findings}, v.findings
            cov = views[0].org_coverage
            assert cov is not None and cov.read_from == security
            assert cov.read_as == "delegated_administrator"
            assert {mgmt, security, *members} <= set(cov.accounts)
            assert set(cov.unreachable) == {mgmt}
            # What lives in the unreached management account (the topic, the log group and
            # its role) is "cannot tell", naming that account, never "missing".
            incomplete = [
                f for v in views for f in v.findings if f.code == "DIAGNOSTICS_INCOMPLETE"
            ]
            assert incomplete, [f.code for v in views for f in v.findings]
            assert all(mgmt in f.message for f in incomplete), [f.message for f in incomplete]
            # The members are covered by the trail the administrator reads: no gap.
            assert [(c.account_id, c.region) for c in snap.coverage] == []
            assert serious(views) == []

            # A passing failure of the question (throttled past the retries) keeps the
            # answer: the members' copies do not come back as views.
            rule = lz.faults.add(
                "throttle",
                service="organizations",
                operation="ListDelegatedAdministrators",
                account=security,
            )
            try:
                eng.request_full_refresh()
                since = time.time()
                snap = await eng.sweep()
                asked = lz.request_log(since=since, operation="ListDelegatedAdministrators")
                assert asked, "the question was asked again and failed"
            finally:
                assert lz.faults.remove(rule)
            assert eng.collector.trail_admins == {mgmt: frozenset({security})}
            assert {v.key.account_id for v in org_views(lz, snap)} == {security}

            done = lz.landing_zone.break_("bucket_policy", minutes_ago=30)
            lz.deliver()
            snap = await eng.sweep()
            views = org_views(lz, snap)
            assert {v.key.account_id for v in views} == {security}
            finding = root_cause_of(done, views)
            await plan_clears_it(lz, eng, snap, finding, done, None)

            # Deregistered: Organizations now refuses the security account, nobody reads
            # the trail, and in the same sweep every member's copy is a view again
            # (MANAGED_ELSEWHERE), none left collapsed without a reader. Only the accounts
            # are resolved again (as after a credentials error), not a full refresh: the
            # change of reader alone has every account described again.
            lz.landing_zone.deregister_delegated_admin(security)
            try:
                eng._force_resolve = True
                snap = await eng.sweep()
            finally:
                lz.landing_zone.register_delegated_admin(security)
            assert eng.collector.trail_admins == {}
            views = org_views(lz, snap)
            assert {v.key.account_id for v in views} == {security, *members}
            assert all("MANAGED_ELSEWHERE" in {f.code for f in v.findings} for v in views)
            assert not snap.organization_trails
            assert not any(eng.collapsed.values())
        finally:
            await eng.close()
