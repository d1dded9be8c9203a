"""Muting from the TUI: key `m`, the dialog, the mute file, dimmed rows and expiry toasts.

Fake source only: the engine's part (re-reading the mute file, judging the state from the
unmuted findings) is `core.mute`, tested on its own; here the snapshot that follows a mute
is what `core.mute.apply_mutes` makes of the file the TUI wrote.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static

from core.model import MuteMark, Notice, State
from core.mute import apply_mutes, load_mute_file
from tests.support.builders import T0, coverage_gap, demo_views, make_snapshot
from tests.support.fakes import FakeSource, frozen_clock
from tests.support.screens import screen_text, statics_text, widget_text
from tests.tui.test_tui import SIZE, move_cursor_to, started, table, wait_until
from tui.app import TrailtopApp
from tui.dialogs.mute import MuteScreen, parse_expiry
from tui.rows import MUTED_MARK, build_model, coverage_views, row_cells
from tui.screens.drilldown import DrilldownScreen
from tui.screens.overview import OverviewScreen

REASON = "sandbox trail off on purpose"


def mute_app(path: Path | None) -> tuple[TrailtopApp, FakeSource]:
    source = FakeSource(make_snapshot(demo_views(), sweep=1))
    return TrailtopApp(source, clock=frozen_clock(T0), mute_file=path), source


# ---------------------------------------------------------------------------- pure


def test_parse_expiry_durations_dates_and_refusals() -> None:
    assert parse_expiry("", T0) == T0 + timedelta(days=7)  # the default
    assert parse_expiry("12h", T0) == T0 + timedelta(hours=12)
    assert parse_expiry(" 30D ", T0) == T0 + timedelta(days=30)
    assert parse_expiry("2w", T0) == T0 + timedelta(weeks=2)
    assert parse_expiry("2026-12-31", T0) == datetime(2026, 12, 31, tzinfo=UTC)
    assert parse_expiry("2026-12-01T06:30", T0) == datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    for bad, why in (
        ("0d", "more than zero"),
        ("2026-11-01", "already past"),
        ("soon", "not a duration"),
        ("99999d", "a mute must end"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_expiry(bad, T0)


def test_muted_cells_are_dimmed_and_marked_and_a_muted_gap_does_not_fail() -> None:
    v = demo_views()[1]
    mark = MuteMark(REASON, T0 + timedelta(days=1), "config")
    muted = replace(v, findings=tuple(replace(f, muted=mark) for f in v.findings), state=State.OK)
    cells = row_cells(build_model(muted), T0)
    assert cells[-1][0].startswith(f"{MUTED_MARK} {v.findings[0].code}: ")
    assert cells[-1][1] == "muted" and cells[1][1] == "muted"  # finding and account dimmed
    plain_cells = row_cells(build_model(v), T0)
    assert plain_cells[-1][1] == "finding" and plain_cells[1][1] == "cell"

    gap = coverage_gap()
    snap = make_snapshot([], coverage=[gap])
    assert coverage_views(snap)[0].state is State.FAILING
    gap_muted = replace(gap, findings=tuple(replace(f, muted=mark) for f in gap.findings))
    row = coverage_views(make_snapshot([], coverage=[gap_muted]))[0]
    assert row.state is State.OK and row.top_finding is not None and row.top_finding.muted


# ---------------------------------------------------------------------------- pilot


async def test_m_on_a_row_writes_the_mute_file_and_the_muted_row_is_dimmed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conf" / "mutes.toml"
    app, source = mute_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        rid = move_cursor_to(app, lambda v: [f.code for f in v.findings] == ["SNS_TOPIC_MISSING"])
        view = app.models[rid].view
        code = view.findings[0].code
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MuteScreen))
        what = widget_text(app.screen.query_one("#mute-what", Static))
        assert "WARN" in table(app).shown_cells(rid)[0][0]  # type: ignore[index]
        for shown in (code, view.key.account_id, "us-east-1", view.trail.arn, str(path)):
            assert shown in what
        # A reason is required: enter without one keeps the dialog open and says so.
        await pilot.press("enter")
        assert isinstance(app.screen, MuteScreen)
        assert "reason is required" in widget_text(app.screen.query_one("#mute-error", Static))
        app.screen.query_one("#mute-reason", Input).value = REASON
        app.screen.query_one("#mute-duration", Input).value = "30d"
        await pilot.press("enter")
        await wait_until(pilot, lambda: rid in source.refreshes)
        assert isinstance(app.screen, OverviewScreen)
        [mute] = load_mute_file(path)
        assert (mute.code, mute.reason, mute.expires) == (code, REASON, T0 + timedelta(days=30))
        assert mute.matches(code, view.key.account_id, "us-east-1", trail_arn=view.trail.arn)
        assert not mute.matches(code, view.key.account_id, "eu-west-1", trail_arn=view.trail.arn)
        assert any(n.title == "Muted" for n in app._notifications)

        # The engine's next sweep, with the file the TUI wrote.
        # It carries an expired mute's notice too (said once by the engine): a toast.
        views = apply_mutes(demo_views(), [], load_mute_file(path), T0).views
        expired = Notice("mute-expired", "222222222222", "The mute of KMS_KEY_DISABLED expired")
        source.push(replace(make_snapshot(views, sweep=2), notices=(expired,)))
        await started(pilot, 2)
        toasts = [n.message for n in app._notifications if n.title == "Mute expired"]
        assert toasts == [expired.message]
        cells = table(app).shown_cells(rid)
        assert cells is not None
        assert cells[-1] == (cells[-1][0], "muted") and cells[-1][0].startswith(MUTED_MARK)
        assert cells[0][0].split() == ["OK"]  # not counted: the row is no longer WARN
        assert f"{MUTED_MARK} {code}" in screen_text(app)

        app.open_drilldown(rid)
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        await pilot.pause()
        text = statics_text(app.screen)
        assert f"muted until 2026-12-27T18:00:00Z: {REASON} ({path})" in text


async def test_m_in_the_drilldown_offers_each_finding_and_says_why_it_cannot_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mutes.toml"
    app, source = mute_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        rid = move_cursor_to(app, lambda v: len(v.findings) == 2)
        second = app.models[rid].view.findings[1].code
        app.open_drilldown(rid)
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MuteScreen))
        await pilot.press("escape")  # cancel: nothing is written
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        assert not path.exists()

        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MuteScreen))
        app.screen.query_one("#mute-findings", OptionList).highlighted = 1
        await pilot.pause()
        assert second in widget_text(app.screen.query_one("#mute-what", Static))
        app.screen.query_one("#mute-reason", Input).value = REASON
        await pilot.press("enter")
        await wait_until(pilot, lambda: rid in source.refreshes)
        assert isinstance(app.screen, DrilldownScreen)
        [mute] = load_mute_file(path)
        assert mute.code == second and mute.expires == T0 + timedelta(days=7)

        # A mute file that cannot be written: an error toast, no traceback, no refresh.
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("")
        app.mute_file = blocker / "mutes.toml"
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MuteScreen))
        app.screen.query_one("#mute-reason", Input).value = REASON
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: any("not written" in str(n.title) for n in app._notifications)
        )
        [toast] = [n for n in app._notifications if "not written" in str(n.title)]
        assert toast.severity == "error" and "Traceback" not in toast.message
        assert str(blocker) in toast.message
        assert source.refreshes == [rid] and app.is_running

        # No mute file in the settings: muting is off, and `m` says so.
        app.mute_file = None
        await pilot.press("m")
        await wait_until(
            pilot, lambda: any("Muting is off" in n.message for n in app._notifications)
        )
        assert isinstance(app.screen, DrilldownScreen)
