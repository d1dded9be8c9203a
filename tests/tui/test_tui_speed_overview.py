"""What keeps the overview's keys cheap at organization size, checked for what it must not
change: the `:` completions found by binary search are those a scan finds, the rows handed
back after a filter come in sort order, a prompt opening and closing restyles nothing whose
look it would not change, a filter never refits the columns, and a row drawn once is drawn
again only when it changes.

Against a fake source; synchronisation by condition, never by sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from textual.pilot import Pilot

from tests.support.builders import T0, demo_views, make_snapshot
from tests.support.fakes import FakeSource
from tests.support.pilot import wait_until
from tests.support.screens import screen_text
from tui.app import TrailtopApp
from tui.rows import (
    MATCH_MARK,
    Completions,
    build_model,
    first_jump,
    jump_matches,
    jump_suggestions,
    row_cells,
    sort_key,
)
from tui.screens.overview import JumpInput, OverviewScreen, PromptInput
from tui.widgets.view_table import ViewTable

SIZE = (100, 24)


def demo(clock: list[datetime] | None = None) -> tuple[TrailtopApp, FakeSource]:
    source = FakeSource(make_snapshot(demo_views(), sweep=42))
    now = clock if clock is not None else [T0]
    return TrailtopApp(source, clock=lambda: now[0]), source


async def started(pilot: Pilot[None], app: TrailtopApp, n: int = 1) -> OverviewScreen:
    await wait_until(pilot, lambda: app.snapshots_applied >= n)
    await pilot.pause()
    assert isinstance(app.screen, OverviewScreen)
    return app.screen


# ---------------------------------------------------------------------------- completions


def scanned(names: list[str], value: str) -> str:
    """What a scan of the names in case-insensitive order offers (the reference); nothing
    for nothing typed, as Textual's Input asks for no suggestion then."""
    if not value:
        return ""
    ordered = sorted(set(names), key=lambda n: (n.casefold(), n))
    return next((n for n in ordered if n.casefold().startswith(value.casefold())), "")


def test_completions_match_a_scan() -> None:
    names = ["eu-west-1", "eu-west-2", "EU-central-1", "Acme-Prod", "acme-dev", "123456789012"]
    completions = Completions(names)
    for value in ("", "e", "eu-w", "EU-WEST-2", "eu-c", "acme", "ACME-P", "1234", "x", "eu-west-3"):
        assert completions.complete(value) == scanned(names, value), value
    assert completions.complete("eu-cen") == "EU-central-1"  # the name as given, not folded
    assert Completions(()).complete("a") == ""


def test_jump_suggestions_reuse_sanitised_names() -> None:
    models = [build_model(v) for v in demo_views()]
    known: dict[str, str] = {}
    first = jump_suggestions(models, known)
    assert first == jump_suggestions(models)  # the memo changes nothing
    assert known and set(known.values()) == set(first)
    known[models[0].view.key.region] = "remembered"  # a name already known is not redone
    assert "remembered" in jump_suggestions(models, known)


def test_first_jump_is_the_first_row_jump_matches() -> None:
    models = {m.id: m for m in (build_model(v) for v in demo_views())}
    ids = list(models)
    for target in ("acme-prod", "ACME-S", "eu-cen", "us-", "333333333333", "3333", "x", " ", ""):
        scanned = next((r for r in ids if jump_matches(models[r], target)), None)
        assert first_jump(models, ids, target) == scanned, target
        assert first_jump(models, ids[::-1], target) == next(
            (r for r in ids[::-1] if jump_matches(models[r], target)), None
        )


# ---------------------------------------------------------------------------- the table


def sorted_ids(app: TrailtopApp, column: str | None, reverse: bool = False) -> list[str]:
    return sorted(app.models, key=lambda r: sort_key(app.models[r], column), reverse=reverse)


async def test_rows_handed_back_after_a_filter_come_in_sort_order() -> None:
    app, source = demo()
    async with app.run_test(size=SIZE) as pilot:
        overview = await started(pilot, app)
        table = app.query_one(ViewTable)
        overview.sort_by("region", reverse=True)
        assert table.shown_ids() == sorted_ids(app, "region", reverse=True)
        overview.set_filter("prod")
        narrowed = table.shown_ids()
        assert 0 < len(narrowed) < len(app.models)
        overview.set_filter("")
        assert table.shown_ids() == sorted_ids(app, "region", reverse=True)
        # A new snapshot while a few rows are shown, then the filter cleared.
        overview.set_filter("eu-west-1")
        source.push(make_snapshot(demo_views(), sweep=43))
        await started(pilot, app, 2)
        overview.set_filter("")
        assert table.shown_ids() == sorted_ids(app, "region", reverse=True)
        overview.sort_by("account", reverse=False)
        assert table.shown_ids() == sorted_ids(app, "account")


async def test_cells_handed_back_after_a_filter_are_those_made_afresh() -> None:
    app, _ = demo()
    async with app.run_test(size=SIZE) as pilot:
        overview = await started(pilot, app)
        table = app.query_one(ViewTable)

        def afresh(query: str) -> None:
            for rid in table.shown_ids():
                lit = rid in app.highlighted()
                assert table.shown_cells(rid) == row_cells(app.models[rid], T0, lit, query)

        # Typed a key at a time; "stale" shows a row's second finding, marked, and
        # "stalex" hides that row with it.
        for typed in ("s", "st", "stale", "", "k", "kms", "", "stale", "stalex", "", "eu"):
            overview.set_filter(typed)
            afresh(typed)
        assert (
            any(
                (cells := table.shown_cells(rid)) is not None
                and cells[-1][0].startswith(MATCH_MARK)
                for rid in table.shown_ids()
            )
            is False
        )  # "eu" matches no finding: every row shows its top one
        overview.set_filter("stale")
        assert any(
            (cells := table.shown_cells(rid)) is not None and cells[-1][0].startswith(MATCH_MARK)
            for rid in table.shown_ids()
        )
        overview.set_filter("")
        afresh("")


async def test_prompts_restyle_nothing_whose_look_they_would_not_change() -> None:
    app, _ = demo()
    async with app.run_test(size=SIZE) as pilot:
        overview = await started(pilot, app)
        table = app.query_one(ViewTable)
        restyled: list[str] = []
        for widget in (table, *app.query(PromptInput)):
            update = widget.notify_style_update

            def counted(update: Callable[[], None] = update, name: str = widget.id or "") -> None:
                restyled.append(name)
                update()

            widget.notify_style_update = counted
        look = table._look()
        cycles: list[list[str]] = []
        for _ in range(2):
            restyled.clear()
            await pilot.press("slash")
            await wait_until(pilot, overview.prompt_open)
            assert table.has_pseudo_class("focus")  # drawn as focused without the keyboard
            await pilot.press("escape")
            await wait_until(pilot, lambda: not overview.prompt_open())
            cycles.append(list(restyled))
        # The table never; the prompt as it first opened (and Textual's validation classes
        # as it first lost focus), then never again.
        assert "views" not in cycles[0] and "filter" in cycles[0]
        assert cycles[1] == []
        assert table._look() == look
        # What the skipped restyles would have given is what is in force.
        await pilot.press("slash")
        await wait_until(pilot, overview.prompt_open)
        prompt = app.query_one("#filter", PromptInput)
        styles = (prompt.rich_style, prompt.background_colors)
        app.update_styles(prompt)
        app.update_styles(table)
        await pilot.pause()
        assert (prompt.rich_style, prompt.background_colors) == styles
        assert table._look() == look


async def test_a_row_is_drawn_again_only_when_it_changes() -> None:
    clock: list[datetime] = [T0]
    app, _ = demo(clock)
    async with app.run_test(size=(160, 24)) as pilot:  # wide enough for the age columns
        overview = await started(pilot, app)
        table = app.query_one(ViewTable)
        drawn: list[object] = []
        fast_row = table._fast_row

        def counted(row_key: object, *args: object, **kw: object) -> object:
            drawn.append(row_key)
            return fast_row(row_key, *args, **kw)  # type: ignore[arg-type]

        table._fast_row = counted  # type: ignore[method-assign, assignment]
        await pilot.press("down")
        await wait_until(pilot, lambda: len(drawn) >= 2)
        await pilot.pause()
        assert len(drawn) == 2  # the row the cursor left and the one it reached
        # A filter and back: the rows return to their places as they were drawn.
        before = screen_text(app)
        overview.set_filter("prod")
        await pilot.pause()
        drawn.clear()
        overview.set_filter("")
        await pilot.pause()
        assert screen_text(app) == before
        assert len(drawn) < len(table.shown_ids())
        # A cell the clock changes is drawn with its new text.
        rid = table.shown_ids()[table.cursor_row]
        old = table.shown_cells(rid)
        clock[0] = T0 + timedelta(minutes=7)
        app._tick()
        new = table.shown_cells(rid)
        assert old is not None and new is not None and new[5] != old[5]
        await wait_until(pilot, lambda: new[5][0] in screen_text(app))


async def test_a_filter_never_refits_the_columns() -> None:
    """The columns fit the snapshot's rows, not the filter's: typing or clearing a filter
    keeps every column's width, so no row's drawn cells are made again for it."""
    app, _ = demo()
    async with app.run_test(size=(160, 24)) as pilot:
        overview = await started(pilot, app)
        table = app.query_one(ViewTable)
        widths, generation = dict(table.col_widths), table._generation
        for query in ("eu-west-1", "org-main", "zzz-nothing", ""):
            overview.set_filter(query)
            await pilot.pause()
            assert (table.col_widths, table._generation) == (widths, generation), query
        assert len(table.shown_ids()) == len(app.models)


async def test_the_jump_prompt_completes_as_it_is_typed() -> None:
    app, _ = demo()
    async with app.run_test(size=SIZE) as pilot:
        overview = await started(pilot, app)
        await pilot.press("colon", *"EU-CEN")
        jump = app.query_one("#jump", JumpInput)
        await wait_until(pilot, lambda: jump.value == "EU-CEN")
        assert jump._suggestion == "eu-central-1"
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: not overview.prompt_open())
        rid = app.query_one(ViewTable).cursor_view_id
        assert rid is not None and app.models[rid].view.key.region == "eu-central-1"
