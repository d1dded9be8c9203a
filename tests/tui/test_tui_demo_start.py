"""`trailtop --demo` paints first: DemoSource starts the estate behind the first screen.

A fake sandbox stands in for the real one (its start blocks until the test releases it, or
until its process is killed) and a FakeSource for the engine: no moto, no AWS.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

from core.engine.protocols import Phase
from tests.support.builders import demo_views, make_snapshot
from tests.support.fakes import FakeSource, frozen_clock
from tests.support.pilot import wait_until
from tests.support.screens import screen_text
from tui.app import TrailtopApp
from tui.demo import STARTING, DemoSandbox, DemoSource

SIZE = (80, 24)


class SlowSandbox:
    """Starts a real (idle) process, then blocks in `start()` until released or killed."""

    def __init__(self, fail: str = "") -> None:
        self.release = threading.Event()
        self.fail = fail
        self.proc: subprocess.Popen[bytes] | None = None
        self.stops = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> SlowSandbox:
        if self.fail:
            raise RuntimeError(self.fail)
        self.proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        while not self.release.wait(0.05):
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode})")
        return self

    def stop(self) -> None:
        self.stops += 1
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def demo_app(sandbox: SlowSandbox) -> tuple[TrailtopApp, DemoSource, FakeSource]:
    fake = FakeSource(make_snapshot(demo_views(), sweep=1))

    def make_source(sb: DemoSandbox) -> FakeSource:
        assert sb is sandbox
        return fake

    source = DemoSource(lambda: sandbox, make_source)
    return TrailtopApp(source, title_hint="demo estate", clock=frozen_clock()), source, fake


def header(app: TrailtopApp) -> str:
    return screen_text(app).splitlines()[0]


async def test_paints_and_says_it_is_starting_before_the_source_has_anything() -> None:
    sandbox = SlowSandbox()
    app, source, fake = demo_app(sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: STARTING in header(app))
        assert app.snapshot is None and not fake.started.is_set()
        assert "State" in screen_text(app)  # the overview is drawn, empty
        await pilot.press("r")  # asked before the engine exists: kept for it
        sandbox.release.set()
        await wait_until(pilot, lambda: app.snapshot is not None)
        assert source.source is fake and fake.refreshes == [None]
        assert STARTING not in header(app)
        assert "FAIL" in screen_text(app)
        fake.event(Phase.SWEEP_STARTED, "sweep 2")  # the first sweep is called "sweeping"
        await wait_until(pilot, lambda: app.sweep_status.progress == "sweeping")
    source.stop()
    assert fake.stopped >= 1 and sandbox.stops == 1


async def test_quitting_during_startup_kills_the_sandbox_by_its_pid() -> None:
    sandbox = SlowSandbox()
    app, source, fake = demo_app(sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: sandbox.proc is not None and STARTING in header(app))
        await pilot.press("q")
    assert app.stop_thread is not None
    app.stop_thread.join(10)
    source.stop()  # the CLI stops it again after the app returned: idempotent
    assert sandbox.proc is not None and sandbox.proc.returncode == -signal.SIGTERM
    assert sandbox.stops == 1 and not fake.started.is_set() and source.error == ""


async def test_an_estate_that_does_not_start_says_why() -> None:
    app, source, fake = demo_app(SlowSandbox(fail="port in use"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.sweep_status.failed)
        assert "did not start" in app.sweep_status.event and "port in use" in source.error
        assert "sweep failed" in header(app) and not fake.started.is_set()


def test_with_a_paint_wait_the_estate_starts_once_the_screen_is_drawn() -> None:
    """The TUI calls `painted()` after its first screen (tui/cli.py): the estate's CPU
    must not delay that screen. Stopped while waiting, nothing is ever spawned."""
    sandbox = SlowSandbox()
    sandbox.release.set()
    fake = FakeSource(make_snapshot(demo_views(), sweep=1))
    source = DemoSource(lambda: sandbox, lambda _sb: fake, paint_wait_seconds=60)
    source.start(lambda _s: None)
    assert sandbox.proc is None
    source.painted()
    assert fake.started.wait(10) and sandbox.proc is not None
    source.stop()
    assert sandbox.stops == 1

    idle = SlowSandbox()
    waiting = DemoSource(lambda: idle, lambda _sb: fake, paint_wait_seconds=60)
    waiting.start(lambda _s: None)
    started = time.monotonic()
    waiting.stop()  # releases the wait at once
    assert time.monotonic() - started < 10 and idle.proc is None and idle.stops == 0
