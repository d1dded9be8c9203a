"""A fake SnapshotSource for the TUI tests (no engine, no AWS), and a frozen clock.

`FakeSource.push()` delivers from a separate thread, exactly like the real engine does.
The data it delivers is built with `tests.support.builders`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime

from core.engine.protocols import ApplyCallback, EventCallback, Phase, SnapshotCallback
from core.fix.model import REFUSED, ApplyResult
from core.model import Snapshot
from tests.support.builders import T0


def frozen_clock(at: datetime = T0) -> Callable[[], datetime]:
    return lambda: at


class FakeSource:
    """A SnapshotSource that emits what the test tells it to, from its own thread.

    It is a `RemediatingSource` too (`apply_plan`, like core.engine.monitor.Monitor):
    every call is recorded in `applies`; the outcome is `apply_outcome` (applied / failed /
    aborted / refused) with `apply_message`; a plan needing extra confirmation is refused
    without `confirm_extra`, as the engine does. When applied, `after_apply(plan_id)` (if
    set) gives the re-poll snapshot, delivered to the snapshot callback before `on_done`.
    `apply_gate` (an Event) holds the answer until set, so a test can see "applying…".
    """

    def __init__(self, initial: Snapshot | None = None) -> None:
        self.initial = initial
        self.on_snapshot: SnapshotCallback | None = None
        self.on_event: EventCallback | None = None
        self.refreshes: list[str | None] = []
        self.stopped = 0
        self.started = threading.Event()
        self.last: Snapshot | None = None
        self.applies: list[tuple[str, bool, Mapping[str, str] | None]] = []
        self.apply_outcome = "applied"
        self.apply_message = ""
        self.apply_gate: threading.Event | None = None
        self.after_apply: Callable[[str], Snapshot | None] | None = None

    def apply_plan(
        self,
        plan_id: str,
        on_done: ApplyCallback,
        *,
        confirm_extra: bool = False,
        bindings: Mapping[str, str] | None = None,
    ) -> None:
        self.applies.append((plan_id, confirm_extra, bindings))

        def run() -> None:
            if self.apply_gate is not None:
                self.apply_gate.wait(30)
            plan = self.last.plans.get(plan_id) if self.last is not None else None
            outcome, message = self.apply_outcome, self.apply_message
            if plan is None:
                outcome, message = REFUSED, f"no plan {plan_id} in the current sweep"
            elif plan.needs_extra_confirmation and not confirm_extra:
                outcome, message = REFUSED, "this plan needs extra confirmation"
            result = ApplyResult(plan_id, outcome, message or f"{outcome}: {plan_id}")
            snap = None
            if outcome == "applied" and self.after_apply is not None:
                snap = self.after_apply(plan_id)
                if snap is not None and self.on_snapshot is not None:
                    self.last = snap
                    self.on_snapshot(snap)
            on_done(result, snap)

        threading.Thread(target=run, name="fake-engine-apply", daemon=True).start()

    def start(self, on_snapshot: SnapshotCallback, on_event: EventCallback | None = None) -> None:
        self.on_snapshot, self.on_event = on_snapshot, on_event
        self.started.set()
        if self.initial is not None:
            self.push(self.initial)

    def push(self, snapshot: Snapshot) -> None:
        """Deliver a snapshot from another thread (returns once the callback returned)."""
        assert self.on_snapshot is not None, "source not started"
        self.last = snapshot
        t = threading.Thread(target=self.on_snapshot, args=(snapshot,), name="fake-engine")
        t.start()
        t.join()

    def event(self, phase: Phase, detail: str = "") -> None:
        """Report a progress event from another thread (returns once the callback returned)."""
        assert self.on_event is not None
        t = threading.Thread(target=self.on_event, args=(phase, detail), name="fake-engine")
        t.start()
        t.join()

    def refresh(self, view_id: str | None = None) -> None:
        self.refreshes.append(view_id)

    def stop(self) -> None:
        self.stopped += 1
