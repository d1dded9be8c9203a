"""TUI figures: 5,000-view snapshots applied to the table, `--demo` start, key latency, and
the overview at organization size.

- `table_apply`: the overview table fed by a fake source (tests/support/builders: 5,000 views over
  accounts x 17 regions, ~10% not ok); initial apply, then a 5% diff (views break or heal).
- `keys_during_sweeps`: the real app with the real engine in its Monitor thread against the
  sandbox estate; arrow keys are delivered through the driver (as a terminal would) while
  sweeps run, and the time until the cursor action ran is measured.
- `demo_start`: the real `trailtop --demo` in a private tmux server (80x24), its pane read
  every 20 ms: seconds from launch to the first non-blank screen and to the first overview
  row; then `q`, and the sandbox process it started must be gone.
- `org_figures`: a 1,000-account Organization (tests/support/builders.org_snapshot: the org
  trail's 17 views from the management account, a local trail in every tenth member) fed by
  a fake source: from a key press to the table showing the result (the action ran and the
  screen was repainted) for the filter, every sort key, the jumps and opening the org
  trail's drill-down; applying a new snapshot of that size, and the event loop's worst lag
  while the first complete one (after the first sweep's rows) is applied. Wall time and the UI thread's
  CPU time are both reported: on a loaded machine the wall figure includes waiting for a
  core. Given the settings of a live org estate, also key latency while the real engine
  sweeps it (`keys_during_sweeps`, with the event loop's worst stall).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

SIZE = (120, 40)


async def _wait(pilot: Any, cond: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met before the deadline")
        await pilot.pause()


def _table(app: Any) -> Any:
    from tui.widgets.view_table import ViewTable

    return app.query_one(ViewTable)


async def _table_apply_once(n: int, fraction: float) -> dict[str, float]:
    from tests.support.builders import bulk_views, make_snapshot, mutate
    from tests.support.fakes import FakeSource, frozen_clock
    from tui.app import TrailtopApp

    views = bulk_views(n)
    source = FakeSource(make_snapshot(views, sweep=1))
    app = TrailtopApp(source, clock=frozen_clock())
    async with app.run_test(size=SIZE) as pilot:
        await _wait(pilot, lambda: app.snapshots_applied >= 1, 60)
        first_table = app.last_table_stats.seconds
        first_total = app.last_apply_seconds
        new, changed = mutate(views, fraction)
        source.push(make_snapshot(new, sweep=2, changed=changed))
        await _wait(pilot, lambda: app.snapshots_applied >= 2, 60)
        stats = app.last_table_stats
        return {
            "views": n,
            "initial_table_seconds": first_table,
            "initial_apply_seconds": first_total,
            "diff_views": len(changed),
            "diff_cells": stats.updated_cells,
            "diff_table_seconds": stats.seconds,
            "diff_apply_seconds": app.last_apply_seconds,
        }


def table_apply(n: int = 5000, fraction: float = 0.05, runs: int = 3) -> dict[str, Any]:
    results = [asyncio.run(_table_apply_once(n, fraction)) for _ in range(runs)]
    out: dict[str, Any] = {"runs": results}
    for k in results[0]:
        out[k] = statistics.median(r[k] for r in results)
    return out


#: A key answered later than this is a stall (a miss of the key-latency target).
STALL_SECONDS = 0.25


class _LoopProbe:
    """How late the UI's event loop wakes a 10 ms timer: its worst lag is the longest time
    the loop could not have handled a key, whether or not a key was pressed then."""

    def __init__(self, app: Any, period: float = 0.01) -> None:
        self.app = app
        self.period = period
        #: (lag in seconds, whether a sweep was in progress)
        self.lags: list[tuple[float, bool]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.period)
            self.lags.append(
                (time.perf_counter() - t0 - self.period, self.app.sweep_status.sweeping)
            )

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def figures(self) -> dict[str, Any]:
        during = [lag for lag, sweeping in self.lags if sweeping]
        return {
            "loop_lag_max_ms": 1000 * max((lag for lag, _ in self.lags), default=0.0),
            "loop_lag_max_during_sweep_ms": 1000 * max(during, default=0.0),
            "loop_stalls_over_250ms": sum(1 for lag, _ in self.lags if lag > STALL_SECONDS),
        }


async def _keys_during_sweeps(
    settings: Any, sweeps: int, timeout: float, in_process: bool = True
) -> dict[str, Any]:
    from core.engine.monitor import Monitor
    from core.engine.process import ProcessMonitor
    from core.engine.protocols import SnapshotSource
    from core.engine.sweep import engine_from_settings
    from tests.support.screens import count_actions, press_and_measure
    from tui.app import TrailtopApp

    # The app runs its engine in a process of its own; a thread is the comparison.
    monitor: SnapshotSource = (
        ProcessMonitor(settings) if in_process else Monitor(engine_from_settings(settings))
    )
    app = TrailtopApp(monitor)
    applies: list[float] = []
    cold_keys: list[float] = []
    views = 0
    probe = _LoopProbe(app)
    try:
        async with app.run_test(size=SIZE) as pilot:
            probe.start()
            t0 = time.monotonic()
            moves = count_actions(_table(app), "cursor_down", "cursor_up")
            # Keys during the first (cold) sweep too: the engine works hardest then.
            while app.snapshots_applied < 1 and time.monotonic() - t0 < timeout:
                cold_keys.append(
                    await press_and_measure(
                        app,
                        "down" if len(cold_keys) % 2 == 0 else "up",
                        lambda n=moves[0]: moves[0] > n,
                    )
                )
                await asyncio.sleep(0.05)  # a fast typist: ~15 keys per second
            await _wait(pilot, lambda: app.snapshots_applied >= 1, timeout)
            cold = time.monotonic() - t0
            applies.append(app.last_apply_seconds)
            views = len(app.snapshot.views) if app.snapshot else 0
            idle = [
                await press_and_measure(app, k, lambda n=moves[0]: moves[0] > n)
                for k in ("down", "up") * 10
            ]
            during: list[float] = []
            target = app.snapshots_applied + sweeps
            seen = app.snapshots_applied
            i = 0
            deadline = time.monotonic() + timeout
            while app.snapshots_applied < target and time.monotonic() < deadline:
                sweeping = app.sweep_status.sweeping
                lat = await press_and_measure(
                    app, "down" if i % 2 == 0 else "up", lambda n=moves[0]: moves[0] > n
                )
                i += 1
                if sweeping:
                    during.append(lat)
                if app.snapshots_applied != seen:
                    seen = app.snapshots_applied
                    applies.append(app.last_apply_seconds)
                await asyncio.sleep(0.05)  # a fast typist: ~15 keys per second
            probe.stop()
            await app.action_quit()
    finally:
        probe.stop()
        monitor.stop()

    def pct(xs: list[float], q: int) -> float | None:
        if len(xs) < 2:
            return xs[0] if xs else None
        return statistics.quantiles(xs, n=100)[q - 1]

    return {
        "views": views,
        "first_snapshot_seconds": cold,
        "keys_idle": len(idle),
        "idle_p50_ms": 1000 * statistics.median(idle),
        "idle_p95_ms": 1000 * (pct(idle, 95) or 0),
        "keys_during_sweep": len(during),
        "sweep_p50_ms": 1000 * statistics.median(during) if during else None,
        "sweep_p95_ms": 1000 * (pct(during, 95) or 0) if during else None,
        "sweep_max_ms": 1000 * max(during) if during else None,
        "keys_over_250ms": sum(1 for x in during if x > STALL_SECONDS),
        "keys_during_cold_sweep": len(cold_keys),
        "cold_p95_ms": 1000 * (pct(cold_keys, 95) or 0) if cold_keys else None,
        "cold_max_ms": 1000 * max(cold_keys) if cold_keys else None,
        "cold_keys_over_250ms": sum(1 for x in cold_keys if x > STALL_SECONDS),
        "snapshot_apply_seconds": applies,
        **probe.figures(),
    }


def keys_during_sweeps(
    settings: Any, sweeps: int = 2, timeout: float = 600, in_process: bool = True
) -> dict[str, Any]:
    out = asyncio.run(_keys_during_sweeps(settings, sweeps, timeout, in_process))
    out["engine"] = "process" if in_process else "thread"
    return out


#: A row of the overview: a state word at the start of a line below the header.
_ROW_START = ("FAIL", "WARN", "UNKN", "OK", "*FAIL", "*WARN", "*UNKN", "*OK")


def _has_rows(text: str) -> bool:
    return any(line.split()[:1] and line.split()[0] in _ROW_START for line in text.splitlines()[2:])


def _demo_start_once(size: tuple[int, int], timeout: float) -> dict[str, Any]:
    """One `trailtop --demo` in a private tmux server: seconds from launch to the first
    non-blank screen and to the first overview row, then `q` and the sandbox checked gone."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    from tests.tui.tmux_smoke import alive, sandbox_children

    binary = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "trailtop"
    socket = f"trailtop-bench-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}

    def tmux(*args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", socket, *args], check=True, capture_output=True, text=True, env=env
        )
        return out.stdout

    if shutil.which("tmux") is None:
        raise RuntimeError("tmux is not installed")
    t0 = time.monotonic()
    tmux(
        "new-session", "-d", "-s", "b", "-x", str(size[0]), "-y", str(size[1]),
        "-e", "TERM=tmux-256color", "--", str(binary), "--demo",
    )  # fmt: skip
    out: dict[str, Any] = {"first_paint_seconds": None, "first_rows_seconds": None}
    try:
        pid = int(tmux("display-message", "-p", "-t", "b", "#{pane_pid}").strip())
        sandboxes: list[int] = []
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            text = tmux("capture-pane", "-p", "-t", "b")
            now = time.monotonic() - t0
            if out["first_paint_seconds"] is None and text.strip():
                out["first_paint_seconds"] = now
                out["first_screen"] = text
            if _has_rows(text):
                out["first_rows_seconds"] = now
                break
            sandboxes = sandboxes or sandbox_children(pid)
            time.sleep(0.02)  # polling interval of a condition with a deadline
        sandboxes = sandboxes or sandbox_children(pid)
        tmux("send-keys", "-t", "b", "q")
        deadline = time.monotonic() + 30
        while (alive(pid) or any(alive(p) for p in sandboxes)) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling interval of a condition with a deadline
        out["sandbox_left_running"] = [p for p in sandboxes if alive(p)]
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, env=env)
    return out


def demo_start(
    runs: int = 3, size: tuple[int, int] = (80, 24), timeout: float = 60
) -> dict[str, Any]:
    """Time to first paint and to first rows of `trailtop --demo` (medians over `runs`)."""
    results = [_demo_start_once(size, timeout) for _ in range(runs)]
    out: dict[str, Any] = {"size": f"{size[0]}x{size[1]}", "runs": results}
    for k in ("first_paint_seconds", "first_rows_seconds"):
        values = [r[k] for r in results if r[k] is not None]
        out[k] = statistics.median(values) if len(values) == len(results) else None
    return out


# ---------------------------------------------------------------------------- organization


class _GcClock:
    """Seconds the cyclic garbage collector ran (full collections are what stall a key:
    with ~170,000 objects live at organization size, one costs ~0.1-0.3 s), and how many
    full collections there were."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._t0
        self.full += info.get("generation") == 2


async def _press_shown(app: Any, key: str, done: Callable[[], bool]) -> tuple[float, ...]:
    """Wall and UI-thread CPU seconds from a key press (through the driver, as a terminal
    delivers it) until `done()` holds and the screen has been repainted, the part of it
    spent collecting garbage, and how many full collections ran meanwhile."""
    import gc

    from textual import events

    event = events.Key(key, None)
    event.set_sender(app)
    clock = _GcClock()
    gc.callbacks.append(clock)
    try:
        cpu0, t0 = time.thread_time(), time.perf_counter()
        app._driver.send_message(event)
        deadline = t0 + 30
        while not done():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"key {key!r} never took effect")
            await asyncio.sleep(0)  # poll the condition on the app's own loop
        # What the action queued (a table refresh, a layout) runs before the paint counts.
        for _ in range(1000):
            pumps = [app, app.screen, *app.screen.walk_children()]
            if all(p._message_queue.empty() for p in pumps):
                break
            await asyncio.sleep(0)
        app.screen._on_timer_update()  # layout and paint now, as the screen's timer would
        wall, cpu = time.perf_counter() - t0, time.thread_time() - cpu0
    finally:
        gc.callbacks.remove(clock)
    return wall, cpu, clock.seconds, float(clock.full)


def _summary(samples: list[tuple[float, ...]]) -> dict[str, float]:
    walls = [s[0] for s in samples]
    cpus = [s[1] for s in samples]
    # CPU less garbage collection: the action's own cost, apart from a full collection
    # that the allocations of earlier work (a snapshot) happened to trigger during it.
    own = [s[1] - s[2] for s in samples]
    return {
        "n": len(samples),
        "median_ms": 1000 * statistics.median(walls),
        "max_ms": 1000 * max(walls),
        "cpu_median_ms": 1000 * statistics.median(cpus),
        "cpu_max_ms": 1000 * max(cpus),
        "cpu_less_gc_median_ms": 1000 * statistics.median(own),
        "cpu_less_gc_max_ms": 1000 * max(own),
        "gc_max_ms": 1000 * max(s[2] for s in samples),
        "full_collections": sum(int(s[3]) for s in samples),
    }


async def _org_overview(accounts: int, unreachable: int, runs: int) -> dict[str, Any]:
    from dataclasses import replace

    from tests.support.builders import breaking, org_snapshot, recovering
    from tests.support.fakes import FakeSource, frozen_clock
    from tui.app import TrailtopApp
    from tui.rows import COLUMNS
    from tui.screens.drilldown import DrilldownScreen
    from tui.screens.overview import OverviewScreen

    snap = org_snapshot(accounts, unreachable)
    # The first sweep's rows come first (statuses only, no findings), as the engine sends
    # them; the complete snapshot that follows changes every row with a finding.
    first_rows = tuple(replace(v, findings=()) for v in snap.views)
    source = FakeSource(replace(snap, partial=True, views=first_rows))
    app = TrailtopApp(source, clock=frozen_clock())
    samples: dict[str, list[tuple[float, ...]]] = {}
    applies: dict[str, list[float]] = {"initial": [], "same_size_new_objects": [], "diff_5pct": []}
    probe = _LoopProbe(app)

    def add(name: str, sample: tuple[float, ...]) -> None:
        samples.setdefault(name, []).append(sample)

    async with app.run_test(size=SIZE) as pilot:
        await _wait(pilot, lambda: app.snapshots_applied >= 1, 60)
        await pilot.pause()
        # The first complete snapshot: the event loop's worst lag while it is applied
        # (and drawn, and its garbage collected).
        probe.start()
        source.push(snap)
        await _wait(pilot, lambda: app.snapshots_applied >= 2, 60)
        await pilot.pause(0.3)
        probe.stop()
        applies["initial"].append(app.last_apply_seconds)
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        table = overview.table
        org_ids = [r for r, m in app.models.items() if m.view.org_coverage is not None]
        sweep = 1
        for i in range(runs):
            # A new snapshot of the same estate (every object new, nothing changed), then one
            # where 5% of the views break or heal.
            sweep += 1
            n = app.snapshots_applied
            source.push(org_snapshot(accounts, unreachable, sweep=sweep))
            await _wait(pilot, lambda n=n: app.snapshots_applied > n, 60)
            applies["same_size_new_objects"].append(app.last_apply_seconds)
            views = list(source.last.views) if source.last else []
            changed = set()
            for k in range(i, len(views), 20):
                v = views[k]
                views[k] = recovering(v) if v.state.value == "failing" else breaking(v)
                changed.add(v.id)
            sweep += 1
            n = app.snapshots_applied
            source.push(replace(snap, sweep=sweep, views=tuple(views), changed=frozenset(changed)))
            await _wait(pilot, lambda n=n: app.snapshots_applied > n, 60)
            applies["diff_5pct"].append(app.last_apply_seconds)
            await pilot.pause()

            # Filter: open the prompt, type "org" (each key filters), keep it, clear it.
            add("filter_open", await _press_shown(app, "slash", overview.prompt_open))
            typed = ""
            for ch in "org":
                typed += ch
                add(
                    "filter_key",
                    await _press_shown(app, ch, lambda t=typed: overview.query_text == t),
                )
            add("filter_keep", await _press_shown(app, "enter", lambda: not overview.prompt_open()))
            assert table.row_count == len(org_ids), "the filter 'org' shows the org trail's rows"
            add("filter_clear", await _press_shown(app, "escape", lambda: not overview.query_text))
            add(
                "faults_only",
                await _press_shown(app, "f", lambda: overview.faults_only),
            )
            add(
                "faults_off",
                await _press_shown(app, "f", lambda: not overview.faults_only),
            )

            # Sort: every column's key (1..8), then reverse (S), then back to state.
            for idx, col in enumerate(COLUMNS):
                want = None if col.key == "state" else col.key
                if table.sort_column == want:
                    continue
                add(
                    f"sort_{col.key}",
                    await _press_shown(app, str(idx + 1), lambda w=want: table.sort_column == w),
                )
            rev = table.sort_reverse
            add(
                "sort_reverse",
                await _press_shown(app, "S", lambda rev=rev: table.sort_reverse != rev),
            )
            add("sort_state", await _press_shown(app, "1", lambda: table.sort_column is None))
            if table.sort_reverse:
                await _press_shown(app, "S", lambda: not table.sort_reverse)

            # Jumps: bottom, top, and `:` to an account near the end.
            last = table.row_count - 1
            add(
                "jump_bottom",
                await _press_shown(app, "G", lambda last=last: table.cursor_row == last),
            )
            add("jump_top", await _press_shown(app, "g", lambda: table.cursor_row == 0))
            target = org_ids[0].split("|", 1)[0] if i % 2 else f"member-{accounts - 5:04d}"
            add("jump_prompt_open", await _press_shown(app, "colon", overview.prompt_open))
            for ch in target:
                await _press_shown(app, ch, lambda: True)
            add(
                "jump_account",
                await _press_shown(app, "enter", lambda: not overview.prompt_open()),
            )
            cursor = table.cursor_view_id or ""
            view = app.models[cursor].view
            assert target in (view.key.account_id, view.account_alias), "the jump landed"

            # The org trail's drill-down (1,000 accounts), then back.
            table.move_to(org_ids[i % len(org_ids)])
            await pilot.pause()

            def drill_shown() -> bool:
                s = app.screen
                return (
                    isinstance(s, DrilldownScreen)
                    and s.view is not None
                    and s.query_one("#dd-accounts").size.height > 0
                )

            add("drilldown_open", await _press_shown(app, "enter", drill_shown))
            add("drilldown_back", await _press_shown(app, "escape", lambda: app.screen is overview))
            await pilot.pause()
    return {
        "accounts": accounts,
        "unreachable": unreachable,
        "first_complete_loop_lag_max_ms": probe.figures()["loop_lag_max_ms"],
        "rows": len(snap.views),
        "org_trail_rows": len(org_ids),
        "runs": runs,
        "apply_seconds": {
            k: {"median": statistics.median(v), "max": max(v)} for k, v in applies.items() if v
        },
        "actions": {k: _summary(v) for k, v in samples.items()},
    }


def org_figures(
    settings: Any | None = None,
    *,
    accounts: int = 1000,
    unreachable: int = 20,
    runs: int = 5,
    sweeps: int = 1,
    timeout: float = 1800,
) -> dict[str, Any]:
    """The TUI at organization size.

    Always: the overview and drill-down fed a synthetic `accounts`-account Organization
    (`overview`: median and max per action over `runs`, target 50 ms for filter, sort and
    jump, 100 ms for opening the drill-down). With `settings` (core.settings.Settings of a
    live org estate the caller started, e.g. the sandbox's org with `aws.endpoint_url` and
    `aws.organization.enabled`): key latency while the real engine sweeps it (`keys`: p95,
    worst key, the event loop's worst stall; a key or stall over 250 ms is a miss).
    """
    out: dict[str, Any] = {
        "overview": asyncio.run(_org_overview(accounts, unreachable, runs)),
        "targets_ms": {"filter_sort_jump": 50, "drilldown_open": 100, "stall": 250},
    }
    acts = out["overview"]["actions"]
    quick = [k for k in acts if k.startswith(("filter", "sort", "jump", "faults"))]
    out["overview"]["worst_filter_sort_jump_ms"] = max(acts[k]["max_ms"] for k in quick)
    out["overview"]["misses_over_50ms_median"] = sorted(
        k for k in quick if acts[k]["median_ms"] > 50
    )
    if settings is not None:
        out["keys"] = keys_during_sweeps(settings, sweeps=sweeps, timeout=timeout)
        # The same with the engine on a thread of the app's process, as before it had
        # a process of its own: what the process buys.
        out["keys_thread"] = keys_during_sweeps(
            settings, sweeps=sweeps, timeout=timeout, in_process=False
        )
    return out
