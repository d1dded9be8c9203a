"""The TUI on the real engine: `TrailtopApp(Monitor(engine))` against the emulated estate.

No fakes: the Monitor sweeps the sandbox over HTTP on its own thread and calls back; the app
only marshals. Waiting is by condition with a deadline (`wait_for`), never by sleeping.
Timing figures are printed (run with `-s`), never asserted.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from textual import events

from core.engine.monitor import Monitor
from core.engine.sweep import engine_from_settings
from core.model import State
from sandbox import Sandbox
from tests.support.engine import aws_env, member_copy, settings_for
from tests.support.pilot import wait_for
from tests.support.screens import screen_text, statics_text
from tui.app import TrailtopApp
from tui.rows import COLUMNS, COVERAGE_PREFIX, STATE_WORD
from tui.screens.drilldown import DrilldownScreen
from tui.screens.overview import OverviewScreen
from tui.widgets.view_table import ViewTable

SIZE = (120, 40)
POLL = {"interval_seconds": 1}


@contextmanager
def engine_app(sb: Sandbox, **extra: Any) -> Iterator[tuple[TrailtopApp, Monitor]]:
    """The app on a Monitor for `sb`, with botocore pointed at the sandbox meanwhile."""
    with aws_env(sb):
        monitor = Monitor(engine_from_settings(settings_for(sb, poll=POLL, **extra)))
        app = TrailtopApp(monitor, title_hint="sandbox")
        try:
            yield app, monitor
        finally:
            t0 = time.perf_counter()
            monitor.stop()  # waits for a sweep in flight: Monitor.stop() does not cancel it
            print(f"\n[engine] Monitor.stop() took {time.perf_counter() - t0:.2f}s")


def table(app: TrailtopApp) -> ViewTable:
    return app.overview.table


def cell_text(app: TrailtopApp, rid: str) -> dict[str, str]:
    cells = table(app).shown_cells(rid)
    assert cells is not None, rid
    return {c.key: cell[0] for c, cell in zip(COLUMNS, cells, strict=True)}


def in_sweep(monitor: Monitor) -> bool:
    """True while the engine is between starting sweep n and emitting its snapshot."""
    engine = monitor.engine
    done = engine.previous.sweep if engine.previous is not None else 0
    return engine.sweep_no > done


def manifest_view_ids(sb: Sandbox) -> dict[str, dict[str, Any]]:
    """Every view the estate should produce, by the engine's id, with its trail's entry."""
    return {
        f"{v['account']}|{v['region']}|{t['arn']}": t
        for t in sb.manifest["trails"]
        for v in t["views"]
        if not member_copy(t, v)
    }


#: The codes whose severity is medium (warning), written out here rather than read from
#: trailtop so the expectation is independent; the other delivery codes the sandbox breaks
#: trails with are critical or high (failing); posture/info codes are ok.
WARNING_CODES = {"SNS_TOPIC_MISSING", "SNS_POLICY_DENIES_CLOUDTRAIL", "SNS_NOTIFICATION_ERROR"}
OK_CODES = {"MANAGED_ELSEWHERE", "LOG_FILE_VALIDATION_DISABLED", "NOT_KMS_ENCRYPTED"}


def manifest_counts(sb: Sandbox) -> dict[str, int]:
    """Counts by state as the sandbox's own manifest predicts them (not from trailtop code)."""
    out = {s.value: 0 for s in State}
    for t in sb.manifest["trails"]:
        for v in t["views"]:
            if member_copy(t, v):
                continue
            codes = set(v["expected_codes"]) - OK_CODES
            if codes - WARNING_CODES:
                out["failing"] += 1
            elif codes:
                out["warning"] += 1
            else:
                out["ok"] += 1
    return out


# ---------------------------------------------------------------------------- the demo estate


async def test_overview_shows_the_demo_estate(sandbox: Sandbox) -> None:
    counts = manifest_counts(sandbox)
    want = manifest_view_ids(sandbox)
    gaps = {f"{COVERAGE_PREFIX}{g['account']}|{g['region']}" for g in sandbox.manifest["uncovered"]}
    assert gaps, "the demo estate has an uncovered region"
    with engine_app(sandbox) as (app, monitor):
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None, 60, "the first sweep")
            assert monitor._thread is not threading.current_thread()
            snap = app.snapshot
            assert snap is not None

            # Header counts: what the sandbox's manifest predicts for this estate.
            header = screen_text(app).splitlines()[0]
            for state in State:
                assert f"{STATE_WORD[state]} {counts[state.value]} " in header, (state, header)
            assert f"{len(want)} views" in header
            assert f"+{len(gaps)} uncovered region" in header

            # Rows: every view the manifest promises, plus one row per uncovered region.
            t = table(app)
            shown = set(t.shown_ids())
            assert shown == set(want) | gaps, (set(want) ^ shown) - gaps
            for rid, trail in want.items():
                state = cell_text(app, rid)["state"].strip(" *").split()[0]
                if trail["broken"] or not trail["logging"]:
                    assert state in ("FAIL", "WARN"), (trail["name"], state)
            for rid in gaps:
                row = cell_text(app, rid)
                assert row["state"].strip(" *") == "FAIL" and row["trail"] == "(no trail)"
                assert row["finding"].startswith("REGION_NOT_COVERED")

            # Worst first: the first row is failing; drilling into it shows its findings.
            first = t.shown_ids()[0]
            assert app.models[first].view.state is State.FAILING
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DrilldownScreen), 10, "drill")
            body = statics_text(app.screen)
            assert app.models[first].view.findings[0].code in body
            assert "Root cause:" in body and "Evidence:" in body and "What to do:" in body
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, OverviewScreen), 10, "back")

            # The uncovered region: jump to it, drill down, read the finding.
            gap = sorted(gaps)[0]
            region = gap.rsplit("|", 1)[1]
            await pilot.press("f", "slash", *"uncovered", "enter")
            await wait_for(pilot, lambda: t.shown_ids() == sorted(gaps), 10, "the gap rows")
            await pilot.press("escape", "f", "colon", *region, "enter")
            await wait_for(pilot, lambda: t.cursor_view_id is not None, 10, "a cursor")
            assert app.models[t.cursor_view_id].view.key.region == region  # type: ignore[index]
            assert t.move_to(gap)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DrilldownScreen), 10, "drill")
            body = statics_text(app.screen)
            assert "REGION_NOT_COVERED" in body and "no logging trail records" in body
            await pilot.press("escape")


# ---------------------------------------------------------------------------- live breakage


def _healthy_single_region_trail(sb: Sandbox) -> dict[str, Any]:
    trails = sb.manifest["trails"]
    buckets = [t["bucket"] for t in trails]
    for t in reversed(trails):  # the last one: other healthy rows sort before it
        if (
            not t["broken"]
            and t["logging"]
            and not t["multi_region"]
            and not t["organization_trail"]
            and t["bucket_account"] == t["account"]
            and buckets.count(t["bucket"]) == 1
            and not t["kms_key_arn"]
        ):
            return t
    raise AssertionError("the estate has no healthy single-region trail to break")


#: A small private estate (seeds in a few seconds): 2 accounts x 3 regions, one trail of each
#: account multi-region, two single-region, one trail broken from the start.
SMALL = {"accounts": 2, "regions": 3, "trails": 3, "multi_region_trails": 1, "broken": 1}
BENCH_AWS = {"profiles": ["bench-mgmt"], "assume_roles": []}


async def test_trail_broken_while_running_turns_failing(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sb = sandbox_factory("bench", delivery_interval=3600, scenario_args=SMALL)
    sb.deliver()  # every healthy view has a fresh delivery before the app starts
    victim = _healthy_single_region_trail(sb)
    vid = f"{victim['account']}|{victim['home_region']}|{victim['arn']}"
    with engine_app(sb, aws=BENCH_AWS) as (app, monitor):
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: vid in app.models, 60, "the victim's row")
            assert app.models[vid].view.state is State.OK, app.models[vid].view.findings
            t = table(app)
            # The cursor sits on another view, one the victim will jump over when it re-sorts.
            ids = t.shown_ids()
            keep = next(r for r in ids if app.models[r].view.state is State.OK and r != vid)
            assert ids.index(keep) < ids.index(vid)
            assert t.move_to(keep)
            index_before = t.cursor_row

            s3 = sb.boto3_client("s3", account=victim["account"], region=victim["home_region"])
            s3.delete_bucket_policy(Bucket=victim["bucket"])
            sb.deliver()  # CloudTrail's next delivery attempt fails: AccessDenied
            started_before = monitor.engine.sweep_no  # sweeps after this one began after the break

            await wait_for(
                pilot,
                lambda: app.snapshot is not None and app.snapshot.sweep > started_before,
                30,
                "the next sweep",
            )
            snap = app.snapshot
            assert snap is not None
            print(f"\n[engine] broken after sweep {started_before} started; shown at {snap.sweep}")
            view = app.models[vid].view
            assert view.state is State.FAILING, [f.code for f in view.findings]
            codes = {f.code for f in view.findings}
            assert codes & {"S3_DELIVERY_ERROR", "S3_POLICY_DENIES_CLOUDTRAIL"}, codes
            assert cell_text(app, vid)["state"].startswith("*FAIL")  # highlighted as changed
            assert t.cursor_view_id == keep
            assert t.cursor_row == index_before + 1  # the victim moved up, above the cursor
            assert any(
                n.title == "Trail failing" and victim["name"] in n.message
                for n in app._notifications
            )


# ---------------------------------------------------------------------------- responsiveness

#: Hundreds of views from the real engine: enough to make a sweep and its snapshot apply
#: compete with key presses. Key latency at organization size is `make bench`'s to measure.
BENCH = {"accounts": 6, "regions": 17, "trails": 4, "multi_region_trails": 4}
MIN_VIEWS = 400


def _pct(xs: list[float]) -> str:
    q = statistics.quantiles(xs, n=20) if len(xs) >= 2 else xs * 19
    return (
        f"p50 {statistics.median(xs) * 1000:.1f}ms p95 {q[18] * 1000:.1f}ms "
        f"max {max(xs) * 1000:.1f}ms (n={len(xs)})"
    )


async def test_keys_responsive_during_bench_sweeps(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    """Key press -> screen update latency while the engine sweeps hundreds of views
    (printed; measured, not asserted)."""
    sb = sandbox_factory("bench", delivery_interval=3600, scenario_args=BENCH)
    sb.deliver()
    n_views = sb.manifest["size"]["views"]
    assert n_views >= MIN_VIEWS
    with engine_app(sb, aws=BENCH_AWS) as (app, monitor):
        async with app.run_test(size=SIZE) as pilot:
            # Heartbeat on the UI loop: how long the loop is ever blocked (engine work must
            # happen on the Monitor's thread, never here).
            # Beats are split: those during which the app applied a snapshot (UI work we own)
            # and the rest (anything else: GIL contention with the engine thread, the OS).
            gaps: list[float] = []
            apply_gaps: list[float] = []
            stop = asyncio.Event()
            measuring = asyncio.Event()

            async def heartbeat() -> None:
                last = time.perf_counter()
                applied = app.snapshots_applied
                while not stop.is_set():
                    await asyncio.sleep(0.005)
                    now = time.perf_counter()
                    if measuring.is_set() and in_sweep(monitor):
                        if app.snapshots_applied != applied:
                            apply_gaps.append(now - last - 0.005)
                        else:
                            gaps.append(now - last - 0.005)
                    applied = app.snapshots_applied
                    last = now

            beat = asyncio.create_task(heartbeat())
            await wait_for(pilot, lambda: app.snapshot is not None, 90, "the first sweep")
            first_apply = app.last_apply_seconds
            first_stats = app.last_table_stats
            assert app.snapshot is not None and len(app.snapshot.views) >= MIN_VIEWS
            assert monitor._loop is not asyncio.get_running_loop()  # the engine's own loop
            t = table(app)
            assert t.row_count >= MIN_VIEWS

            frames: list[float] = []
            display = app._display

            def recording_display(screen: Any, renderable: Any) -> None:
                if renderable is not None:
                    frames.append(time.perf_counter())
                display(screen, renderable)

            app._display = recording_display  # type: ignore[method-assign]
            acted: list[float] = []
            for name in ("cursor_down", "cursor_up"):
                original = getattr(t, f"action_{name}")

                def wrapped(original: Callable[[], None] = original) -> None:
                    original()
                    acted.append(time.perf_counter())

                setattr(t, f"action_{name}", wrapped)

            async def press(key: str) -> tuple[float, float]:
                n = len(acted)
                event = events.Key(key, None)
                event.set_sender(app)
                t0 = time.perf_counter()
                app._driver.send_message(event)  # type: ignore[union-attr]
                deadline = t0 + 20
                while len(acted) <= n or not frames or frames[-1] < acted[n]:
                    assert time.perf_counter() < deadline, "key press never reached the screen"
                    await asyncio.sleep(0.001)  # polls the condition; not synchronisation
                frame = next(f for f in frames if f >= acted[n])
                return acted[n] - t0, frame - t0

            applied_before = app.snapshots_applied
            applies: list[float] = []
            measuring.set()
            to_screen: list[float] = []
            to_action: list[float] = []
            deadline = time.monotonic() + 60
            i = 0
            # At least 30 presses, all while a sweep runs, until a sweep's snapshot has been
            # applied in between (so its apply cost is part of what the keys waited for).
            while len(to_screen) < 30 or app.snapshots_applied == applied_before:
                assert time.monotonic() < deadline, "no sweep completed during the presses"
                if not in_sweep(monitor):
                    await pilot.pause(0.01)
                    continue
                n_applied = app.snapshots_applied
                action, screen = await press("down" if i % 2 == 0 else "up")
                if app.snapshots_applied != n_applied:
                    applies.append(app.last_apply_seconds)
                to_action.append(action)
                to_screen.append(screen)
                i += 1
            stop.set()
            await beat
            app._display = display  # type: ignore[method-assign]
            applied = app.snapshots_applied - applied_before
            diff = app.last_table_stats
            assert applied >= 1 and len(to_screen) >= 30
            assert diff is not None and diff.added == diff.removed == 0
            print(
                f"\n[perf] real engine, bench {BENCH} = {n_views} views "
                f"({app.snapshot.stats.requests if app.snapshot else '?'} requests/sweep, "
                f"sweep {app.snapshot.duration if app.snapshot else 0:.1f}s):\n"
                f"  key -> screen during sweeps: {_pct(to_screen)}\n"
                f"  key -> action during sweeps: {_pct(to_action)}\n"
                f"  UI loop stalls while sweeping (5 ms beats): {_pct(gaps)}; beats spanning a "
                f"snapshot apply: max {max(apply_gaps, default=0) * 1000:.1f}ms\n"
                f"  snapshot apply: first {first_apply * 1000:.1f}ms "
                f"(table {first_stats.seconds * 1000 if first_stats else 0:.1f}ms, "
                f"{first_stats.added if first_stats else 0} rows added); "
                f"later {app.last_apply_seconds * 1000:.1f}ms "
                f"(table {diff.seconds * 1000:.1f}ms, {diff.updated_cells} cells, "
                f"{applied} applied during the presses: "
                f"{', '.join(f'{a * 1000:.0f}ms' for a in applies)})"
            )


@pytest.fixture(autouse=True)
def _no_leftover_engine_threads() -> Iterator[None]:
    before = {t.ident for t in threading.enumerate()}
    yield
    left = [
        t for t in threading.enumerate() if t.name == "trailtop-engine" and t.ident not in before
    ]
    assert not left, "a Monitor thread outlived its app"
