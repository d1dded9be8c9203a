"""Fault matrix against the emulated estate: the real engine (headless) and the real Monitor
under the TUI. Each fault must leave affected views `unknown` with the reason (never `ok`),
keep their last good status and mark it stale with its age, leave the other views live, and
clear on the next sweep without a restart. Headless, an incomplete verdict exits 3.

Fast on purpose: `max_attempts=1` and 1 s timeouts where retries are not the point; one
engine is shared by the matrix (each case starts by proving the previous one recovered).
Waiting is by condition with a deadline, never by sleeping.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.aws.diagnose import DestinationDiagnoser
from core.engine.monitor import Monitor
from core.engine.sweep import Engine
from core.model import Snapshot, State, TrailView
from core.report import EXIT_OK, EXIT_UNKNOWN, exit_code, snapshot_json, to_table
from core.util.times import iso
from sandbox import Sandbox
from tests.support.engine import ROOT, aws_env, settings_for
from tests.support.pilot import wait_for
from tests.support.screens import screen_text, statics_text
from tui.app import TrailtopApp
from tui.screens.drilldown import DrilldownScreen

MGMT = "123456789012"
PROD = "111111111111"  # profile demo-prod (role_arn + source_profile)
STAGING = "222222222222"  # assume_roles
REGIONS = ["us-east-1", "eu-west-1"]
FAST = {
    "max_attempts": 1,
    "read_timeout_seconds": 1,
    "connect_timeout_seconds": 1,
    # Re-resolve accounts and re-describe on every sweep, so every fault also hits those paths.
    "describe_every_sweeps": 1,
}


class EngineRunner:
    """One engine on one private event loop, driven synchronously by the tests."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.runner = asyncio.Runner()

    def sweep(self) -> Snapshot:
        return self.runner.run(self.engine.sweep())

    def close(self) -> None:
        self.runner.run(self.engine.close())
        self.runner.close()


@pytest.fixture(scope="module")
def matrix_engine(sandbox: Sandbox) -> Iterator[EngineRunner]:
    with aws_env(sandbox):
        settings = settings_for(sandbox, aws={"regions": REGIONS}, poll=FAST)
        # Destination diagnostics on (their reads share the faults); culprit lookups off:
        # they are rate limited like AWS (2 req/s) and are not what this matrix is about.
        r = EngineRunner(
            Engine(settings, diagnoser=DestinationDiagnoser(settings.poll.diagnose_refresh_seconds))
        )
        try:
            first = r.sweep()
            assert first.views and all(t.ok for t in first.targets)
            yield r
        finally:
            r.close()


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    params: dict[str, Any]
    #: (account, region or None for every region) pairs whose views the fault hits.
    victims: tuple[tuple[str | None, str | None], ...]
    reason: str
    #: False when the fault hits DescribeTrails only: statuses are still read, so the
    #: views stay live and only their target reports the error.
    views_unknown: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("endpoint-down", "drop", {}, ((None, None),), "connection closed"),
    Case(
        "drop-status",
        "drop",
        {"service": "cloudtrail", "operation": "GetTrailStatus", "account": STAGING},
        ((STAGING, None),),
        "connection closed",
    ),
    Case(
        "throttle-status",
        "throttle",
        {"service": "cloudtrail", "operation": "GetTrailStatus", "account": STAGING},
        ((STAGING, None),),
        "throttled (retries exhausted): ThrottlingException on GetTrailStatus",
    ),
    Case(
        "throttle-describe",
        "throttle",
        {"service": "cloudtrail", "operation": "DescribeTrails", "account": STAGING},
        ((STAGING, None),),
        "ThrottlingException on DescribeTrails",
        views_unknown=False,
    ),
    Case(
        "5xx-persistent",
        "5xx",
        {"service": "cloudtrail", "operation": "GetTrailStatus", "account": PROD, "status": 503},
        ((PROD, None),),
        "service error: ServiceUnavailable",
    ),
    Case(
        "slow-beyond-read-timeout",
        "latency",
        {
            "service": "cloudtrail",
            "operation": "GetTrailStatus",
            "account": STAGING,
            "latency_ms": 2500,
        },
        ((STAGING, None),),
        "read timeout",
    ),
    Case(
        "denied-status-one-account",
        "access_denied",
        {"service": "cloudtrail", "operation": "GetTrailStatus", "account": STAGING},
        ((STAGING, None),),
        "access denied: AccessDeniedException on GetTrailStatus",
    ),
    Case(
        "denied-describe-one-account",
        "access_denied",
        {"service": "cloudtrail", "operation": "DescribeTrails", "account": MGMT},
        ((MGMT, None),),
        "access denied: AccessDeniedException on DescribeTrails",
        views_unknown=False,
    ),
    Case(
        # Every call made with profile demo-prod's credentials is refused, its
        # GetCallerIdentity included: the profile fails at account resolution.
        "expired-profile",
        "expired_token",
        {"account": PROD},
        ((PROD, None),),
        "credentials rejected: ExpiredToken",
    ),
    Case(
        "expired-assumed-role",
        "expired_token",
        {"service": "cloudtrail", "account": STAGING},
        ((STAGING, None),),
        "credentials rejected: ExpiredTokenException",
    ),
    Case(
        "region-disabled",
        "region_disabled",
        {"account": STAGING, "region": "eu-west-1"},
        ((STAGING, "eu-west-1"),),
        "UnrecognizedClientException",
    ),
]


def _hit(v: TrailView | Any, case: Case) -> bool:
    acct = v.key.account_id if isinstance(v, TrailView) else v.account_id
    region = v.key.region if isinstance(v, TrailView) else v.region
    return any(a in (None, acct) and r in (None, region) for a, r in case.victims)


def _reason(v: TrailView) -> str:
    return next((f.evidence["reason"] for f in v.findings if f.code == "STATUS_UNAVAILABLE"), "")


def incomplete_verdict_exit(snap: Snapshot, base_ok: set[str]) -> int:
    """The exit status of this sweep over the views that were ok before the fault."""
    keep = tuple(v for v in snap.views if v.id in base_ok or not v.trail.arn)
    return exit_code(replace(snap, views=keep, coverage=()))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault_matrix_headless(
    matrix_engine: EngineRunner, sandbox_faults: Any, case: Case
) -> None:
    base = matrix_engine.sweep()
    # Clean start (this also proves the previous case recovered without a restart).
    assert all(t.ok for t in base.targets), [t for t in base.targets if not t.ok]
    assert not [v for v in base.views if v.state is State.UNKNOWN]
    before = {v.id: v for v in base.views}
    base_ok = {v.id for v in base.views if v.state is State.OK}
    victims = [v for v in base.views if _hit(v, case)]
    others = [v for v in base.views if not _hit(v, case)]
    assert victims, "the case must hit some view"

    rule = sandbox_faults.add(case.kind, **case.params)
    t0 = time.monotonic()
    hit = matrix_engine.sweep()
    stale = matrix_engine.sweep()
    faulted_seconds = time.monotonic() - t0
    assert sandbox_faults.remove(rule)
    back = matrix_engine.sweep()

    # Nothing vanishes: every view of the clean sweep is still listed (unknown or live).
    assert set(before) <= {v.id for v in hit.views}
    by_id = {v.id: v for v in hit.views}
    for b in victims:
        v = by_id[b.id]
        if case.views_unknown:
            assert v.state is State.UNKNOWN, (case.id, v.id, v.state)
            assert case.reason in _reason(v), (case.id, _reason(v))
            # Last good data kept (for the drill-down), with its time; not stale yet.
            assert v.status == b.status and v.status_sweep == base.sweep
            assert v.status_at == b.status_at and not v.stale
        else:
            assert v.state is b.state and v.status_sweep == hit.sweep, (case.id, v.id)
    for b in others:
        v = by_id[b.id]
        assert v.state is b.state and v.status_sweep == hit.sweep, (case.id, v.id)
        assert not v.stale
    # Targets: the affected ones carry the reason, the rest stay ok.
    bad = [t for t in hit.targets if not t.ok]
    assert bad and all(case.reason in (t.error or "") for t in bad if t.account_id), bad
    assert all(t.ok for t in hit.targets if t.account_id and t.region and not _hit(t, case)), (
        case.id
    )
    # Never "not covered" because we could not see.
    assert {(g.account_id, g.region) for g in hit.coverage} <= {
        (g.account_id, g.region) for g in base.coverage
    }
    assert incomplete_verdict_exit(hit, base_ok) == EXIT_UNKNOWN

    # Two sweeps later the kept data is stale, with its age, in every output.
    if case.views_unknown:
        doc = {v["trail_arn"] + v["region"] + v["account_id"]: v for v in
               snapshot_json(stale)["views"]}  # fmt: skip
        for b in victims:
            v = next(x for x in stale.views if x.id == b.id)
            assert v.state is State.UNKNOWN and v.stale
            j = doc[b.trail.arn + b.key.region + b.key.account_id]
            assert j["stale"] is True and j["status_read_at"] == iso(b.status_at)
            assert j["status"] is not None
            age = v.findings[0].evidence["last_success_age_seconds"]
            assert age is not None and age >= 0
        assert "UNKNOWN*" in to_table(stale)

    # Recovery on the next sweep, same engine.
    assert all(t.ok for t in back.targets), [t for t in back.targets if not t.ok]
    assert {v.id: v.state for v in back.views} == {i: b.state for i, b in before.items()}
    assert not [v for v in back.views if v.stale]
    assert incomplete_verdict_exit(back, base_ok) == EXIT_OK
    # A dead or slow endpoint costs timeouts, not minutes.
    assert faulted_seconds < 20, faulted_seconds


# ------------------------------------------------------------------------ retries


def light_engine(sb: Sandbox, **extra: Any) -> Engine:
    """The real engine without destination diagnostics or culprit lookups (fast cold sweeps)."""
    return Engine(settings_for(sb, **extra))


@pytest.mark.parametrize("kind", ["5xx", "throttle"])
def test_burst_within_retry_budget_is_absorbed(
    sandbox: Sandbox, sandbox_faults: Any, kind: str
) -> None:
    with aws_env(sandbox):
        r = EngineRunner(
            light_engine(sandbox, aws={"regions": REGIONS}, poll={**FAST, "max_attempts": 3})
        )
        try:
            r.sweep()
            rule = sandbox_faults.add(
                kind, service="cloudtrail", operation="GetTrailStatus", account=STAGING, count=2
            )
            snap = r.sweep()
        finally:
            r.close()
    applied = next(x for x in sandbox_faults.list() if x["id"] == rule)["applied"]
    assert applied == 2  # the burst happened...
    assert all(t.ok for t in snap.targets)  # ...and retries absorbed it
    assert not [v for v in snap.views if v.state is State.UNKNOWN]
    # Each throttled attempt is counted (the watcher's metric), retries included.
    assert snap.stats.throttled == (2 if kind == "throttle" else 0)


# ------------------------------------------------------------------------ credentials


def test_assumed_role_credentials_refresh_and_refresh_failure(
    sandbox: Sandbox, sandbox_faults: Any
) -> None:
    """Assumed-role keys are refreshed when they expire; a failed refresh is one target's
    `unknown` with the reason, and the next good refresh recovers it."""
    with aws_env(sandbox):
        r = EngineRunner(light_engine(sandbox, aws={"regions": REGIONS}, poll={"max_attempts": 1}))
        try:
            r.sweep()
            # The session the engine polls STAGING with (both profiles could reach it; the
            # role is assumed once, through the first route).
            staging = next(a for a in r.engine.accounts if a.account_id == STAGING)
            creds = staging.session._credentials

            def expire() -> None:
                # The expiry AWS gave us has passed (as after an hour of running).
                creds._expiry_time = datetime.now(UTC) - timedelta(minutes=1)

            def access_key() -> str:
                return str(r.runner.run(creds.get_frozen_credentials()).access_key)

            old_key = access_key()
            expire()
            since = time.time()
            snap = r.sweep()
            assumes = sandbox.request_log(since, service="sts", operation="AssumeRole")
            assert assumes, "expired role credentials were not refreshed"
            assert access_key() != old_key
            assert not [v for v in snap.views if v.state is State.UNKNOWN]

            expire()
            rule = sandbox_faults.add(
                "access_denied", service="sts", operation="AssumeRole", account=MGMT
            )
            failed = r.sweep()
            hit = [v for v in failed.views if v.key.account_id == STAGING and v.trail.arn]
            assert hit and all(v.state is State.UNKNOWN for v in hit)
            assert all("AssumeRole" in _reason(v) for v in hit), [_reason(v) for v in hit]
            assert all(v.status is not None for v in hit)  # last good data kept
            others = [v for v in failed.views if v.key.account_id != STAGING]
            assert others and not [v for v in others if v.state is State.UNKNOWN]

            assert sandbox_faults.remove(rule)
            back = r.sweep()
            assert all(t.ok for t in back.targets)
            assert not [v for v in back.views if v.state is State.UNKNOWN]
        finally:
            r.close()


# ------------------------------------------------------------------------ regions, endpoints


def test_opt_in_region_not_enabled_is_unknown_not_ok(sandbox: Sandbox) -> None:
    with aws_env(sandbox):
        r = EngineRunner(
            light_engine(
                sandbox,
                aws={"profiles": ["demo-mgmt"], "regions": ["eu-west-1", "af-south-1"]},
                poll=FAST,
            )
        )
        try:
            snap = r.sweep()
        finally:
            r.close()
    # Only what is read there fails: the views of trails that cover the region. An account
    # with no trail of its own there is not called there, so it has nothing to fail.
    rows = [v for v in snap.views if v.key.region == "af-south-1"]
    read = {v.key.account_id for v in rows}
    off = [t for t in snap.targets if t.region == "af-south-1" and t.account_id in read]
    assert off and not any(t.ok for t in off)
    assert all("UnrecognizedClientException" in (t.error or "") for t in off)
    assert rows and all(v.state is State.UNKNOWN and _reason(v) for v in rows)
    assert not [g for g in snap.coverage if g.region == "af-south-1"]
    on = [v for v in snap.views if v.key.region == "eu-west-1"]
    assert on and not [v for v in on if v.state is State.UNKNOWN]


def free_port() -> int:
    """A port nothing listens on (bound, then released; nobody is started on it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_then_endpoint_comes_up(
    sandbox: Sandbox, sandbox_factory: Callable[..., Sandbox]
) -> None:
    port = free_port()
    closed = f"http://127.0.0.1:{port}"
    with aws_env(sandbox):
        r = EngineRunner(
            light_engine(
                sandbox,
                aws={
                    "profiles": ["demo-mgmt"],
                    "regions": ["eu-west-1"],
                    "endpoint_url": closed,
                    "assume_roles": [],
                    "organization": {"enabled": False},
                },
                poll=FAST,
            )
        )
        try:
            t0 = time.monotonic()
            down = r.sweep()
            assert time.monotonic() - t0 < 10
            assert down.targets and not any(t.ok for t in down.targets)
            assert all(f"endpoint unreachable: {closed}" in (t.error or "") for t in down.targets)
            assert down.views and all(v.state is State.UNKNOWN for v in down.views)
            assert exit_code(down) == EXIT_UNKNOWN
            # The endpoint comes up (an empty estate, same static keys) on that very port.
            sandbox_factory("empty", port=port)
            up = r.sweep()
            assert up.targets and all(t.ok for t in up.targets), up.targets
            assert not [v for v in up.views if v.state is State.UNKNOWN]
        finally:
            r.close()


# ------------------------------------------------------------------------ headless exit 3

HEALTHY_ONLY = """
[aws]
profiles = ["demo-mgmt"]
regions = ["eu-west-1"]
[poll]
max_attempts = 1
read_timeout_seconds = 1
connect_timeout_seconds = 1
[thresholds]
s3_stale_seconds = 600
"""


def run_cli(sb: Sandbox, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "trailtop.toml"
    cfg.write_text(HEALTHY_ONLY)
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(cfg), "--once", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=sb.process_env(),
        timeout=120,
    )


@pytest.mark.parametrize(
    ("kind", "params", "args"),
    [
        ("throttle", {"service": "cloudtrail", "operation": "DescribeTrails"}, ()),
        (None, {}, ("--endpoint-url", "CLOSED")),
    ],
    ids=["throttled-describe", "connection-refused"],
)
def test_headless_incomplete_verdict_exits_3(
    sandbox: Sandbox,
    sandbox_faults: Any,
    tmp_path: Path,
    kind: str | None,
    params: dict[str, Any],
    args: tuple[str, ...],
) -> None:
    if kind:
        sandbox_faults.add(kind, account=MGMT, **params)
    args = tuple(f"http://127.0.0.1:{free_port()}" if a == "CLOSED" else a for a in args)
    r = run_cli(sandbox, tmp_path, "--format", "json", *args)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    doc = json.loads(r.stdout)
    assert doc["summary"]["ok"] == 0 and doc["summary"]["unknown"] == doc["summary"]["views"] > 0
    assert all(not t["ok"] and t["error"] for t in doc["targets"])
    if not kind:
        table = run_cli(sandbox, tmp_path, "--format", "table", *args)
        assert table.returncode == 3 and "UNREACHABLE" in table.stdout
        assert "Traceback" not in table.stderr


# ------------------------------------------------------------------------ the TUI on the Monitor

SIZE = (160, 45)


def rows(app: TrailtopApp) -> list[TrailView]:
    return [m.view for m in app.models.values()]


TUI_CASES = [
    Case(
        "drop-status",
        "drop",
        {"service": "cloudtrail", "operation": "GetTrailStatus", "account": STAGING},
        ((STAGING, None),),
        "connection closed",
    ),
    Case(
        "slow-beyond-read-timeout",
        "latency",
        {
            "service": "cloudtrail",
            "operation": "GetTrailStatus",
            "account": STAGING,
            "latency_ms": 2500,
        },
        ((STAGING, None),),
        "read timeout",
    ),  # fmt: skip
    Case(
        "expired-profile",
        "expired_token",
        {"account": PROD},
        ((PROD, None),),
        "ExpiredToken",
    ),
]


@pytest.mark.parametrize("case", TUI_CASES, ids=[c.id for c in TUI_CASES])
async def test_fault_matrix_tui_on_the_monitor(
    sandbox: Sandbox, sandbox_faults: Any, case: Case
) -> None:
    settings = settings_for(
        sandbox,
        aws={"regions": REGIONS},
        poll={**FAST, "interval_seconds": 1, "describe_every_sweeps": 2},
    )
    with aws_env(sandbox):
        monitor = Monitor(Engine(settings))
        app = TrailtopApp(monitor, title_hint="faults")
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: app.snapshot is not None, 30, "first sweep")
                base = {v.id: v for v in rows(app)}
                victims = [v for v in base.values() if v.trail.arn and _hit(v, case)]
                others = [v for v in base.values() if v.trail.arn and not _hit(v, case)]
                assert victims and others
                assert not [v for v in base.values() if v.state is State.UNKNOWN]

                rule = sandbox_faults.add(case.kind, **case.params)
                start = app.snapshot.sweep  # type: ignore[union-attr]

                def view(vid: str) -> TrailView | None:
                    m = app.models.get(vid)
                    return m.view if m else None

                def affected() -> bool:
                    return all(
                        (v := view(b.id)) is not None and v.state is State.UNKNOWN for b in victims
                    )

                await wait_for(pilot, affected, 30, "victims unknown")
                # Unaffected views stay live: read in this very sweep, same state.
                snap = app.snapshot
                assert snap is not None and snap.sweep > start
                for b in others:
                    v = view(b.id)
                    assert v is not None and v.state is b.state and v.status_sweep == snap.sweep
                text = screen_text(app)
                assert "UNKN" in text and "STATUS_UNAVAILABLE" in text

                # Responsive while faulted: a filter narrows the table at once.
                await pilot.press("f")
                await wait_for(pilot, lambda: app.overview.faults_only, 5, "faults-only on")
                await pilot.press("f")
                await wait_for(pilot, lambda: not app.overview.faults_only, 5, "faults-only off")

                # Kept data turns stale with its age; the drill-down shows reason and data.
                first = victims[0]
                await wait_for(
                    pilot, lambda: bool((v := view(first.id)) and v.stale), 30, "stale mark"
                )
                assert "UNKN ~" in screen_text(app)
                app.open_drilldown(first.id)
                await wait_for(
                    pilot, lambda: isinstance(app.screen, DrilldownScreen), 5, "drill-down"
                )
                await pilot.pause()
                body = statics_text(app.screen, width=400)
                assert case.reason in body, body[:2000]
                assert "STALE" in body and "IsLogging" in body  # the last good status
                await pilot.press("escape")

                assert sandbox_faults.remove(rule)
                await pilot.press("r")  # recovery without a restart
                await wait_for(
                    pilot,
                    lambda: all(
                        (v := view(b.id)) is not None and v.state is b.state and not v.stale
                        for b in victims
                    ),
                    30,
                    "recovery",
                )
                assert app.is_running and app.return_value is None
        finally:
            monitor.stop()


async def test_tui_unknown_profile_and_refused_endpoint_rows(sandbox: Sandbox) -> None:
    """Config-level faults: rows of their own with the reason; the rest stays live."""
    settings = settings_for(
        sandbox,
        aws={"profiles": ["no-such-profile", "demo-mgmt"], "regions": ["eu-west-1"]},
        poll={**FAST, "interval_seconds": 1},
    )
    with aws_env(sandbox):
        monitor = Monitor(Engine(settings))
        app = TrailtopApp(monitor)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(
                    pilot,
                    lambda: app.snapshot is not None and app.snapshot.sweep >= 2,
                    30,
                    "two sweeps",
                )
                bad = [v for v in rows(app) if v.profile == "no-such-profile"]
                assert bad and all(v.state is State.UNKNOWN for v in bad)
                assert "unknown profile: no-such-profile" in _reason(bad[0])
                good = [v for v in rows(app) if v.profile == "demo-mgmt" and v.trail.arn]
                assert good and all(v.status_sweep == app.snapshot.sweep for v in good)  # type: ignore[union-attr]
                assert "no-such-profile" in screen_text(app)
        finally:
            monitor.stop()

    closed = f"http://127.0.0.1:{free_port()}"
    settings = settings_for(
        sandbox,
        aws={"profiles": ["demo-mgmt"], "regions": ["eu-west-1"], "endpoint_url": closed,
             "assume_roles": [], "organization": {"enabled": False}},
        poll={**FAST, "interval_seconds": 1},
    )  # fmt: skip
    with aws_env(sandbox):
        monitor = Monitor(Engine(settings))
        app = TrailtopApp(monitor)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(
                    pilot,
                    lambda: app.snapshot is not None and app.snapshot.sweep >= 2,
                    30,
                    "two sweeps",
                )
                assert rows(app) and all(v.state is State.UNKNOWN for v in rows(app))
                text = screen_text(app)
                assert "endpoint unreachable" in text and "OK 0" in text
                await pilot.press("question_mark")
                await wait_for(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen",
                               5, "help")  # fmt: skip
                assert app.is_running
        finally:
            monitor.stop()


def test_without_list_trails_an_account_is_described_region_by_region(
    sandbox: Sandbox, sandbox_faults: Any
) -> None:
    """ListTrails refused (a policy without it): the same views, from DescribeTrails in
    each region of that account only."""
    with aws_env(sandbox):
        r = EngineRunner(light_engine(sandbox, aws={"regions": REGIONS}, poll=FAST))
        try:
            clean = r.sweep()
            rule = sandbox_faults.add(
                "access_denied", service="cloudtrail", operation="ListTrails", account=STAGING
            )
            since = time.time()
            denied = r.sweep()
            assert sandbox_faults.remove(rule)
        finally:
            r.close()
    assert {v.id: v.state for v in denied.views} == {v.id: v.state for v in clean.views}
    assert all(t.ok for t in denied.targets), [t for t in denied.targets if not t.ok]
    described = sandbox.request_log(since=since, operation="DescribeTrails")
    per_region = {e["region"] for e in described if e["account"] == STAGING}
    assert per_region == set(REGIONS)
    listed = sandbox.request_log(since=since, operation="ListTrails")
    assert {e["account"] for e in listed} >= {MGMT, PROD}, "the others still list"
