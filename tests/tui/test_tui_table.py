"""The overview table's own drawing and caches, against a fake source.

Rows are drawn from their cells directly (not through a Rich console) and cells are kept
while a filter hides their row; these tests hold both to what the plain path gives: the
segments `DataTable` itself renders, and the cells `tui.rows.row_cells` computes now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import MethodType

from textual.coordinate import Coordinate
from textual.strip import Strip
from textual.widgets import DataTable

from tests.support.builders import T0, bulk_views, finding, make_snapshot, make_view
from tests.support.fakes import FakeSource
from tests.support.pilot import wait_until
from tui.app import TrailtopApp
from tui.layout import GAP, MIDDLE_CUT, cut_cell
from tui.rows import AGE_COLUMNS, COL_INDEX, COLUMN_KEYS, row_cells
from tui.screens.overview import OverviewScreen
from tui.widgets.view_table import ViewTable


def app_started(app: TrailtopApp) -> Callable[[], bool]:
    return lambda: app.snapshots_applied >= 1


def views_with_odd_text() -> list:  # type: ignore[type-arg]
    """Names that are cut, wide characters, an empty finding, a second finding to match."""
    kms = finding("KMS_KEY_PENDING_DELETION", message="key is going away")
    s3 = finding("S3_BUCKET_MISSING", message="bucket is gone " * 6)
    return [
        *bulk_views(40),
        make_view("222222222222", "ap-southeast-2", "a-very-long-trail-name-" * 3,
                  alias="账户名前-production-東京", findings=(s3, kms)),
        make_view("333333333333", "eu-west-1", "plain", alias=None, profile=None,
                  s3_age=None, cw_age=None, log_group=False),
    ]  # fmt: skip


def both_lines(table: ViewTable, y: int, cursor: Coordinate, hover: Coordinate) -> list[Strip]:
    """Line `y` of the table's rows as drawn, and as `DataTable`'s own code draws it."""
    table.cursor_coordinate = cursor
    table.hover_coordinate = hover
    top = table.header_height
    out = []
    for plain in (False, True):
        table._line_cache.clear()
        if plain:  # DataTable's drawing through the console, for this instance only
            table._render_line_in_row = MethodType(DataTable._render_line_in_row, table)  # type: ignore[method-assign]
            strip = DataTable._render_line(table, y + top, 0, table.size.width, table.rich_style)
            del table._render_line_in_row
        else:
            strip = table._render_line(y + top, 0, table.size.width, table.rich_style)
        out.append(strip)
    return out


async def test_rows_are_drawn_as_datatable_draws_them() -> None:
    for size in ((80, 24), (120, 40)):
        app = TrailtopApp(FakeSource(make_snapshot(views_with_odd_text())), clock=lambda: T0)
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, app_started(app))
            await pilot.pause()
            table = app.query_one(ViewTable)
            assert table.row_count == 42
            for focused in (True, False):
                if not focused:
                    table.blur()
                    await pilot.pause()
                for y in range(table.row_count):
                    for cursor, hover in ((Coordinate(y, 0), Coordinate(-1, 0)),
                                          (Coordinate(0, 0), Coordinate(y, 0)),
                                          (Coordinate(y + 1, 0), Coordinate(-1, 0))):  # fmt: skip
                        ours, theirs = both_lines(table, y, cursor, hover)
                        assert list(ours) == list(theirs), (size, y, cursor, hover)
                        assert ours.cell_length == theirs.cell_length == table.size.width


async def test_cells_kept_for_hidden_rows_follow_the_filter_and_the_clock() -> None:
    now = [T0]
    app = TrailtopApp(FakeSource(make_snapshot(views_with_odd_text())), clock=lambda: now[0])
    clock_free = [i for i, k in enumerate(COLUMN_KEYS) if k not in AGE_COLUMNS]

    def stale_rows(came_back: set[str]) -> list[str]:
        """Rows whose cells differ from a fresh computation: every column of a row that
        came back from hiding; the others are aged by the tick, so all but the ages."""
        table = app.query_one(ViewTable)
        out = []
        for rid in table.shown_ids():
            fresh = row_cells(app.models[rid], now[0], rid in app.highlighted(), query[0])
            kept = table.shown_cells(rid)
            assert kept is not None
            if rid in came_back:
                same = kept == fresh
            else:
                same = all(kept[i] == fresh[i] for i in clock_free)
            if not same:
                out.append(rid)
        return out

    query = [""]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app_started(app))
        overview = app.screen
        assert isinstance(overview, OverviewScreen)
        table = app.query_one(ViewTable)
        every = set(app.models)
        # Narrow to a finding that is not the row's top one (the row shows it, marked),
        # then widen again while the clock moves: every row back must be current.
        query[0] = "kms"
        overview.set_filter("kms")
        assert len(table.shown_ids()) == 1 and not stale_rows(set())
        now[0] = T0 + timedelta(minutes=7)
        kept = set(table.shown_ids())
        query[0] = ""
        overview.set_filter("")
        assert set(table.shown_ids()) == every and not stale_rows(every - kept)
        overview.action_toggle_faults()
        assert 0 < table.row_count < len(every) and not stale_rows(set())
        now[0] = T0 + timedelta(minutes=9)
        kept = set(table.shown_ids())
        overview.action_toggle_faults()
        assert set(table.shown_ids()) == every and not stale_rows(every - kept)
        await pilot.pause()
        # Names cut in the middle are cut for the widths shown after all of this.
        for rid in table.shown_ids():
            cells = table.shown_cells(rid)
            assert cells is not None
            for key in MIDDLE_CUT & table.col_widths.keys():
                want = cut_cell(key, cells[COL_INDEX[key]][0], table.col_widths[key])
                assert table.get_cell(rid, key).text == " " * GAP + want
