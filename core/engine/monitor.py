"""The thread that hosts the engine: sweeps on the engine's own event loop, off the UI's.

Response parsing (~1 ms CPU per request) happens on this thread's loop, never on the UI's.
Sweeps never overlap: the next one is armed only when the last has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Mapping

from core.aws.errors import describe_error
from core.engine.protocols import ApplyCallback, EventCallback, Phase, SnapshotCallback
from core.engine.sweep import Engine
from core.fix.model import FAILED, ApplyResult
from core.model import Snapshot

__all__ = ["Monitor"]

log = logging.getLogger(__name__)


class Monitor:
    """A RemediatingSource: sweeps on the engine's own event loop in a background thread."""

    def __init__(self, engine: Engine, *, partial_first_sweep: bool = False) -> None:
        self.engine = engine
        #: Deliver the first sweep's partial snapshot (rows before diagnostics) too.
        self.partial_first_sweep = partial_first_sweep
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, on_snapshot: SnapshotCallback, on_event: EventCallback | None = None) -> None:
        if self._thread is not None:
            return
        self._on_snapshot = on_snapshot
        self._on_event = on_event or (lambda _p, _d: None)
        self.engine.progress = lambda what: self._on_event(Phase.PROGRESS, what)
        self._thread = threading.Thread(target=self._main, name="trailtop-engine", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)

    def refresh(self, view_id: str | None = None) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    def full_refresh(self) -> None:
        self.engine.request_full_refresh()
        self.refresh()

    def apply_plan(
        self,
        plan_id: str,
        on_done: ApplyCallback,
        *,
        confirm_extra: bool = False,
        bindings: Mapping[str, str] | None = None,
    ) -> None:
        """Apply a plan on the engine's loop; `on_done(result, snapshot)` from its thread.

        The fresh snapshot also goes to the regular snapshot callback, so every screen
        shows at once whether the finding cleared.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            on_done(None, None)
            return

        async def run() -> None:
            async with self._sweep_lock:
                try:
                    result, snap = await self.engine.apply_plan(
                        plan_id, confirm_extra=confirm_extra, bindings=bindings
                    )
                except Exception as exc:  # noqa: BLE001
                    log.warning("apply %s failed: %s", plan_id, describe_error(exc), exc_info=True)
                    result, snap = ApplyResult(plan_id, FAILED, describe_error(exc)), None
            if snap is not None:
                self._deliver(snap)
            on_done(result, snap)

        asyncio.run_coroutine_threadsafe(run(), loop)

    def _deliver(self, snap: Snapshot) -> None:
        try:
            self._on_snapshot(snap)
        except Exception as exc:  # noqa: BLE001 - a consumer's bug must not stop the engine
            log.error("snapshot callback failed", exc_info=True)
            self._on_event(Phase.CALLBACK_FAILED, type(exc).__name__)

    def stop(self) -> None:
        """Stop now: the sweep in flight is cancelled, not waited for."""
        self._stopping.set()
        self.refresh()
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=10)
        self._thread = None

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self._run())
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._task)
        finally:
            try:
                loop.run_until_complete(self.engine.close())
            except Exception:  # noqa: BLE001 - closing clients must not mask the stop
                log.warning("closing the engine's clients failed", exc_info=True)
            loop.close()

    async def _run(self) -> None:
        self._wake = asyncio.Event()
        self._sweep_lock = asyncio.Lock()
        self._ready.set()
        interval = self.engine.settings.poll.interval_seconds
        while not self._stopping.is_set():
            self._wake.clear()
            self._on_event(Phase.SWEEP_STARTED, f"sweep {self.engine.sweep_no + 1}")
            try:
                async with self._sweep_lock:
                    snap = await (
                        self.engine.sweep(publish=self._deliver)
                        if self.partial_first_sweep
                        else self.engine.sweep()
                    )
            except Exception as exc:  # noqa: BLE001 - a bug in one sweep must not kill the watch
                log.error("sweep failed: %s", describe_error(exc), exc_info=True)
                self._on_event(Phase.SWEEP_FAILED, describe_error(exc))
            else:
                self._deliver(snap)
                self._on_event(Phase.SWEEP_FINISHED, f"sweep {snap.sweep}")
            if self._stopping.is_set():
                break
            self.engine.settle()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
