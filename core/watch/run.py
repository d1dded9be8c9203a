"""`trailtop watch`: the engine headless and long-running, on the caller's event loop.

Same interval rule as the TUI's Monitor: the next sweep starts `interval_seconds` after the
last one finished (monotonic clock), never stacked on a slow one. After each sweep the
watcher writes one JSON line per transition, notice and SSO login hint to its output,
updates the metrics, and hands messages to the dispatcher, which only enqueues them.
`stop()` ends the wait or cancels the sweep in flight; `run` then closes the engine's
clients and the sinks, giving queued messages a short grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from core.engine.sweep import Engine
from core.model import Snapshot, sso_login_command
from core.settings import Settings
from core.util.text import plain
from core.watch.metrics import Counters, MetricsServer, SnapshotCollector
from core.watch.notify import Dispatcher, Sink
from core.watch.transitions import Tracker, log_line, notice_message

log = logging.getLogger(__name__)

#: Seconds queued messages get to go out after a stop was asked for.
STOP_GRACE_SECONDS = 2.0


class Watcher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        out: TextIO,
        sinks: list[Sink] | None = None,
        *,
        serve_metrics: bool | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.out = out
        self.interval = settings.poll.interval_seconds
        self.counters = Counters(self.interval, wall())
        self.collector = SnapshotCollector(self.counters)
        self.tracker = Tracker(on_start=settings.notify.on_start)
        self.dispatcher = Dispatcher(
            sinks or [], settings.notify, on_outcome=self.counters.count_notification
        )
        self.serve_metrics = settings.metrics.enabled if serve_metrics is None else serve_metrics
        self.server: MetricsServer | None = None
        self.snapshot: Snapshot | None = None
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._sweep_task: asyncio.Task[Snapshot] | None = None
        #: Profiles already said to need `aws sso login` (said again once it cleared).
        self._sso: set[str] = set()

    # -- output ---------------------------------------------------------------------------

    def emit(self, event: str, **fields: Any) -> None:
        """One JSON line on the output (flushed: a journal or a pipe sees it at once)."""
        line = {"event": event, "time": datetime.now(UTC).isoformat(), **fields}
        self._write(line)

    def _write(self, line: dict[str, Any]) -> None:
        self.out.write(json.dumps(line, ensure_ascii=True, sort_keys=True) + "\n")
        self.out.flush()

    # -- control --------------------------------------------------------------------------

    def start_metrics(self) -> None:
        """Bind the endpoint (before the first sweep, so a port in use fails at once)."""
        if self.serve_metrics and self.server is None:
            m = self.settings.metrics
            self.server = MetricsServer.start(self.collector, m.address, m.port)

    def stop(self) -> None:
        """Ask the watcher to end (from a signal handler on its loop)."""
        if self._stop is not None:
            self._stop.set()
        task = self._sweep_task
        if task is not None and not task.done():
            task.cancel()

    def wake(self) -> None:
        """Sweep now instead of waiting out the interval."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self.start_metrics()
        self.dispatcher.start()
        self.emit(
            "start",
            interval_seconds=self.interval,
            metrics=self.server.url if self.server else None,
            sinks=[lane.sink.name for lane in self.dispatcher.lanes],
        )
        try:
            while not self._stop.is_set():
                self._wake.clear()
                await self._sweep_once()
                if self._stop.is_set():
                    break
                self.engine.settle()  # the last sweep's cyclic garbage, as the monitor does
                stop = asyncio.ensure_future(self._stop.wait())
                wake = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait(
                        {stop, wake}, timeout=self.interval, return_when="FIRST_COMPLETED"
                    )
                finally:
                    stop.cancel()
                    wake.cancel()
        finally:
            await self._close()

    async def _sweep_once(self) -> None:
        self._sweep_task = asyncio.ensure_future(self.engine.sweep())
        try:
            snap = await self._sweep_task
        except asyncio.CancelledError:
            if self._stop is not None and self._stop.is_set():
                return  # stopping: the sweep in flight is abandoned, not waited for
            raise
        except Exception as exc:  # noqa: BLE001 - one failed sweep must not end the watch
            from core.aws.errors import describe_error

            log.error("sweep failed: %s", describe_error(exc), exc_info=True)
            self.counters.sweep_failures += 1
            self.emit("sweep_failed", reason=plain(describe_error(exc), max_len=500))
            return
        finally:
            self._sweep_task = None
        self.accept(snap)

    def accept(self, snap: Snapshot) -> None:
        """Everything that follows one sweep; never waits on a receiver."""
        self.snapshot = snap
        self.counters.sweeps += 1
        for t in self.tracker.update(snap):
            line = log_line(t)
            self._write(line)
            body = {k: v for k, v in line.items() if k != "event"}
            self.dispatcher.submit(body)
        for n in snap.notices:
            self.emit(
                "notice",
                kind=plain(n.kind, max_len=64),
                account_id=n.account_id,
                message=plain(n.message, max_len=500),
            )
            # Said once to the sinks too: an expired mute pages again from now on, and an
            # account that left is no longer watched.
            self.dispatcher.submit(notice_message(n, snap.sweep, snap.generated_at.isoformat()))
        for profile in sorted(set(snap.sso_login_needed) - self._sso):
            p = plain(profile, max_len=100)
            self.emit(
                "sso_login_needed",
                profile=p,
                hint=sso_login_command(p),
            )
        self._sso = set(snap.sso_login_needed)  # the log says it once; the metric every sweep
        self.collector.update(snap)

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self.dispatcher.drain(STOP_GRACE_SECONDS)
        await self.dispatcher.close()
        try:
            await self.engine.close()
        except Exception:  # noqa: BLE001 - closing clients must not mask the stop
            log.warning("closing the engine's clients failed", exc_info=True)
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.emit("stop", sweeps=self.counters.sweeps)
