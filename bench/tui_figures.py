"""TUI figures: applying 5,000-view snapshots to the table, and key latency during sweeps.

- `table_apply`: the overview table fed by a fake source (tests/support/builders: 5,000 views over
  accounts x 17 regions, ~10% not ok); initial apply, then a 5% diff (views break or heal).
- `keys_during_sweeps`: the real app with the real engine in its Monitor thread against the
  sandbox estate; arrow keys are delivered through the driver (as a terminal would) while
  sweeps run, and the time until the cursor action ran is measured.
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


async def _keys_during_sweeps(settings: Any, sweeps: int, timeout: float) -> dict[str, Any]:
    from core.engine.monitor import Monitor
    from core.engine.sweep import engine_from_settings
    from tests.support.screens import count_actions, press_and_measure
    from tui.app import TrailtopApp

    monitor = Monitor(engine_from_settings(settings))
    app = TrailtopApp(monitor)
    applies: list[float] = []
    views = 0
    try:
        async with app.run_test(size=SIZE) as pilot:
            t0 = time.monotonic()
            await _wait(pilot, lambda: app.snapshots_applied >= 1, timeout)
            cold = time.monotonic() - t0
            applies.append(app.last_apply_seconds)
            views = len(app.snapshot.views) if app.snapshot else 0
            moves = count_actions(_table(app), "cursor_down", "cursor_up")
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
            await app.action_quit()
    finally:
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
        "snapshot_apply_seconds": applies,
    }


def keys_during_sweeps(settings: Any, sweeps: int = 2, timeout: float = 600) -> dict[str, Any]:
    return asyncio.run(_keys_during_sweeps(settings, sweeps, timeout))
