"""The engine in its own process (core/engine/process.py): snapshots over the pipe,
commands back, and nothing left running after stop."""

from __future__ import annotations

import os
import queue
import threading
from typing import Any

import pytest

from core.engine.process import EngineOptions, ProcessMonitor
from core.engine.protocols import Phase
from core.fix.model import REFUSED
from core.model import Snapshot
from sandbox import Sandbox
from tests.support.engine import aws_env, settings_for

WAIT = 120.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_engine_process_sweeps_answers_and_stops(sandbox: Sandbox) -> None:
    snaps: queue.Queue[Snapshot] = queue.Queue()
    events: list[tuple[Phase, str]] = []
    caller = threading.get_ident()
    threads: set[int] = set()

    def on_snapshot(snap: Snapshot) -> None:
        threads.add(threading.get_ident())
        snaps.put(snap)

    # Spawned ahead of its settings and of the sandbox's environment (as the demo does):
    # both are handed over by start(), so the child reaches the sandbox's profiles.
    monitor = ProcessMonitor(None, EngineOptions(partial_first_sweep=True, nice=1))
    monitor.spawn()
    pid = monitor.pid
    with aws_env(sandbox):
        monitor.settings = settings_for(
            sandbox, poll={"interval_seconds": 3600}, remediation={"enabled": False}
        )
        monitor.start(on_snapshot, lambda p, d: events.append((p, d)))
    assert monitor.pid == pid, "start() used the child spawned ahead"
    try:
        assert pid is not None and pid != os.getpid() and _alive(pid)
        # The first sweep's rows come before its diagnostics, then the complete sweep.
        # (Partials come every second while accounts answer, the last once all are read.)
        partials = [snaps.get(timeout=WAIT)]
        while partials[-1].partial:
            partials.append(snaps.get(timeout=WAIT))
        first = partials.pop()
        early = partials[-1]
        assert partials and all(p.sweep == 1 and not p.plans for p in partials)
        assert not first.partial and first.sweep == 1 and first.organization_trails
        assert {v.id for v in early.views} == {v.id for v in first.views}
        assert caller not in threads, "callbacks come from the pipe's thread"
        # EngineOptions.nice: the child runs below the parent's priority.
        assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0) + 1
        said = [d for p, d in events if p is Phase.PROGRESS]
        assert any("of 4 accounts" in d for d in said) and any("diagnosing" in d for d in said)
        # A refresh asks for the next sweep at once (the interval is an hour).
        monitor.refresh()
        second = snaps.get(timeout=WAIT)
        assert second.sweep == 2 and not second.partial, "partial rows on the first sweep only"
        # A plan is applied in the child; remediation is off here, so it is refused there,
        # and the answer comes back through the pipe.
        plan_id = next(iter(first.plans))
        answers: queue.Queue[tuple[Any, Any]] = queue.Queue()
        monitor.apply_plan(plan_id, lambda r, s: answers.put((r, s)))
        result, _snap = answers.get(timeout=WAIT)
        assert result is not None and result.plan_id == plan_id and result.result == REFUSED
        assert (Phase.SWEEP_FINISHED, "sweep 1") in events
    finally:
        # Stopped from two threads at once (the app stops its source on a thread of its
        # own while its owner stops it too): neither raises, the child is gone.
        other = threading.Thread(target=monitor.stop)
        other.start()
        monitor.stop()
        other.join(timeout=30)
    assert not _alive(pid), "the engine process is gone after stop"
    # Commands after stop do nothing and do not raise; an apply is answered with None.
    monitor.refresh()
    late: list[Any] = []
    monitor.apply_plan("x", lambda r, s: late.append(r))
    assert late == [None]


def test_a_child_spawned_ahead_and_never_started_stops() -> None:
    """The demo spawns the engine before its estate is up; quitting during startup stops
    a child that never got its settings, and a start after stop spawns nothing."""
    monitor = ProcessMonitor(None)
    monitor.spawn()
    pid = monitor.pid
    assert pid is not None and _alive(pid)
    with pytest.raises(ValueError, match="needs settings"):
        monitor.start(lambda _s: None)
    monitor.stop()
    assert not _alive(pid), "the engine process is gone after stop"
    monitor.spawn()
    assert monitor.pid is None
