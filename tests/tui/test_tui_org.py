"""The overview and drill-down at organization size, against a fake source: an organization
trail's rows say how many accounts it logs and how many are unreachable, the filter finds
them by "org", the drill-down lists the accounts (unreachable first, with the reason) and
shows untrusted names literally. Timing is measured by bench/tui_figures.org_figures, never
asserted here."""

from __future__ import annotations

from dataclasses import replace

from textual.pilot import Pilot

from tests.support.builders import REGIONS, org_account, org_coverage, org_snapshot
from tests.support.fakes import FakeSource, frozen_clock
from tests.support.pilot import wait_until
from tests.support.screens import screen_text, widget_text
from tui.app import TrailtopApp
from tui.layout import cut_middle, cut_trail
from tui.rows import COL_INDEX, build_model, build_models, row_cells, trail_text
from tui.screens.drilldown import DrilldownScreen
from tui.screens.overview import OverviewScreen
from tui.widgets.lines import LinesView
from tui.widgets.view_table import ViewTable

SIZE = (120, 40)
ACCOUNTS = 30
HOSTILE_NAME = "[b]x[/b]\x1b[2J"
HOSTILE_REASON = "[@click=app.quit]x[/] AccessDenied\x1b]52;c;ZXZpbA==\x07"


def small_org(unreachable: int = 3, **kw: object) -> FakeSource:
    return FakeSource(
        org_snapshot(ACCOUNTS, unreachable, regions=REGIONS[:3], **kw)  # type: ignore[arg-type]
    )


async def started(pilot: Pilot, n: int = 1) -> TrailtopApp:
    app = pilot.app
    assert isinstance(app, TrailtopApp)
    await wait_until(pilot, lambda: app.snapshots_applied >= n)
    await pilot.pause()
    return app


def org_rows(app: TrailtopApp) -> list[str]:
    return [rid for rid, m in app.models.items() if m.view.org_coverage is not None]


def trail_cell(app: TrailtopApp, rid: str) -> str:
    cells = app.query_one(ViewTable).shown_cells(rid)
    assert cells is not None
    return cells[COL_INDEX["trail"]][0]


# ---------------------------------------------------------------------------- pure


def test_org_mark_outlives_the_trail_name_as_the_column_narrows() -> None:
    view = org_snapshot(ACCOUNTS, 3, regions=REGIONS[:1]).views[0]
    text = trail_text(view)
    assert text == "org-audit org ×30 (3 unreachable)"
    assert cut_trail(text, 40) == text
    for width in (30, 24, 18, 15, 12, 10, 8):
        cut = cut_trail(text, width)
        assert len(cut) <= width and "×30" in cut, (width, cut)
    for width in (30, 24):  # room for the unreachable count: it stays, the name is cut
        assert "(3 unr" in cut_trail(text, width) and cut_trail(text, width).startswith("org")
    # A name that only looks like a mark is cut like any other name.
    assert cut_trail("org-trail-of-mine", 10) == cut_middle("org-trail-of-mine", 10)


def test_row_model_follows_a_change_of_coverage_alone() -> None:
    """TrailView equality leaves org_coverage out: the row must still be rebuilt."""
    snap = org_snapshot(ACCOUNTS, 3, regions=REGIONS[:1])
    before = build_models(snap.views)
    cov = org_coverage(ACCOUNTS, 5)
    views = [replace(v, org_coverage=cov) if v.org_coverage else v for v in snap.views]
    after = build_models(views, before)
    rid = next(v.id for v in views if v.org_coverage)
    assert after[rid] is not before[rid]
    assert "(5 unreachable)" in row_cells(after[rid], snap.generated_at)[COL_INDEX["trail"]][0]
    other = next(v.id for v in views if not v.org_coverage)
    assert after[other] is before[other]
    assert "org" in build_model(views[0]).haystack.split()


# ---------------------------------------------------------------------------- pilot


async def test_org_trail_rows_say_how_many_accounts_they_log_and_filter_finds_them() -> None:
    source = small_org()
    app = TrailtopApp(source, clock=frozen_clock())
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        table = app.query_one(ViewTable)
        rows = org_rows(app)
        assert len(rows) == 3  # one per region, not one per member and region
        for rid in rows:
            assert trail_cell(app, rid) == "org-audit org ×30 (3 unreachable)"
        local = [rid for rid in app.models if rid not in rows]
        assert local and all("org" not in trail_cell(app, rid) for rid in local)
        assert "1 org trail covering 30 accounts (3 unreachable)" in screen_text(app)

        await pilot.press("slash", "o", "r", "g", "enter")
        await pilot.pause()
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        assert overview.query_text == "org"
        assert sorted(table.shown_ids()) == sorted(rows)
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == len(app.models)

        # A later sweep reaches two more members: the rows say so.
        cov = org_coverage(ACCOUNTS, 1)
        source.push(org_snapshot(ACCOUNTS, 1, regions=REGIONS[:3], sweep=2, coverage=cov))
        await started(pilot, 2)
        assert trail_cell(app, rows[0]) == "org-audit org ×30 (1 unreachable)"

        # At 80 columns the row keeps the account count, and the finding its whole code.
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert table.move_to(rows[0])
        await pilot.pause()
        text = screen_text(app)
        line = next(x for x in text.splitlines() if "management" in x)
        assert "org×30" in line or "org ×30" in line
        assert "S3_POLICY_DENIES_CLOUDTRAIL" in text


async def test_drilldown_lists_unreachable_accounts_first_with_names_literal() -> None:
    hostile = org_account(7)
    base = org_coverage(ACCOUNTS, 3)
    names = {**base.names, hostile: HOSTILE_NAME, org_account(8): "[red]eight[/red]"}
    reasons = {**base.unreachable, hostile: HOSTILE_REASON}
    cov = org_coverage(ACCOUNTS, names=names, reasons=reasons)
    source = FakeSource(org_snapshot(ACCOUNTS, regions=REGIONS[:3], coverage=cov))
    app = TrailtopApp(source, clock=frozen_clock())
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        app.open_drilldown(org_rows(app)[0])
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        await pilot.pause()
        screen = app.screen
        summary = widget_text(screen.query_one("#dd-coverage"))  # type: ignore[arg-type]
        assert "Logs 30 accounts" in summary and "4 unreachable" in summary
        assert "26 reachable" in summary

        unreachable = [t for t, _ in screen.query_one("#dd-unreachable", LinesView).lines]
        heads = [t.strip() for t in unreachable if not t.startswith("    ")]
        assert [h.split()[0] for h in heads] == sorted(reasons)
        i = unreachable.index(f"  {hostile}  [b]x[/b]\\x1b[2J")  # literal, escape visible
        assert unreachable[i + 1].startswith("    [@click=app.quit]x[/] AccessDenied\\x1b]52")
        for account, reason in base.unreachable.items():  # each reason whole, under its account
            j = next(k for k, t in enumerate(unreachable) if t.strip().startswith(account))
            below = []
            for line in unreachable[j + 1 :]:
                if not line.startswith("    "):
                    break
                below.append(line.strip())
            assert " ".join(below) == reason

        reachable = [t.strip() for t, _ in screen.query_one("#dd-accounts", LinesView).lines]
        assert len(reachable) == ACCOUNTS - len(reasons)
        assert f"{org_account(8)}  [red]eight[/red]" in reachable
        assert not any(t.startswith(tuple(reasons)) for t in reachable)

        shown = screen_text(app)
        assert "[b]x[/b]\\x1b[2J" in shown  # drawn on screen as typed, not as bold
        assert "Root cause" not in shown and "Delivering" in shown  # the verdict still leads
        assert app.is_running  # the [@click=app.quit] reason did nothing


async def test_drilldown_says_when_a_delegated_administrator_reads_the_trail() -> None:
    admin = org_account(2)
    owned = org_coverage(ACCOUNTS, 3)
    by_admin = replace(owned, read_from=admin, owner_account=org_account(0))
    for cov, said in ((owned, False), (by_admin, True)):
        source = FakeSource(org_snapshot(ACCOUNTS, regions=REGIONS[:3], coverage=cov))
        app = TrailtopApp(source, clock=frozen_clock())
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            app.open_drilldown(org_rows(app)[0])
            await wait_until(pilot, lambda a=app: isinstance(a.screen, DrilldownScreen))
            await pilot.pause()
            summary = widget_text(app.screen.query_one("#dd-coverage"))  # type: ignore[arg-type]
            assert f"read from {cov.read_from}" in summary, summary
            assert ("delegated administrator" in summary) is said, summary
