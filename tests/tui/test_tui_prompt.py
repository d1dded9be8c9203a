"""The overview's keys at organization size stay cheap: the footer is one line of text, a
prompt opens in the status line's slot without touching the table, the table keeps what it
drew across focus changes, and no garbage collection runs inside a snapshot's apply.

Against a fake source; synchronisation by condition, never by sleeping.
"""

from __future__ import annotations

import gc

from textual.pilot import Pilot

from tests.support.builders import T0, demo_views, make_snapshot
from tests.support.fakes import FakeSource, frozen_clock
from tests.support.pilot import wait_until
from tests.support.screens import screen_text
from tui.app import TrailtopApp
from tui.screens.overview import OverviewScreen
from tui.signals import subscribe
from tui.widgets.keybar import KeyBar
from tui.widgets.view_table import ViewTable

SIZE = (80, 24)


def demo() -> tuple[TrailtopApp, FakeSource]:
    source = FakeSource(make_snapshot(demo_views(), sweep=42))
    return TrailtopApp(source, clock=frozen_clock(T0)), source


async def started(pilot: Pilot[None], app: TrailtopApp, n: int = 1) -> OverviewScreen:
    await wait_until(pilot, lambda: app.snapshots_applied >= n)
    await pilot.pause()
    assert isinstance(app.screen, OverviewScreen)
    return app.screen


async def test_prompt_opens_in_the_status_slot_and_leaves_the_table_alone() -> None:
    app, _ = demo()
    async with app.run_test(size=SIZE) as pilot:
        overview = await started(pilot, app)
        table = app.query_one(ViewTable)
        height = table.size.height
        repaints: list[tuple[object, ...]] = []
        refresh = table.refresh

        def counted(*regions: object, **kw: bool) -> object:
            if not regions:  # a whole-table repaint (a row's refresh passes its region)
                repaints.append(regions)
            return refresh(*regions, **kw)  # type: ignore[arg-type]

        table.refresh = counted  # type: ignore[method-assign]
        await pilot.press("slash", *"staging")
        await wait_until(pilot, lambda: overview.query_text == "staging")
        lines = screen_text(app).splitlines()
        # The prompt and the status line share the line above the footer.
        assert "/staging" in lines[-2] and "filter: staging" in lines[-2]
        assert table.size.height == height
        await pilot.press("escape")
        await wait_until(pilot, lambda: not overview.prompt_open() and not overview.query_text)
        await pilot.pause()
        before = len(repaints)
        await pilot.press("colon")
        await wait_until(pilot, overview.prompt_open)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not overview.prompt_open())
        await pilot.pause()
        assert table.size.height == height
        # Opening and closing a prompt moves the focus away from the table and back: the
        # table looks the same either way, so nothing of it is drawn again.
        assert len(repaints) == before
        assert isinstance(app.focused, ViewTable)


async def test_footer_lists_the_keys_and_a_click_presses_one() -> None:
    app, _ = demo()
    async with app.run_test(size=SIZE) as pilot:
        overview = await started(pilot, app)
        bar = app.query_one(KeyBar)
        shown = screen_text(app).splitlines()[-1]
        for binding in overview.active_bindings.values():
            if binding.binding.show:
                assert binding.binding.description in shown, binding.binding.description
        start = shown.index("f Faults")
        await pilot.click(KeyBar, offset=(start, 0))
        await wait_until(pilot, lambda: overview.faults_only)
        # The prompt's keys replace the table's while it has the keyboard.
        await pilot.press("slash")
        await wait_until(pilot, lambda: "Keep filter" in screen_text(app).splitlines()[-1])
        assert "Faults" not in screen_text(app).splitlines()[-1]
        assert bar.tooltip is None


async def test_no_collection_inside_an_apply_and_one_right_after() -> None:
    app, source = demo()
    seen: list[bool] = []
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        subscribe(app.screen, app.snapshot_signal, lambda _: seen.append(gc.isenabled()))
        collections = gc.get_stats()[2]["collections"]
        source.push(make_snapshot(demo_views(), sweep=43))
        await started(pilot, app, 2)
        await wait_until(pilot, lambda: gc.isenabled())
        assert seen == [False]  # the collector was off while the screens applied it
        assert gc.get_stats()[2]["collections"] > collections  # and one full pass ran
    assert gc.isenabled()


async def test_a_new_theme_redraws_the_rows_with_its_styles() -> None:
    app, _ = demo()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        table = app.query_one(ViewTable)
        rid = table.shown_ids()[0]

        def drawn_as_now() -> bool:
            cells = table.shown_cells(rid)
            assert cells is not None
            return table.get_cell(rid, "state").style == table._style(cells[0][1])

        before = table.get_cell(rid, "state").style
        assert drawn_as_now()
        app.theme = "nord"  # another error colour than the default theme
        await wait_until(pilot, lambda: table.get_cell(rid, "state").style != before)
        assert drawn_as_now()
