"""The dispatcher's guarantees with in-memory sinks: dedup, bounded queues, retries, rate."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import Any

from core.settings import NotifySettings
from core.watch.notify import CommandSink, Dispatcher, RateLimit, SinkError, backoff

FAST = NotifySettings(timeout_seconds=0.5, retry_initial_seconds=0.01, retry_max_seconds=0.02)


class Flaky:
    """Refuses its first `failures` attempts, then accepts; records every attempt."""

    def __init__(self, failures: int = 0, name: str = "flaky") -> None:
        self.name, self.failures = name, failures
        self.attempts: list[str] = []
        self.accepted: list[str] = []

    async def send(self, body: Mapping[str, Any]) -> None:
        self.attempts.append(str(body["id"]))
        if len(self.attempts) <= self.failures:
            raise SinkError("HTTP 500")
        self.accepted.append(str(body["id"]))

    async def close(self) -> None:
        return None


def test_backoff_doubles_up_to_the_ceiling() -> None:
    assert [backoff(n, 2.0, 10.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 10.0]


def test_rate_limit_allows_a_burst_then_spaces_messages() -> None:
    now = [0.0]
    rate = RateLimit(2, clock=lambda: now[0])
    assert [rate.delay(), rate.delay()] == [0.0, 0.0]
    assert rate.delay() == 30.0  # two a minute: the third waits half a minute
    now[0] = 30.0
    assert rate.delay() == 0.0


async def test_retried_until_accepted_and_a_repeat_is_not_sent_again() -> None:
    sink = Flaky(failures=2)
    outcomes: list[str] = []
    d = Dispatcher([sink], FAST, on_outcome=lambda _s, o: outcomes.append(o))
    d.start()
    d.submit({"id": "a"})
    d.submit({"id": "a"})  # the same transition again: deduplicated
    assert await d.drain(5)
    await d.close()
    assert sink.attempts == ["a", "a", "a"] and sink.accepted == ["a"]
    assert outcomes == ["retried", "retried", "sent"]


async def test_a_hanging_sink_delays_neither_submit_nor_another_sink() -> None:
    release = asyncio.Event()

    class Hangs(Flaky):
        async def send(self, body: Mapping[str, Any]) -> None:
            await release.wait()
            await super().send(body)

    hung, fine = Hangs(name="hung"), Flaky(name="fine")
    settings = NotifySettings(timeout_seconds=60, queue_size=2)
    outcomes: list[tuple[str, str]] = []
    d = Dispatcher([hung, fine], settings, on_outcome=lambda s, o: outcomes.append((s, o)))
    d.start()

    async def accepted(n: int) -> None:
        async with asyncio.timeout(5):
            while len(fine.accepted) < n:
                await asyncio.sleep(0.01)

    for batch in (("0", "1"), ("2", "3")):
        for mid in batch:
            d.submit({"id": mid})  # returns at once although "hung" never answers
        await accepted(int(batch[-1]) + 1)
    assert fine.accepted == ["0", "1", "2", "3"]
    # "hung" holds 0 in flight and 1 queued; 2 and 3 overflow its queue of two: 1 dropped.
    assert outcomes.count(("hung", "dropped")) == 1
    release.set()
    assert await d.drain(5)
    await d.close()
    assert hung.accepted == ["0", "2", "3"]


async def test_command_sink_gets_the_json_on_stdin_and_fails_on_exit_status(tmp_path: Any) -> None:
    out = tmp_path / "got.json"
    ok = CommandSink(
        [sys.executable, "-c", f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"]
    )
    await ok.send({"id": "x", "text": "hello"})
    assert '"text": "hello"' in out.read_text()
    bad = CommandSink([sys.executable, "-c", "import sys; sys.exit(3)"])
    try:
        await bad.send({"id": "y"})
    except SinkError as e:
        assert "exit status 3" in str(e)
    else:
        raise AssertionError("a non-zero exit must be a failure")


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.bodies: list[Mapping[str, Any]] = []

    async def send(self, body: Mapping[str, Any]) -> None:
        self.bodies.append(body)

    async def close(self) -> None:
        return None


async def test_a_notice_goes_to_the_sinks_once() -> None:
    import io
    from dataclasses import replace
    from typing import cast

    from core.engine.sweep import Engine
    from core.model import Notice
    from core.settings import load_settings
    from core.watch.run import Watcher
    from tests.support.builders import make_snapshot

    settings, _ = load_settings(None, {})
    sink = Recording()
    out = io.StringIO()
    w = Watcher(cast(Engine, object()), settings, out, [sink], serve_metrics=False)
    w.dispatcher.start()
    said = Notice("mute-expired", "111111111111", "Mute of S3_DELIVERY_ERROR <x> expired.")
    snap = make_snapshot([])
    w.accept(replace(snap, notices=(said,)))
    w.accept(replace(snap, sweep=snap.sweep + 1, notices=(said,)))
    assert await w.dispatcher.drain(5)
    await w.dispatcher.close()
    assert [b["kind"] for b in sink.bodies] == ["mute-expired"]  # twice said, sent once
    assert sink.bodies[0]["text"] == "trailtop: Mute of S3_DELIVERY_ERROR &lt;x&gt; expired."
    assert '"event": "notice"' in out.getvalue()


async def test_watch_collects_garbage_between_sweeps_never_during_one() -> None:
    """`watch` runs for weeks like the TUI's monitor: after each sweep, and only then, the
    engine settles (its cyclic garbage collected), and not once more after the stop."""
    import io
    from dataclasses import replace
    from typing import cast

    from core.engine.sweep import Engine
    from core.model import Snapshot
    from core.settings import load_settings
    from core.watch.run import Watcher
    from tests.support.builders import make_snapshot

    class Engineish:
        def __init__(self) -> None:
            self.sweep_no = 0
            self.in_flight = False
            self.settled_after: list[int] = []
            self.watcher: Watcher | None = None

        async def sweep(self) -> Snapshot:
            self.in_flight = True
            await asyncio.sleep(0)
            self.sweep_no += 1
            self.in_flight = False
            if self.sweep_no == 3 and self.watcher is not None:
                self.watcher.stop()
            return replace(make_snapshot([]), sweep=self.sweep_no)

        def settle(self) -> float:
            self.settled_after.append(-1 if self.in_flight else self.sweep_no)
            if self.watcher is not None:
                self.watcher.wake()  # the next sweep at once, not after the interval
            return 0.0

        async def close(self) -> None:
            return None

    settings, _ = load_settings(None, {})
    engine = Engineish()
    w = Watcher(cast(Engine, engine), settings, io.StringIO(), [], serve_metrics=False)
    engine.watcher = w
    await asyncio.wait_for(w.run(), timeout=30)
    assert engine.sweep_no == 3
    assert engine.settled_after == [1, 2]  # after sweeps 1 and 2; sweep 3 asked to stop
