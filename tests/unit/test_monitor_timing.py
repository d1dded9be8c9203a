"""The Monitor's timing: sweeps never overlap or pile up, and the wall clock plays no part.

The engine here is a stand-in whose sweep takes longer than the interval and whose clock
jumps an hour back halfway: the Monitor keeps one sweep at a time and keeps sweeping.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from core.engine.monitor import Monitor
from core.engine.sweep import Engine
from core.model import Snapshot

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass
class _Poll:
    interval_seconds: float = 0.001


@dataclass
class _Settings:
    poll: _Poll = field(default_factory=_Poll)


@dataclass
class SlowEngine:
    """Each sweep outlasts the interval; the wall clock goes back an hour after sweep 3."""

    settings: _Settings = field(default_factory=_Settings)
    sweep_no: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    #: Sweep numbers after which the monitor settled the engine (collected its garbage).
    settled_after: list[int] = field(default_factory=list)

    def clock(self) -> datetime:
        return T0 if self.sweep_no <= 3 else T0 - timedelta(hours=1)

    async def sweep(self) -> Snapshot:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self.sweep_no += 1
            # Work that takes longer than the interval (20 ms against 1 ms).
            await asyncio.sleep(0.02)
            now = self.clock()
            return Snapshot(self.sweep_no, now, now, 0.02, (), ())
        finally:
            self.in_flight -= 1

    async def close(self) -> None:
        return None

    def request_full_refresh(self) -> None:
        return None

    def settle(self) -> float:
        # Recorded, not asserted: an assertion here would only kill the engine's thread.
        self.settled_after.append(self.sweep_no if self.in_flight == 0 else -1)
        return 0.0


def test_overrunning_sweeps_never_overlap_and_a_clock_jump_does_not_stop_them() -> None:
    engine = SlowEngine()
    monitor = Monitor(cast(Engine, engine))
    got: list[Snapshot] = []
    enough = threading.Event()

    def on_snapshot(snap: Snapshot) -> None:
        got.append(snap)
        if len(got) >= 8:
            enough.set()

    monitor.start(on_snapshot)
    try:
        # Refresh requests while a sweep runs must not start a second one.
        for _ in range(20):
            monitor.refresh()
        assert enough.wait(timeout=30), f"only {len(got)} sweeps"
    finally:
        monitor.stop()
    assert engine.most_in_flight == 1
    numbers = [s.sweep for s in got]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    # Sweeps went on after the wall clock went back an hour.
    assert any(s.generated_at < T0 for s in got)
    # Between sweeps, never during one, the monitor collected the last sweep's garbage.
    assert -1 not in engine.settled_after
    assert engine.settled_after[: len(got)] == numbers[: len(engine.settled_after)]
    assert len(engine.settled_after) >= len(got) - 1


def test_settle_collects_what_a_sweep_left_in_cycles() -> None:
    """Garbage in a reference cycle (an exception and its traceback's frame, say) is gone
    after `Engine.settle`, without waiting for Python's oldest generation to fill up."""
    import gc
    import weakref

    from core.settings import Settings

    class Node:
        other: object = None

    was_enabled = gc.isenabled()
    gc.disable()  # so only settle() can collect it
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None
        spent = Engine(Settings()).settle()
        assert gone() is None
        assert spent >= 0.0
    finally:
        if was_enabled:
            gc.enable()
