"""The engine in a process of its own: snapshots come over a pipe, commands go back.

At organization size a sweep costs tens of seconds of CPU (signing, parsing, judging) and
holds millions of objects. In a thread of the UI's process that CPU competes with the UI
for the one interpreter lock, and the collector's full passes over the engine's objects
stop every thread, the UI's too. In a child process the UI's loop waits for neither: all it
does per sweep is unpickle one snapshot (~20 ms for 1,700 views).

`ProcessMonitor` is a RemediatingSource like `Monitor`, which the child runs unchanged;
callbacks come from the parent's pipe-reading thread.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from core.engine.protocols import ApplyCallback, EventCallback, Phase, SnapshotCallback
from core.model import Snapshot
from core.settings import Settings

__all__ = ["EngineOptions", "ProcessMonitor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineOptions:
    """What the child needs besides the settings (it starts from a fresh interpreter)."""

    #: Seconds a sweep waits for who-broke-it lookups before showing the verdict.
    culprit_wait_seconds: float | None = None
    #: How the parent set up its logging, done again in the child: a module-level
    #: function (pickled by name) called with `log_file`, so the child's lines go to the
    #: same debug log, redacted the same way.
    log_setup: Callable[[str | None], None] | None = None
    log_file: str | None = None
    #: Deliver the first sweep's rows as soon as statuses are read (Snapshot.partial).
    partial_first_sweep: bool = False
    #: Niceness added to the child's (os.nice): a child spawned while the UI starts should
    #: not take the CPU its first paint needs.
    nice: int = 0


class ProcessMonitor:
    """Runs `Monitor(engine_from_settings(settings))` in a spawned child process.

    `spawn()` may start the child before the settings are known: a new interpreter and the
    engine's imports take about a second, which then passes while the caller prepares what
    the settings need (the demo: while its estate is seeded). `start()` hands the settings
    over, with the environment as it is then, so the child sees what it would have seen
    spawned at that moment.
    """

    def __init__(self, settings: Settings | None, options: EngineOptions | None = None) -> None:
        #: Needed by `start()`; may be set after `spawn()`.
        self.settings = settings
        self.options = options or EngineOptions()
        self._proc: Any = None
        self._conn: Connection | None = None
        self._reader: threading.Thread | None = None
        self._send_lock = threading.Lock()
        self._pending: dict[int, ApplyCallback] = {}
        self._tokens = itertools.count(1)
        self._stopping = threading.Event()
        self._stop_lock = threading.Lock()
        self._started = False

    @property
    def pid(self) -> int | None:
        return int(self._proc.pid) if self._proc is not None and self._proc.pid else None

    def spawn(self) -> None:
        """Start the child process now; it imports the engine and waits for `start()`.
        Idempotent; does nothing once stopped."""
        with self._stop_lock:
            if self._proc is not None or self._stopping.is_set():
                return
            # Spawned, never forked: the UI's process has threads, and a fork copies their locks.
            ctx = multiprocessing.get_context("spawn")
            parent, child = ctx.Pipe(duplex=True)
            proc = ctx.Process(
                target=_child_main,
                args=(child, self.options),
                name="trailtop-engine",
                daemon=True,
            )
            # multiprocessing passes `sys.stderr.fileno()` to the helper it starts; a TUI's
            # stderr is Textual's capture, which has none. The real one is handed over
            # instead (the child then points its own stderr away from the screen).
            with contextlib.redirect_stderr(sys.__stderr__):
                proc.start()
            child.close()
            self._proc, self._conn = proc, parent

    def start(self, on_snapshot: SnapshotCallback, on_event: EventCallback | None = None) -> None:
        if self._started:
            return
        if self.settings is None:
            raise ValueError("ProcessMonitor.start needs settings")
        self._started = True
        self._on_snapshot = on_snapshot
        self._on_event = on_event or (lambda _p, _d: None)
        self.spawn()
        if not self._send("settings", self.settings, dict(os.environ)):
            return  # stopped meanwhile
        self._reader = threading.Thread(target=self._read, name="trailtop-engine-pipe", daemon=True)
        self._reader.start()

    def refresh(self, view_id: str | None = None) -> None:
        self._send("refresh", view_id)

    def full_refresh(self) -> None:
        self._send("full_refresh")

    def apply_plan(
        self,
        plan_id: str,
        on_done: ApplyCallback,
        *,
        confirm_extra: bool = False,
        bindings: Mapping[str, str] | None = None,
    ) -> None:
        token = next(self._tokens)
        self._pending[token] = on_done
        if not self._send("apply", token, plan_id, confirm_extra, dict(bindings or {})):
            self._pending.pop(token, None)
            on_done(None, None)

    def stop(self) -> None:
        """Ask the child to stop, then make sure it has (it is ours: stopped by its pid).
        Idempotent, and safe from two threads at once (the app stops its source on a
        thread of its own while its owner may stop it too)."""
        self._stopping.set()
        with self._stop_lock:
            proc, self._proc = self._proc, None
            if proc is None:
                return
            self._send("stop")
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=3)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=3)
            conn, self._conn = self._conn, None
            if conn is not None:
                with self._send_lock, contextlib.suppress(OSError):
                    conn.close()
            if self._reader is not None and self._reader is not threading.current_thread():
                self._reader.join(timeout=5)

    def _send(self, *msg: Any) -> bool:
        conn = self._conn
        if conn is None:
            return False
        with self._send_lock:
            try:
                conn.send(msg)
            except (OSError, ValueError):  # the child is gone (or the pipe closed)
                return False
        return True

    def _read(self) -> None:
        conn = self._conn
        if conn is None:
            return
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            try:
                self._dispatch(msg)
            except Exception as exc:  # noqa: BLE001 - a consumer's bug must not stop the reader
                log.error("engine message %s: consumer failed", msg[0], exc_info=True)
                self._on_event(Phase.CALLBACK_FAILED, type(exc).__name__)
        for cb in list(self._pending.values()):
            cb(None, None)
        self._pending.clear()
        if not self._stopping.is_set():
            code = self._proc.exitcode if self._proc is not None else None
            self._on_event(Phase.SWEEP_FAILED, f"the engine process ended (exit status {code})")

    def _dispatch(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "snapshot":
            self._on_snapshot(msg[1])
        elif kind == "event":
            self._on_event(Phase(msg[1]), msg[2])
        elif kind == "applied":
            cb = self._pending.pop(msg[1], None)
            if cb is not None:
                cb(msg[2], msg[3])


#: The services a sweep calls, those read before its first rows first. A child spawned
#: ahead of its settings loads their models, endpoint rules and client classes while it
#: waits (~0.5 s of a cold sweep otherwise), until the settings come.
_SWEEP_SERVICES = ("sts", "organizations", "ec2", "iam", "cloudtrail", "s3", "kms", "sns", "logs")


def _warm_clients(conn: Connection) -> None:
    """Create (and drop) one client per sweep service: what they load stays cached."""
    import asyncio

    from core.aws.clients import new_session

    async def warm() -> None:
        session = new_session()
        for name in _SWEEP_SERVICES:
            if conn.poll():  # the settings came: the sweep loads the rest itself
                return
            async with session.create_client(
                name,
                region_name="us-east-1",
                endpoint_url="http://127.0.0.1:9",  # never called
                aws_access_key_id="warm-up",
                aws_secret_access_key="warm-up",
            ):
                pass

    try:
        asyncio.run(warm())
    except Exception:  # noqa: BLE001 - only a head start: the sweep loads what it needs
        log.debug("warming the engine's clients failed", exc_info=True)


class FreezeAfterFirstSweep:
    """Called with each snapshot of a process that is the engine's alone: after the first
    complete one, what lives then is collected once and moved out of the garbage
    collector's reach (`gc.freeze`).

    At organization size ~270,000 objects outlive the first sweep (service models, clients,
    sessions, configurations) and every full collection walked them again: 0.30-0.44 s a
    warm sweep of 1,717 status reads, 0.10 s once frozen (measured). Only what exists after
    the first sweep is frozen, once; later garbage is collected as usual, so nothing grows
    with weeks of sweeps (what was frozen and dies later is still freed by its reference
    count). Never in a process that hosts anything else (tests, the TUI's own process).
    """

    def __init__(self) -> None:
        self.done = False

    def __call__(self, snapshot: Snapshot) -> None:
        if self.done or snapshot.partial:
            return
        self.done = True
        gc.collect()
        gc.freeze()
        log.debug(
            "%d objects kept out of garbage collection after the first sweep", gc.get_freeze_count()
        )


def _child_main(conn: Connection, options: EngineOptions) -> None:
    """The child: the engine and its Monitor, driven by the parent's messages (the first
    one brings the settings and the environment)."""
    if options.nice:
        os.nice(options.nice)
    # Ctrl+C in the terminal reaches the whole process group; the parent decides to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The terminal belongs to the parent's TUI: nothing of the child's may draw on it
    # (a thread's traceback, a warning). Its logging goes to the debug log, if any.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the process
    if options.log_setup is not None:
        options.log_setup(options.log_file)

    from core.engine.monitor import Monitor
    from core.engine.sweep import engine_from_settings

    _warm_clients(conn)
    try:
        first = conn.recv()
    except (EOFError, OSError):
        return
    if first[0] != "settings":  # stopped before it started
        conn.close()
        return
    settings, environ = first[1], first[2]
    os.environ.clear()
    os.environ.update(environ)
    engine = engine_from_settings(settings)
    if engine.culprits is not None and options.culprit_wait_seconds is not None:
        engine.culprits.wait_seconds = options.culprit_wait_seconds
    lock = threading.Lock()

    def send(*msg: Any) -> None:
        # The parent gone: the recv loop below ends too.
        with lock, contextlib.suppress(OSError, ValueError):
            conn.send(msg)

    monitor = Monitor(engine, partial_first_sweep=options.partial_first_sweep)
    settle = FreezeAfterFirstSweep()

    def deliver(snap: Any) -> None:
        send("snapshot", snap)
        settle(snap)

    monitor.start(deliver, lambda phase, detail: send("event", phase.value, detail))
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            kind = msg[0]
            if kind == "refresh":
                monitor.refresh(msg[1])
            elif kind == "full_refresh":
                monitor.full_refresh()
            elif kind == "apply":
                token, plan_id, extra, bindings = msg[1:]
                monitor.apply_plan(
                    plan_id, _answer(send, token), confirm_extra=extra, bindings=bindings
                )
            elif kind == "stop":
                break
    finally:
        monitor.stop()
        conn.close()


def _answer(send: Callable[..., None], token: int) -> ApplyCallback:
    def done(result: Any, snap: Any) -> None:
        send("applied", token, result, snap)

    return done
