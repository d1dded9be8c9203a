"""Who broke it, against the emulated estate: LookupEvents over HTTP, counted at the server.

- every demo root cause gets its culprit (action, actor, time) from the manifest's story;
- a trail broken while the engine runs shows its culprit within two sweeps, and a steady
  broken estate costs no further LookupEvents;
- the limiter keeps LookupEvents at or under 2 per second per account-region, measured on
  the sandbox's own request log (arrival timestamps).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.aws.history import CulpritFinder, EventHistory
from core.engine.sweep import Engine, engine_from_settings
from core.model import Snapshot, TrailView
from core.report import snapshot_json
from core.settings import load_settings
from core.util.times import parse_time
from sandbox import Sandbox
from sandbox.estate import TrailSpec, break_trail, build_trail
from sandbox.profiles import MGMT_KEY
from sandbox.seeding import Seeder
from tests.support.engine import aws_env, settings_for

MGMT = "123456789012"
PROD = "111111111111"


def max_per_window(times: list[float], window: float = 1.0) -> int:
    """The most arrivals in any half-open window [t, t + window)."""
    ts = sorted(times)
    best = 0
    j = 0
    for i in range(len(ts)):
        while ts[i] - ts[j] >= window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_max_per_window_counts_what_it_should() -> None:
    assert max_per_window([0.0, 0.5, 1.0, 1.5]) == 2
    assert max_per_window([0.0, 0.4, 0.9, 2.0]) == 3
    assert max_per_window([]) == 0


def assert_rate_kept(log: list[dict[str, Any]]) -> None:
    by_target: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in log:
        by_target[(e["account"], e["region"])].append(e["t"])
    assert by_target, "no LookupEvents reached the sandbox"
    worst = {k: max_per_window(v) for k, v in by_target.items()}
    assert max(worst.values()) <= 2, worst
    assert {e["status"] for e in log} == {200}, "throttled or failed lookups"


def views_by_trail(snap: Snapshot) -> dict[tuple[str, str, str], TrailView]:
    return {(v.key.account_id, v.key.region, v.trail.arn): v for v in snap.views}


async def test_each_demo_root_cause_names_action_actor_and_time(sandbox: Sandbox) -> None:
    since = time.time()
    engine = engine_from_settings(settings_for(sandbox))
    try:
        with aws_env(sandbox):
            first = await engine.sweep()
            lookups = engine.culprits.lookups if engine.culprits else 0
            second = await engine.sweep()
    finally:
        await engine.close()
    views = views_by_trail(first)
    checked = 0
    for t in sandbox.manifest["trails"]:
        if not t["broken"]:
            continue
        by = t["broken_by"]
        view = views[(t["account"], t["home_region"], t["arn"])]
        root = next(f for f in view.findings if f.code == t["root_cause"])
        ce = root.cause_event
        assert ce is not None, (t["name"], t["root_cause"])
        assert ce["event_name"] == by["event"], t["name"]
        assert ce["actor"] == by["actor"], t["name"]
        assert abs(parse_time(ce["event_time"]) - parse_time(by["event_time"])) <= timedelta(  # type: ignore[operator]
            seconds=1
        ), t["name"]
        assert ce["before_last_delivery"] is False and ce["confidence"] == "high", ce
        assert ce["source_ip"] and ce["user_agent"] and ce["event"]["eventName"] == by["event"]
        # The symptom (the raw delivery error) is explained by the same change.
        for f in view.findings:
            if f.code.endswith("_DELIVERY_ERROR") or f.code == "SNS_NOTIFICATION_ERROR":
                assert f.cause_event is not None, (t["name"], f.code)
                assert f.cause_event["event_id"] == ce["event_id"], (t["name"], f.code)
        checked += 1
    assert checked >= 14
    # Healthy trails get no culprit: there is nothing to explain.
    for t in sandbox.manifest["trails"]:
        if not t["broken"] and t["bucket_account"] == t["account"]:
            for v in (v for k, v in views.items() if k[2] == t["arn"]):
                assert all(f.cause_event is None for f in v.findings), t["name"]
    # In the JSON output too.
    doc = snapshot_json(first)
    in_json = [f for v in doc["views"] for f in v["findings"] if "cause_event" in f]
    assert len(in_json) >= checked
    # The sweep after costs nothing, and what went out kept the rate.
    assert (engine.culprits.lookups if engine.culprits else 0) == lookups > 0
    log = sandbox.request_log(since=since, operation="LookupEvents")
    assert len(log) == lookups
    assert_rate_kept(log)
    culprits_second = {
        (v.id, f.code): f.cause_event["event_id"]
        for v in second.views
        for f in v.findings
        if f.cause_event
    }
    culprits_first = {
        (v.id, f.code): f.cause_event["event_id"]
        for v in first.views
        for f in v.findings
        if f.cause_event
    }
    assert culprits_second == culprits_first


async def test_limiter_keeps_two_per_second_per_account_region(sandbox: Sandbox) -> None:
    """Eight lookups at once in one account-region, two in another: counted at the server.

    The history uses the process-wide limiter, as every engine does, so lookups made by
    earlier tests in this process are accounted for too.
    """
    engine = engine_from_settings(settings_for(sandbox))
    history = EventHistory()
    try:
        with aws_env(sandbox):
            accounts, errors = await engine.collector.resolve_accounts(
                ["demo-prod"], ["eu-west-1"], [], None
            )
            assert not errors
            (account,) = accounts
            now = datetime.now(UTC)
            since = time.time()
            t0 = time.perf_counter()
            names = [f"no-such-resource-{i}" for i in range(8)]
            start = now - timedelta(days=1)
            jobs = [
                history.events(engine.collector, account, "eu-west-1", n, start, now, True)
                for n in names
            ] + [
                history.events(engine.collector, account, "us-east-1", n, start, now, True)
                for n in names[:2]
            ]
            results = await asyncio.gather(*jobs)
            elapsed = time.perf_counter() - t0
    finally:
        await history.close()
        await engine.close()
    assert all(list(r) == [] for r in results)
    log = sandbox.request_log(since=since, operation="LookupEvents", account=PROD)
    assert len(log) == 10 == history.requests
    assert_rate_kept(log)
    # 8 requests on 2 lanes, each lane free again 1 s after its request ended: >= 3 s.
    assert elapsed >= 3.0
    assert sum(1 for e in log if e["region"] == "us-east-1") == 2


@pytest.fixture(scope="module")
def live_sb() -> Iterator[Sandbox]:
    """An empty estate for this module's own trails; deliveries only when a test says."""
    box = Sandbox(scenario="empty", delivery_interval=3600).start()
    try:
        yield box
    finally:
        box.stop()


def engine_for(sb: Sandbox, region: str, finder: CulpritFinder) -> Engine:
    settings, _ = load_settings(
        None,
        {
            "aws": {
                "profiles": ["default"],
                "regions": [region],
                "endpoint_url": sb.endpoint_url,
            },
            "poll": {"diagnose_refresh_seconds": 0, "max_attempts": 1},
        },
    )
    engine = engine_from_settings(settings)
    engine.culprits = finder
    return engine


@pytest.mark.parametrize(
    ("wait_seconds", "region"),
    [(None, "us-east-1"), (0.0, "us-west-2")],
    ids=["in-sweep", "background"],
)
async def test_trail_broken_while_running_shows_its_culprit_within_two_sweeps(
    live_sb: Sandbox, wait_seconds: float | None, region: str
) -> None:
    sb = live_sb
    name = f"live-{region}"
    seeder = Seeder(sb.endpoint_url, MGMT_KEY.access_key_id, MGMT_KEY.secret_access_key)
    built = build_trail(
        seeder.admin(),
        TrailSpec(account=MGMT, name=name, region=region, validation=True),
        at=time.time() - 86400,
    )
    sb.deliver()
    finder = CulpritFinder(wait_seconds=wait_seconds)
    engine = engine_for(sb, region, finder)
    since = time.time()
    try:
        with aws_env(sb):
            healthy = await engine.sweep()
            (view,) = [v for v in healthy.views if v.trail.name == name]
            assert not [f for f in view.findings if f.cause_event]
            # Nothing to explain: not a single lookup.
            assert sb.request_log(since=since, operation="LookupEvents", region=region) == []

            ci = seeder.role(MGMT, "ci-deployer", "pipeline-99", "aws-cli/2.17.20", "203.0.113.99")
            broke_at = time.time()
            break_trail(ci, built, "S3_POLICY_DENIES_CLOUDTRAIL", broke_at)
            sb.deliver()

            sweeps = []
            for _ in range(2):
                snap = await engine.sweep()
                sweeps.append(snap)
                if wait_seconds is not None:
                    await finder.settle()  # what the engine's loop does between sweeps
            steady = await engine.sweep()
    finally:
        await engine.close()

    def culprit(snap: Snapshot) -> dict[str, Any] | None:
        (v,) = [v for v in snap.views if v.trail.name == name]
        f = next(f for f in v.findings if f.code == "S3_POLICY_DENIES_CLOUDTRAIL")
        return dict(f.cause_event) if f.cause_event else None

    got = culprit(sweeps[0]) or culprit(sweeps[1])
    assert got is not None
    if wait_seconds is None:
        assert culprit(sweeps[0]) is not None  # in-sweep: the very sweep that saw it
    else:
        # The sweep that saw the finding did not wait; the next one carries the culprit,
        # and tells the UI the view changed although its codes did not.
        assert culprit(sweeps[0]) is None and culprit(sweeps[1]) is not None
        (v1,) = [v for v in sweeps[1].views if v.trail.name == name]
        assert v1.id in sweeps[1].changed
    assert got["event_name"] == "PutBucketPolicy"
    assert got["actor"] == f"arn:aws:iam::{MGMT}:role/ci-deployer"
    assert got["caller_arn"].endswith("assumed-role/ci-deployer/pipeline-99")
    assert got["source_ip"] == "203.0.113.99"
    event_time = parse_time(got["event_time"])
    assert event_time is not None and abs(event_time.timestamp() - broke_at) <= 1.0
    assert got["before_last_delivery"] is False
    assert culprit(steady) == got
    # One lookup for the bucket, shared by the policy finding and both delivery errors;
    # none on the sweeps after.
    log = sb.request_log(since=since, operation="LookupEvents", region=region)
    assert len(log) == 1 == finder.lookups
    assert_rate_kept(log)
