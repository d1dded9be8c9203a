"""Pilot tests of the TUI against a fake SnapshotSource (no engine, no AWS).

Synchronisation is by condition (`wait_until`), never by sleeping. Timing figures are
printed (run with `-s`) and never asserted.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from core.engine.protocols import Phase
from core.model import State, TargetResult
from tests.support.builders import (
    T0,
    breaking,
    bulk_views,
    demo_views,
    hostile_view,
    make_snapshot,
    mutate,
)
from tests.support.fakes import FakeSource, frozen_clock
from tests.support.pilot import wait_until
from tests.support.screens import (
    count_actions,
    palette_titles,
    press_and_measure,
    screen_text,
    statics_text,
)
from tui.app import TrailtopApp
from tui.keymap import KEYMAP
from tui.rows import COLUMNS
from tui.screens.drilldown import DrilldownScreen
from tui.screens.help import HelpScreen
from tui.screens.overview import OverviewScreen
from tui.signals import subscribe
from tui.widgets.view_table import ViewTable

SIZE = (120, 40)


def demo_app(views=None, **kw) -> tuple[TrailtopApp, FakeSource]:  # type: ignore[no-untyped-def]
    source = FakeSource(make_snapshot(views if views is not None else demo_views(), sweep=42))
    app = TrailtopApp(source, clock=kw.pop("clock", frozen_clock(T0)), **kw)
    return app, source


def table(app: TrailtopApp) -> ViewTable:
    return (
        app.query_one(ViewTable) if isinstance(app.screen, OverviewScreen) else app.overview.table
    )


async def started(pilot: Pilot, n: int = 1) -> None:
    app = pilot.app
    assert isinstance(app, TrailtopApp)
    await wait_until(pilot, lambda: app.snapshots_applied >= n)
    await pilot.pause()


def state_words(app: TrailtopApp) -> list[str]:
    t = table(app)
    return [t.shown_cells(rid)[0][0].strip(" *").split()[0] for rid in t.shown_ids()]  # type: ignore[index]


def cursor_view(app: TrailtopApp):  # type: ignore[no-untyped-def]
    rid = table(app).cursor_view_id
    return app.models[rid].view if rid else None


def move_cursor_to(app: TrailtopApp, pred) -> str:  # type: ignore[no-untyped-def]
    t = table(app)
    for rid in t.shown_ids():
        if pred(app.models[rid].view):
            assert t.move_to(rid)
            return rid
    raise AssertionError("no such row")


async def open_drilldown_on(pilot: Pilot, pred) -> str:  # type: ignore[no-untyped-def]
    """Enter on the first row whose view matches `pred`; returns its id once its drill-down
    is the screen."""
    app = pilot.app
    assert isinstance(app, TrailtopApp)
    rid = move_cursor_to(app, pred)
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
    return rid


# ---------------------------------------------------------------------------- overview


async def test_header_counts_match_snapshot() -> None:
    app, source = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        counts = source.initial.counts()  # type: ignore[union-attr]
        text = screen_text(app)
        for word, state in (
            ("FAIL", "failing"),
            ("WARN", "warning"),
            ("UNKN", "unknown"),
            ("OK", "ok"),
        ):
            assert f"{word} {counts[state]}" in text
        assert "sweep #42" in text
        assert "ARMED" not in text  # remediation is off
        assert f"{len(demo_views())} views" in text
        assert table(app).row_count == len(demo_views())


async def test_header_asks_for_an_sso_login_until_the_session_is_back() -> None:
    app, source = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        assert "aws sso login" not in screen_text(app)
        base = source.initial
        assert base is not None
        source.push(replace(base, sweep=43, sso_login_needed=("sso-prod", "sso-dev")))
        await started(pilot, 2)
        text = screen_text(app)
        assert "aws sso login --profile sso-prod" in text
        assert "and 1 more profile" in text
        source.push(replace(base, sweep=44))
        await started(pilot, 3)
        assert "aws sso login" not in screen_text(app)


async def test_header_is_one_line_at_80x24_in_order_of_importance() -> None:
    targets = (
        TargetResult("prod", "111111111111", "us-east-1", ok=True),
        TargetResult("staging", "222222222222", "eu-west-1", ok=False, error="ExpiredToken"),
    )
    source = FakeSource(make_snapshot(demo_views(), sweep=42, targets=targets))
    app = TrailtopApp(source, clock=frozen_clock(T0), remediation_enabled=True, title_hint="demo")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        source.event(Phase.SWEEP_STARTED, "sweep 43")
        await wait_until(pilot, lambda: "⟳ sweep 43…" in screen_text(app).splitlines()[0])
        lines = screen_text(app).splitlines()
        for part in ("FAIL 2", "WARN 1", "UNKN 1", "OK 5", "ARMED", "⟳", "1/2 in error (t)"):
            assert part in lines[0], (part, lines[0])
        assert lines[1].split()[0] == "State"  # the table starts on the second line
        assert "sweep #42 in 4.2s" in lines[-2]  # the rest is on the status line
        assert "r Refresh" in lines[-1] and "t Targets" in lines[-1]


async def test_rows_worst_first() -> None:
    app, _ = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        words = state_words(app)
        order = ["FAIL", "WARN", "UNKN", "OK"]
        assert words == sorted(words, key=order.index)
        assert words[0] == "FAIL" and words[-1] == "OK"


async def test_filter_narrows_and_escape_clears() -> None:
    app, _ = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        total = table(app).row_count
        await pilot.press("slash")
        assert app.focused is app.query_one("#filter", Input)
        await pilot.press(*"staging")
        await wait_until(pilot, lambda: table(app).row_count == 2)
        assert all(app.models[r].view.profile == "staging" for r in table(app).shown_ids())
        assert "filter: staging" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: table(app).row_count == total)
        assert not app.screen.prompt_open()  # type: ignore[attr-defined]
        assert not app.query_one("#filter-row").display
        assert isinstance(app.focused, ViewTable)


async def test_filter_by_finding_code_and_enter_keeps_it() -> None:
    app, _ = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("slash", *"kms_key_disabled", "enter")
        await wait_until(pilot, lambda: table(app).row_count == 1)
        assert isinstance(app.focused, ViewTable)
        assert cursor_view(app).key.account_id == "222222222222"
        # Esc on the table clears an active filter too.
        await pilot.press("escape")
        await wait_until(pilot, lambda: table(app).row_count == len(demo_views()))
        # A code that is not the row's top finding: the row shows the finding it matched.
        await pilot.press("slash", *"stale", "enter")
        await wait_until(pilot, lambda: table(app).row_count == 1)
        assert "+S3_DELIVERY_STALE: no S3 delivery" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: table(app).row_count == len(demo_views()))
        text = screen_text(app)
        assert "+S3_DELIVERY_STALE" not in text and "KMS_KEY_DISABLED: KMS key" in text


async def test_faults_only_toggle() -> None:
    app, source = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        not_ok = sum(1 for v in source.initial.views if v.state is not State.OK)  # type: ignore[union-attr]
        await pilot.press("f")
        await wait_until(pilot, lambda: table(app).row_count == not_ok)
        assert "OK" not in state_words(app)
        assert "faults only" in screen_text(app)
        await pilot.press("f")
        await wait_until(pilot, lambda: table(app).row_count == len(demo_views()))


async def test_sort_by_column_key_and_header_click() -> None:
    app, _ = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        region_idx = [c.key for c in COLUMNS].index("region")
        keep = move_cursor_to(app, lambda v: v.key.region == "ap-southeast-2")

        def regions() -> list[str]:
            return [app.models[r].view.key.region for r in table(app).shown_ids()]

        await pilot.press(str(region_idx + 1))
        assert regions() == sorted(regions())
        assert table(app).cursor_view_id == keep  # cursor follows the view, not the index
        await pilot.press(str(region_idx + 1))
        assert regions() == sorted(regions(), reverse=True)
        assert table(app).cursor_view_id == keep
        # Clicking the Trail header sorts by trail (only the columns that fit are drawn).
        shown = [str(k.value) for k in table(app).columns]
        widths = [c.width for c in table(app).columns.values()]
        x = sum(widths[: shown.index("trail")]) + 2
        await pilot.click(ViewTable, offset=(x, 0))
        trails = [app.models[r].view.trail.name.lower() for r in table(app).shown_ids()]
        assert table(app).sort_column == "trail"
        assert trails == sorted(trails)


async def test_jump_to_region() -> None:
    app, _ = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("colon", *"eu-cen")
        # While the prompt has the keyboard, the footer spells its keys, not the table's.
        footer = screen_text(app).splitlines()[-1]
        assert "Jump" in footer and "tab Complete" in footer and "esc Cancel" in footer
        assert "Filter" not in footer and "Quit" not in footer
        await pilot.press("tab")
        assert app.query_one("#jump", Input).value == "eu-central-1"
        await pilot.press("enter")
        await wait_until(pilot, lambda: cursor_view(app).key.region == "eu-central-1")
        assert "/ Filter" in screen_text(app).splitlines()[-1]
        await pilot.press("colon", *"acme-sandbox", "enter")
        await wait_until(pilot, lambda: cursor_view(app).account_alias == "acme-sandbox")


async def test_ages_tick_with_the_clock() -> None:
    now = [T0]
    app, _ = demo_app(clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        rid = move_cursor_to(app, lambda v: v.account_alias == "acme-sandbox")
        assert table(app).shown_cells(rid)[5][0] == "5m00s"  # type: ignore[index]
        now[0] = T0 + timedelta(seconds=65)
        app._tick()
        assert table(app).shown_cells(rid)[5][0] == "6m05s"  # type: ignore[index]


async def test_stale_view_marked() -> None:
    app, _ = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        stale = [r for r in table(app).shown_ids() if app.models[r].view.stale]
        assert stale
        cell = table(app).shown_cells(stale[0])[0]  # type: ignore[index]
        assert "~12m" in cell[0] and cell[1].startswith("stale")


# ---------------------------------------------------------------------------- drill-down


async def test_drilldown_shows_everything_and_back_keeps_cursor() -> None:
    app, _ = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        rid = await open_drilldown_on(
            pilot, lambda v: any(f.code == "S3_POLICY_DENIES_CLOUDTRAIL" for f in v.findings)
        )
        assert app.screen.view_id == rid  # type: ignore[attr-defined]
        static_text = statics_text(app.screen)
        for expected in (
            "cloudtrail-111111111111",  # bucket
            "Home region", "us-east-1", "Multi-region",
            "LatestDeliveryError", "AccessDenied", "LatestDeliveryTime", "ago",
            "S3_DELIVERY_ERROR",  # also reported, after the root cause
            "ap-southeast-2", "us-west-2",  # the per-region grid of the multi-region trail
        ):  # fmt: skip
            assert expected in static_text, expected
        # The verdict leads: on the first screen, before the configuration.
        first = screen_text(app)
        for expected in (
            "Root cause: [CRITICAL] S3_POLICY_DENIES_CLOUDTRAIL",
            "bucket policy does not grant s3:PutObject", "Who broke it: not known",
            "Fix: x reviews plan fix-bucket-policy", "read-only: remediation is off",
            "What to do: Add the CloudTrail statement", "missing_statement",
            '"Action": "s3:PutObject"',
        ):  # fmt: skip
            assert expected in first, expected
        assert first.index("Root cause") < first.index("Configuration")
        assert app.screen.check_action("fix", ()) is None  # disabled, greyed in the footer
        await pilot.press("x")  # read-only modal; here the plan is not in the snapshot: said so
        await wait_until(
            pilot, lambda: any("No plan of this view" in n.message for n in app._notifications)
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen))
        assert table(app).cursor_view_id == rid


async def test_drilldown_live_update() -> None:
    app, source = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        rid = await open_drilldown_on(pilot, lambda v: v.account_alias == "acme-sandbox")
        assert "KMS_KEY_MISSING" not in screen_text(app)
        views = [
            breaking(v, "KMS_KEY_MISSING") if v.id == rid else v
            for v in source.initial.views  # type: ignore[union-attr]
        ]
        source.push(make_snapshot(views, sweep=43, changed={rid}))
        await started(pilot, 2)
        assert "KMS_KEY_MISSING" in screen_text(app)
        assert " FAIL " in screen_text(app).splitlines()[0]


async def test_the_drilldown_shown_again_shows_the_next_view_from_the_top() -> None:
    """One drill-down screen is kept and shown again: the next view's own content, scrolled
    to the top, with changes made while it was away; nothing of the last view is left."""
    app, source = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        first_id = await open_drilldown_on(
            pilot, lambda v: any(f.code == "S3_POLICY_DENIES_CLOUDTRAIL" for f in v.findings)
        )
        first = app.screen
        first.query_one("#dd-body").scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert first.query_one("#dd-body").scroll_y > 0
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen))
        # While it is put away, the next view breaks.
        second_id = move_cursor_to(app, lambda v: v.account_alias == "acme-sandbox")
        views = [
            breaking(v, "KMS_KEY_MISSING") if v.id == second_id else v
            for v in source.initial.views  # type: ignore[union-attr]
        ]
        source.push(make_snapshot(views, sweep=43, changed={second_id}))
        await started(pilot, 2)
        await open_drilldown_on(pilot, lambda v: v.id == second_id)
        again = app.screen
        assert again is first  # the same screen, shown again
        assert again.view_id == second_id and again.view is not None
        assert again.view.id == second_id
        await pilot.pause()
        assert again.query_one("#dd-body").scroll_y == 0
        shown = screen_text(app)
        assert "KMS_KEY_MISSING" in shown and "acme-sandbox" in shown.splitlines()[0]
        assert "S3_POLICY_DENIES_CLOUDTRAIL" not in statics_text(again)
        assert first_id != second_id


async def test_refresh_key_asks_source() -> None:
    app, source = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("r")
        assert source.refreshes == [None]
        assert "⟳ refresh requested…" in screen_text(app)
        rid = table(app).cursor_view_id
        await pilot.press("enter", "r")
        assert source.refreshes == [None, rid]


async def test_source_events_shown() -> None:
    app, source = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        source.event(Phase.SWEEP_STARTED, "sweep 43")
        await wait_until(pilot, lambda: "⟳ sweep 43…" in screen_text(app))
        source.event(Phase.SWEEP_FAILED, "[/]boom\x1b[2J")
        await wait_until(pilot, lambda: "boom" in screen_text(app))
        assert "\x1b" not in screen_text(app)
        assert "[/]boom" in screen_text(app)


# ---------------------------------------------------------------------------- live updates


async def test_turning_failing_updates_in_place_and_keeps_cursor() -> None:
    app, source = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        rid = move_cursor_to(app, lambda v: v.account_alias == "acme-sandbox")
        index_before = table(app).cursor_row
        views = [breaking(v) if v.id == rid else v for v in source.initial.views]  # type: ignore[union-attr]
        source.push(make_snapshot(views, sweep=43, changed={rid}))
        await started(pilot, 2)
        t = table(app)
        stats = app.last_table_stats
        assert stats is not None and stats.added == 0 and stats.removed == 0
        assert not stats.columns_rebuilt and stats.rows_drawn == 1  # that row alone
        assert 0 < stats.updated_cells <= len(COLUMNS)
        assert t.cursor_view_id == rid
        assert t.cursor_row != index_before  # it moved up among the failing rows
        state_cell = t.shown_cells(rid)[0]  # type: ignore[index]
        assert state_cell[0].startswith("*FAIL") and state_cell[1].endswith("-changed")
        toasts = [(n.title, n.message) for n in app._notifications]
        assert ("Trail failing", "acme-sandbox us-east-1 logs") in toasts
        # Recovery raises a toast too.
        source.push(make_snapshot(source.initial.views, sweep=44, changed={rid}))  # type: ignore[union-attr]
        await started(pilot, 3)
        assert any(n.title == "Trail recovered" for n in app._notifications)
        assert t.cursor_view_id == rid


async def test_many_turn_failing_aggregated_and_bell() -> None:
    views = bulk_views(60)
    app, source = demo_app(views, bell=True)
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert not app._notifications  # the first snapshot never alerts
        ok = [v for v in views if v.state is State.OK][:12]
        ids = {v.id for v in ok}
        new = [breaking(v) if v.id in ids else v for v in views]
        source.push(make_snapshot(new, sweep=2, changed=ids))
        await started(pilot, 2)
        titles = [n.title for n in app._notifications]
        assert titles == ["12 views turned failing"]
        assert rings == [1]


async def test_views_appear_and_disappear() -> None:
    app, source = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        views = list(source.initial.views)  # type: ignore[union-attr]
        gone = views.pop()
        extra = replace(views[0], key=replace(views[0].key, region="sa-east-1"))
        source.push(make_snapshot([*views, extra], sweep=43))
        await started(pilot, 2)
        ids = set(table(app).shown_ids())
        assert gone.id not in ids and extra.id in ids
        assert app.last_table_stats.added == 1 and app.last_table_stats.removed == 1  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- hostile text


async def test_hostile_text_rendered_literally() -> None:
    app, _ = demo_app([*demo_views(), hostile_view()])
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        text = screen_text(app)
        assert "\x1b" not in text and "\x07" not in text
        assert "[/]" in text  # the trail name
        hostile = next(
            r for r in table(app).shown_ids() if app.models[r].view.key.account_id == "555555555555"
        )
        # The profile column gives way at 120 columns: its cell, and the drill-down below.
        assert table(app).shown_cells(hostile)[2][0] == "[red]p\\x07"  # type: ignore[index]
        assert "[b]alias[/b]\\u202e" in screen_text(app) or "[b]alias[/b]\\…" in text
        rid = move_cursor_to(app, lambda v: v.trail.name == "[/]")
        # Clicking the cell that holds "[@click=app.quit]" must not run an action.
        await pilot.click(ViewTable, offset=(100, table(app).cursor_row + 1))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        assert app.screen.view_id == rid  # type: ignore[attr-defined]
        await pilot.pause()
        body = screen_text(app)
        assert "\x1b" not in body and "\x07" not in body
        statics = statics_text(app.screen, width=6000)
        assert "[@click=app.quit]x[/]" in statics
        assert "[red]p\\x07" in statics  # the profile: markup literal, BEL made visible
        assert "\\u001b]52;c;ZXZpbA==\\u0007" in statics  # JSON-escaped evidence
        assert "\\x1b[2J" in statics  # the raw LatestDeliveryError, escaped by tui.safe
        assert "[link=https://evil.example]fix[/link]" in statics
        assert "\\u200f" in statics
        await pilot.click("#dd-findings", offset=(5, 2))
        await pilot.press("end")
        assert app.is_running and app.return_value is None
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen))
        assert app.is_running


# ---------------------------------------------------------------------------- help & palette


async def test_help_screen_lists_key_map() -> None:
    app, _ = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        for keys, what, _where in KEYMAP:
            assert keys in text and what[:30] in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen))


def test_every_binding_is_in_the_help() -> None:
    documented = " ".join(k for k, _, _ in KEYMAP)
    names = {"slash": "/", "colon": ":", "question_mark": "?", "escape": "esc", "enter": "enter"}
    screens = (OverviewScreen, DrilldownScreen, TrailtopApp, ViewTable)
    for cls in screens:
        for b in cls.BINDINGS:
            key = b.key if not hasattr(b, "key") else b.key  # type: ignore[union-attr]
            shown = names.get(key, key)
            if shown.isdigit():
                shown = "1-8"
            assert shown in documented, (cls.__name__, key)


async def test_command_palette_runs_actions() -> None:
    app, _ = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        titles = await palette_titles(app)
        for needed in ("Filter views", "Toggle faults only", "Jump to account or region",
                       "Drill down", "Refresh now", "Help: key map", "Sort by Region"):  # fmt: skip
            assert needed in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"faults only")
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.overview.faults_only)
        # Each screen brings its own entries; the app-wide ones stay.
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        titles = await palette_titles(app)
        assert "Back to overview" in titles and "Refresh now" in titles
        assert "Filter views" not in titles


async def test_a_screen_failing_on_a_signal_stops_the_app_loudly() -> None:
    """Signal.publish only logs a callback's error; tui.signals raises it again."""
    app, source = demo_app()

    def boom(_: object) -> None:
        raise RuntimeError("boom from a subscriber")

    with pytest.raises(RuntimeError, match="boom from a subscriber"):
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            subscribe(app.overview, app.snapshot_signal, boom)
            source.push(make_snapshot(demo_views(), sweep=43))
            await wait_until(pilot, lambda: not app.is_running)


async def test_quit_stops_source() -> None:
    app, source = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("ctrl+c")  # quits, as q does (not "press ctrl+q")
        await wait_until(pilot, lambda: not app.is_running)
    assert app.stop_thread is not None and app.stop_thread is not threading.main_thread()
    app.stop_thread.join(timeout=5)
    assert source.stopped == 1


async def test_no_color_states_still_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app, _ = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        assert app.no_color
        text = screen_text(app)
        for word in ("FAIL", "WARN", "UNKN", "OK ~12m"):
            assert word in text


# ---------------------------------------------------------------------------- performance


async def test_apply_5000_views_measured() -> None:
    """Initial apply and a 5% diff of a 5,000-view snapshot (prints figures; no time limits)."""
    views = bulk_views(5000)
    app, source = demo_app(views)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        first = app.last_table_stats
        assert first is not None and first.added == 5000 and table(app).row_count == 5000
        initial_total = app.last_apply_seconds
        keep = move_cursor_to(app, lambda v: v.state is State.OK)

        new, changed = mutate(views, 0.05)
        source.push(make_snapshot(new, sweep=2, changed=changed))
        await started(pilot, 2)
        diff = app.last_table_stats
        assert diff is not None and diff.added == 0 and diff.removed == 0
        assert diff.updated_cells >= len(changed)
        assert table(app).cursor_view_id == keep
        diff_total = app.last_apply_seconds

        # A real engine builds new (equal) objects each sweep: the equality path.
        fresh, changed2 = mutate([replace(v) for v in new], 0.05, seed=2)
        source.push(make_snapshot(fresh, sweep=3, changed=changed2))
        await started(pilot, 3)
        fresh_stats = app.last_table_stats
        assert fresh_stats is not None and fresh_stats.added == fresh_stats.removed == 0
        fresh_total = app.last_apply_seconds

        t0 = time.perf_counter()
        visible_cells = table(app).tick(T0 + timedelta(seconds=1), app.highlighted())
        tick_visible = time.perf_counter() - t0
        t0 = time.perf_counter()
        all_cells = table(app).tick(T0 + timedelta(seconds=2), set(), all_rows=True)
        tick_all = time.perf_counter() - t0
        print(
            f"\n[perf] 5000 views: initial apply {first.seconds:.3f}s table "
            f"({initial_total:.3f}s incl. models/alerts); "
            f"5% diff ({len(changed)} views, {diff.updated_cells} cells, sorted={diff.sorted}) "
            f"{diff.seconds:.3f}s table ({diff_total:.3f}s total); same with all-new equal objects "
            f"{fresh_stats.seconds:.3f}s table ({fresh_total:.3f}s total); "
            f"tick visible {visible_cells} cells {tick_visible * 1000:.1f}ms, "
            f"tick all {all_cells} cells {tick_all * 1000:.1f}ms"
        )


async def test_keys_responsive_during_snapshot_bursts() -> None:
    """Key-press latency while an engine thread pushes 1,000-view snapshots (prints p50/p95)."""
    views = bulk_views(1000)
    app, source = demo_app(views)
    snapshots = []
    current = views
    for i in range(40):
        current, changed = mutate(current, 0.05, seed=i)
        snapshots.append(make_snapshot(current, sweep=i + 2, changed=changed))
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        t = table(app)
        moves = count_actions(t, "cursor_down", "cursor_up")
        quiet = [
            await press_and_measure(app, k, lambda n=moves[0]: moves[0] > n)
            for k in ("down", "up") * 10
        ]
        stop = threading.Event()

        def engine() -> None:
            for snap in snapshots:
                if stop.is_set():
                    return
                source.push(snap)
                stop.wait(0.05)  # the engine's cadence, not synchronisation

        thread = threading.Thread(target=engine, name="fake-engine-burst")
        applied_before = app.snapshots_applied
        thread.start()
        busy = []
        try:
            for i in range(40):
                key = "down" if i % 2 == 0 else "up"
                busy.append(await press_and_measure(app, key, lambda n=moves[0]: moves[0] > n))
        finally:
            stop.set()
            thread.join()
        await pilot.pause()
        applied_during = app.snapshots_applied - applied_before
        assert applied_during >= 1 and len(busy) == 40 and moves[0] == 60

        def fmt(xs: list[float]) -> str:
            q = statistics.quantiles(xs, n=20)
            return (
                f"p50 {statistics.median(xs) * 1000:.1f}ms p95 {q[18] * 1000:.1f}ms "
                f"max {max(xs) * 1000:.1f}ms"
            )

        print(
            f"\n[perf] key latency idle: {fmt(quiet)}; during 1000-view snapshot bursts "
            f"({applied_during} applied, last apply {app.last_apply_seconds * 1000:.1f}ms): {fmt(busy)}"
        )


def test_first_snapshot_after_start_without_views() -> None:
    snap = make_snapshot([], sweep=1)
    assert snap.counts() == {"failing": 0, "warning": 0, "unknown": 0, "ok": 0}


@pytest.fixture
def _unused() -> datetime:  # keeps datetime import meaningful for type hints above
    return T0
