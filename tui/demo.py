"""`trailtop --demo`: start the emulated estate (sandbox/) and point the settings at it.

The sandbox is an optional extra ("demo"): a production install does not carry moto.
Starting it (a server process, then seeding the scenario) takes seconds: the TUI paints
first and `DemoSource` starts the estate behind it, saying so in the header.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from core.engine.protocols import (
    ApplyCallback,
    EventCallback,
    Phase,
    RemediatingSource,
    SnapshotCallback,
    SnapshotSource,
)

log = logging.getLogger(__name__)

#: Short intervals so the demo moves: deliveries every 2 s, a sweep every 5 s, and a trail
#: that stopped delivering a few minutes ago already counts as stale.
DEMO_DELIVERY_INTERVAL = 2.0
#: The header's word while the estate starts, then while its first sweep runs.
STARTING = "starting the emulated estate"
SWEEPING = "sweeping"
#: How long `stop()` waits for a start in flight to give up once its server is killed.
STOP_WAIT_SECONDS = 10.0


def demo_overrides(manifest: dict[str, Any], endpoint_url: str) -> dict[str, Any]:
    org = manifest.get("organization") or {}
    return {
        "aws": {
            "profiles": [
                p for p in manifest.get("profiles", {}) if p in ("demo-mgmt", "demo-prod")
            ],
            "regions": [],  # discovered per account (ec2:DescribeRegions), as in real life
            "endpoint_url": endpoint_url,
            "assume_roles": [{"role_arn": r["role_arn"]} for r in manifest.get("assume_roles", [])],
            "organization": {
                "enabled": bool(org),
                "role_name": org.get("role_name", "OrganizationAccountAccessRole"),
            },
        },
        **demo_poll_overrides(),
    }


def demo_poll_overrides() -> dict[str, Any]:
    """The demo's intervals and thresholds: known before the estate is up."""
    return {
        "poll": {"interval_seconds": 5, "diagnose_refresh_seconds": 30, "describe_every_sweeps": 6},
        "thresholds": {"s3_stale_seconds": 120, "cloudwatch_stale_seconds": 120},
    }


_MISSING_EXTRA = (
    "--demo needs the 'demo' extra (moto): pip install 'trailtop[demo]', or run `make demo`"
)


def check_demo_available() -> None:
    """Raise ConfigError now (exit 2) when the extra is missing: cheaper than importing it."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("sandbox") is None:
        from core.settings import ConfigError

        raise ConfigError(_MISSING_EXTRA)


def new_sandbox() -> Any:
    """The demo's Sandbox, not started yet (its `start()` takes seconds)."""
    try:
        from sandbox import Sandbox
    except ImportError as e:  # moto is not installed
        from core.settings import ConfigError

        raise ConfigError(_MISSING_EXTRA) from e
    return Sandbox(scenario="demo", delivery_interval=DEMO_DELIVERY_INTERVAL)


def start_demo(sb: Any = None) -> tuple[Any, dict[str, Any], dict[str, str]]:
    """Start the demo sandbox (`sb`, when already spawned); returns (sandbox, settings
    overrides, environment)."""
    sb = sb or new_sandbox()
    sb.start()
    return sb, demo_overrides(sb.manifest, sb.endpoint_url), sb.process_env({})


class DemoSandbox(Protocol):
    """What `DemoSource` needs of sandbox.Sandbox (a test passes a fake)."""

    @property
    def pid(self) -> int | None:
        """The server process, once spawned."""

    def start(self) -> Any:
        """Spawn the server and seed the estate (seconds)."""

    def stop(self) -> None:
        """Terminate the server this object spawned; idempotent."""


class DemoSource:
    """A RemediatingSource that paints first: `start()` returns at once, the estate starts
    on a thread of its own, then the real source (`make_source(sandbox)`) takes over and
    its callbacks are forwarded. Until then the header says what is happening.

    `stop()` stops the real source and the sandbox this object started, by its pid even
    while it is still starting (the app may quit during startup).
    """

    def __init__(
        self,
        new_sandbox: Callable[[], DemoSandbox],
        make_source: Callable[[DemoSandbox], SnapshotSource],
        *,
        paint_wait_seconds: float = 0.0,
    ) -> None:
        self._new_sandbox = new_sandbox
        self._make_source = make_source
        #: With a wait, the estate's seeding (a second of this process's CPU) starts once
        #: `painted()` is called, or after that many seconds: the first screen comes first.
        self._paint_wait_seconds = paint_wait_seconds
        self._painted = threading.Event()
        self._lock = threading.Lock()
        self._stop_lock = threading.Lock()
        self._stopping = False
        self._stopped = False
        self._sandbox_stopped = False
        self._sandbox: DemoSandbox | None = None
        self._source: SnapshotSource | None = None
        self._thread: threading.Thread | None = None
        self._pending_refresh = False
        #: Why the estate did not start, once it failed ("" while fine).
        self.error = ""

    @property
    def source(self) -> SnapshotSource | None:
        """The real source, once the estate is up."""
        return self._source

    def start(self, on_snapshot: SnapshotCallback, on_event: EventCallback | None = None) -> None:
        if self._thread is not None:
            return
        emit: EventCallback = on_event or (lambda _p, _d: None)
        self._thread = threading.Thread(
            target=self._run, args=(on_snapshot, emit), name="trailtop-demo-start", daemon=True
        )
        self._thread.start()

    def painted(self) -> None:
        """The first screen is drawn: the estate may take this process's CPU now."""
        self._painted.set()

    def _run(self, on_snapshot: SnapshotCallback, emit: EventCallback) -> None:
        emit(Phase.SWEEP_STARTED, STARTING)
        if self._paint_wait_seconds > 0:
            self._painted.wait(self._paint_wait_seconds)
        first = True

        def forward(phase: Phase, detail: str) -> None:
            # The first sweep says "sweeping" (the engine numbers them: "sweep 1").
            nonlocal first
            if first and phase == Phase.SWEEP_STARTED:
                first = False
                detail = SWEEPING
            emit(phase, detail)

        try:
            with self._lock:
                if self._stopping:
                    return
                sb = self._sandbox = self._new_sandbox()
            sb.start()
            source = None if self._stopping else self._make_source(sb)
            with self._lock:
                if self._stopping:
                    source = None
                else:
                    self._source = source
                    refresh, self._pending_refresh = self._pending_refresh, False
            if source is None:  # stop() was called meanwhile (and may have given up waiting)
                self._stop_sandbox(sb)
                return
            source.start(on_snapshot, forward)
            if refresh:
                source.refresh()
        except Exception as exc:  # noqa: BLE001 - said in the TUI, never a traceback
            if self._stopping:
                return
            self.error = f"the emulated estate did not start: {type(exc).__name__}: {exc}"
            log.error("%s", self.error, exc_info=True)
            emit(Phase.SWEEP_FAILED, self.error)

    def refresh(self, view_id: str | None = None) -> None:
        with self._lock:
            source = self._source
            if source is None:
                self._pending_refresh = True
                return
        source.refresh(view_id)

    def apply_plan(
        self,
        plan_id: str,
        on_done: ApplyCallback,
        *,
        confirm_extra: bool = False,
        bindings: Mapping[str, str] | None = None,
    ) -> None:
        source = self._source
        if not isinstance(source, RemediatingSource):
            on_done(None, None)  # nothing swept yet, so no plan to apply
            return
        source.apply_plan(plan_id, on_done, confirm_extra=confirm_extra, bindings=bindings)

    def stop(self) -> None:
        """Stop the real source, then the sandbox; idempotent, safe from two threads."""
        with self._stop_lock:
            if self._stopped:
                return
            with self._lock:
                self._stopping = True
                source, sb, thread = self._source, self._sandbox, self._thread
            self._painted.set()  # a start still waiting for the first screen gives up
            if source is None and sb is not None and sb.pid is not None:
                # Still starting: kill the server by its pid so the start fails at once.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(sb.pid, signal.SIGTERM)
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=STOP_WAIT_SECONDS)
            # After the join: a source being started meanwhile is stopped once it has a thread.
            source = self._source
            if source is not None:
                source.stop()
            if sb is not None and not (thread is not None and thread.is_alive()):
                # A start still in flight would spawn after this: Sandbox.stop() is idempotent
                # and would then do nothing, so it is called only once the start has ended
                # (else the starting thread calls it when its start returns).
                self._stop_sandbox(sb)
            self._stopped = True

    def _stop_sandbox(self, sb: DemoSandbox) -> None:
        """Once, from whichever thread gets there first."""
        with self._lock:
            if self._sandbox_stopped:
                return
            self._sandbox_stopped = True
        sb.stop()
