"""TUI figures: 5,000-view snapshots applied to the table, `--demo` start, key latency.

- `table_apply`: the overview table fed by a fake source (tests/support/builders: 5,000 views over
  accounts x 17 regions, ~10% not ok); initial apply, then a 5% diff (views break or heal).
- `keys_during_sweeps`: the real app with the real engine in its Monitor thread against the
  sandbox estate; arrow keys are delivered through the driver (as a terminal would) while
  sweeps run, and the time until the cursor action ran is measured.
- `demo_start`: the real `trailtop --demo` in a private tmux server (80x24), its pane read
  every 20 ms: seconds from launch to the first non-blank screen and to the first overview
  row; then `q`, and the sandbox process it started must be gone.
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
