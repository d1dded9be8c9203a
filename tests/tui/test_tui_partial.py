"""The first sweep's rows before its diagnostics (Snapshot.partial): shown at once, said to
be partial, and the complete snapshot after them is not news (no alert, no change marks)."""

from __future__ import annotations

from dataclasses import replace

from core.engine.protocols import Phase
from core.model import State
from tests.support.builders import finding, make_snapshot, make_view
from tests.support.fakes import FakeSource, frozen_clock
from tests.support.pilot import wait_until
from tests.support.screens import screen_text
from tui.app import TrailtopApp


async def test_partial_rows_then_the_complete_sweep_without_alerts() -> None:
    ok = make_view("111111111111", trail="main", state=State.OK)
    broken = make_view(
        "222222222222", trail="audit", findings=(finding("S3_POLICY_DENIES_CLOUDTRAIL"),)
    )
    partial = replace(
        make_snapshot([ok, replace(broken, findings=(), state=State.OK)]), partial=True
    )
    source = FakeSource(None)
    app = TrailtopApp(source, clock=frozen_clock(), bell=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: source.on_snapshot is not None)
        # As the engine says it: accounts read one by one (a partial on the way), then
        # destinations diagnosed.
        source.event(Phase.PROGRESS, "reading trails: 1 of 2 accounts")
        await wait_until(pilot, lambda: "1 of 2 accounts" in screen_text(app))
        source.push(partial)
        await wait_until(pilot, lambda: app.snapshots_applied == 1)
        await pilot.pause()
        assert len(app.models) == 2
        text = screen_text(app)
        assert "1 of 2 accounts" in text, "a partial keeps what the engine is doing"
        assert "root causes to come" in text
        assert "sweep #1" not in text, "a partial snapshot is not a finished sweep"
        source.event(Phase.PROGRESS, "diagnosing destinations (buckets, keys, topics, roles)")
        await wait_until(pilot, lambda: "diagnosing destinations" in screen_text(app))
        # The complete first sweep finds the root cause: a row turns failing, but that is
        # the first verdict, not a change: no toast, no bell, no change mark.
        source.push(make_snapshot([ok, broken], changed=[broken.id]))
        await wait_until(pilot, lambda: app.snapshots_applied == 2)
        await pilot.pause()
        assert app.models[broken.id].view.state is State.FAILING
        assert not app._notifications, [n.message for n in app._notifications]
        assert not app.highlighted()
        text = screen_text(app)
        assert "diagnosing destinations" not in text and "root causes to come" not in text
        assert "sweep #1" in text
