"""The overview's table of trail views: which rows it shows, in what order, with which
cells, changed through one swap of the table's bookkeeping.

The widget keeps what it displays (`_shown`: row id -> cell tuple) and, per row, its
drawn cells, key and `Row` (`_drawn`). A snapshot, a filter or a sort works out the rows
and their order on these plain tuples and hands them to the table at once (`_install`):
no `add_row`/`remove_row`, and a row whose cells did not change costs a few dict writes.
Only cells whose model, filter or clock changed are computed again; the cursor is
restored by row id. How the rows are drawn is `tui.widgets.fast_table.FastTable`.

Which columns are drawn depends on the width (`tui.layout.column_widths`); `_shown` keeps
every column's cell, so a resize that brings a column back needs no recomputation, only
the rows' drawn cells made again for the new columns. Column widths fit every row the
table knows, shown or filtered out, so a filter never changes them.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding, BindingType
from textual.widgets._data_table import Row
from textual.widgets.data_table import ColumnKey, RowKey

from tui.layout import GAP, MIDDLE_CUT, Measure, column_widths, cut_cell
from tui.rows import (
    COL_INDEX,
    COLUMN_KEYS,
    COLUMNS,
    FIT_KEYS,
    Cell,
    Cells,
    RowModel,
    code_width,
    finding_cell,
    preferred_widths,
    row_cells,
    shown_finding,
    sort_key,
    tick_cells,
)
from tui.styles import state_classes
from tui.widgets.fast_table import DrawnRow, FastKey, FastTable
from tui.widgets.row_cell import RowCell

_FINDING = COL_INDEX["finding"]


def _refreshed(
    m: RowModel,
    cells: Cells,
    query: str | None,
    now: datetime | None,
    lit: bool,
    top_cells: dict[str, tuple[RowModel, Cell]],
) -> Cells:
    """`cells` (made for `m`) brought up to a new filter (only the finding cell depends on
    it) and a new time (only the clock cells do), without rebuilding the row.

    `top_cells` keeps each row's cell of its top finding: the one a filter shows unless it
    matched another finding, so clearing a filter sanitises no message again."""
    if query is not None:
        if shown_finding(m.view, query)[1]:
            found = finding_cell(m.view, query)
        else:
            known = top_cells.get(m.id)
            if known is None or known[0] is not m:
                known = top_cells[m.id] = (m, finding_cell(m.view))
            found = known[1]
        if found != cells[_FINDING]:
            cells = (*cells[:_FINDING], found, *cells[_FINDING + 1 :])
    if now is not None:
        new = list(cells)
        for col, cell in tick_cells(m, now, lit).items():
            new[COL_INDEX[col]] = cell
        cells = tuple(new)
    return cells


_FIT_INDEX = tuple(COL_INDEX[k] for k in FIT_KEYS)


def _lengths_of(cells: Cells) -> tuple[int, ...]:
    """A row's text length in each `fit` column, then its finding code's width."""
    return (*(len(cells[i][0]) for i in _FIT_INDEX), code_width(cells[_FINDING][0]))


@dataclass(slots=True)
class ApplyStats:
    added: int = 0
    removed: int = 0
    updated_cells: int = 0
    #: The set of columns drawn changed (the width or the shown texts asked for another).
    columns_rebuilt: bool = False
    #: Rows whose drawn cells were made again (new or changed cells, new columns).
    rows_drawn: int = 0
    sorted: bool = False
    seconds: float = 0.0


class ViewTable(FastTable):
    """Table of trail views, one row per view id."""

    COMPONENT_CLASSES: ClassVar[set[str]] = state_classes("viewtable") | {
        "viewtable--stale",
        "viewtable--changed",
        "viewtable--cell",
        "viewtable--age",
        "viewtable--never",
        "viewtable--finding",
        "viewtable--muted",
    }
    COMPONENT_PREFIX: ClassVar[str] = "viewtable"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open"),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: The columns drawn and their widths: a row drawn for other ones is drawn again
        #: when next installed (a row drawn for these, say before a filter narrowed the
        #: columns and after it was cleared, is not).
        self._layout: tuple[tuple[str, int], ...] = ()
        self._shown: dict[str, Cells] = {}
        self._models: Mapping[str, RowModel] = {}
        self._highlight: set[str] = set()
        #: Rows currently drawn with the "changed" mark (to clear it when it expires).
        self._marked: set[str] = set()
        self.sort_column: str | None = None
        self.sort_reverse = False
        #: Longest shown text per `fit` column, and finding code (drives the layout).
        self._measure_now = Measure({})
        #: The columns drawn now and their widths (see tui.layout.column_widths).
        self.col_widths: dict[str, int] = {}
        #: The filter the finding cells were computed for (see tui.rows.shown_finding).
        self._query = ""
        #: Each row's cell texts as last built, kept while the row is filtered out: a row
        #: that comes back with the same cells and column widths reuses them.
        self._texts: dict[str, list[RowCell | None]] = {}
        #: Cells of rows filtered out, with the model, filter and time they were made for.
        self._hidden: dict[str, tuple[RowModel | None, str, datetime, Cells]] = {}
        #: Per row: the cells its text lengths were measured for, and those lengths.
        self._lengths: dict[str, tuple[Cells, tuple[int, ...]]] = {}
        #: Per row: the model its top finding's cell was made for, and the cell.
        self._top_cells: dict[str, tuple[RowModel, Cell]] = {}
        #: Every row in sort order, with the models and the sort it was made for.
        self._every_ordered: (
            tuple[Mapping[str, RowModel], tuple[str | None, bool], list[str]] | None
        ) = None
        #: Per sort column, per row: the model its sort key was made for, and the key.
        self._sort_keys: dict[str | None, dict[str, tuple[RowModel, tuple[object, ...]]]] = {}

    def on_mount(self) -> None:
        self._ensure_columns()

    def _ensure_columns(self) -> None:
        """Columns are added on first use: a snapshot may arrive before `on_mount`."""
        if not self.columns:
            self.col_widths = self._compute_layout() or {c.key: c.width for c in COLUMNS}
            self._layout = tuple(self.col_widths.items())
            self._add_columns()

    def _add_columns(self) -> None:
        for key in COLUMN_KEYS:
            if key in self.col_widths:
                self.add_column(self._label(key), key=key, width=self.col_widths[key] + GAP)

    def _label(self, key: str) -> Text:
        col = COLUMNS[COL_INDEX[key]]
        arrow = ""
        if key == (self.sort_column or "state") and (self.sort_column or self.sort_reverse):
            arrow = " ▼" if self.sort_reverse else " ▲"
        return Text(" " * GAP + col.label + arrow, no_wrap=True, overflow="ellipsis")

    def _redraw_rows(self) -> None:
        self._texts.clear()
        for row in self._drawn.values():
            row.layout = ()
        cursor_id, cursor_index = self.cursor_view_id, self.cursor_row
        self._install(self._order)
        self._restore_cursor(cursor_id, cursor_index)

    def _cell(self, rid: str, cell: Cell, key: str = "") -> RowCell:
        text = cell[0]
        cut = 0
        if key in MIDDLE_CUT:
            cut = self.col_widths.get(key, len(text))
            text = cut_cell(key, text, cut)
        return RowCell(text, self._style(cell[1]), rid, cell, cut)

    # ------------------------------------------------------------------ layout

    def _compute_layout(self) -> dict[str, int]:
        """The columns that fit the current width (empty before the first layout)."""
        return self._compute_layout_for(self._measure_now)

    def _compute_layout_for(self, measure: Measure) -> dict[str, int]:
        # The scrollbar's room is kept even while every row fits: rows arriving later would
        # otherwise push the last column one cell past the edge (no resize follows).
        available = self.size.width - self.styles.scrollbar_size_vertical
        if available <= 0:
            return {}
        return column_widths(measure, available, preferred_widths(measure.widths))

    def fit_columns(self) -> None:
        """Choose the columns for the width; redraw the rows if they changed."""
        if not self.columns:
            return
        layout = self._compute_layout()
        if not layout or layout == self.col_widths:
            return
        cursor_id, cursor_index = self.cursor_view_id, self.cursor_row
        self._use_layout(layout)
        self._install(self._order)
        self._restore_cursor(cursor_id, cursor_index)

    def _use_layout(self, layout: dict[str, int]) -> bool:
        """Draw the columns of `layout`, at its widths. Each row's drawn cells are redone
        when the row is next installed (only those shown). True if the set of columns
        changed (the table's columns were rebuilt)."""
        rebuilt = list(layout) != list(self.col_widths)
        self.col_widths = layout
        self._generation += 1
        self._layout = tuple(layout.items())
        if rebuilt:
            # No rows while the columns are added: `add_column` would otherwise give every
            # row an empty cell and queue it for measuring. `_install` puts them back.
            self.rows = {}
            self._data = {}
            self._row_locations = TwoWayDict({})
            self.columns.clear()
            self._column_locations = TwoWayDict({})
            self._add_columns()
            self._updated_cells.clear()
        else:
            for key, width in layout.items():
                self.columns[ColumnKey(key)].width = width + GAP
        self._clear_caches()
        self.refresh(layout=True)
        return rebuilt

    def _row(self, rid: str, cells: Cells) -> list[RowCell]:
        """The row's cells for the columns shown."""
        widths = self.col_widths
        return [self._row_cell(rid, cells, i) for i, k in enumerate(COLUMN_KEYS) if k in widths]

    def _row_cell(self, rid: str, cells: Cells, i: int) -> RowCell:
        """Column `i` of a row, reusing the cell last made for the same text and style (and
        width, for a column cut in the middle): a row filtered out and back, or re-added
        under new columns, costs no new objects."""
        known = self._texts.get(rid)
        if known is None:
            known = self._texts[rid] = [None] * len(COLUMN_KEYS)
        key = COLUMN_KEYS[i]
        cell = cells[i]
        old = known[i]
        if (
            old is None
            or old.source != cell
            or (key in MIDDLE_CUT and old.cut != self.col_widths[key])
        ):
            old = known[i] = self._cell(rid, cell, key)
        return old

    def _install(self, order: list[str], same_rows: bool = False) -> int:
        """Show the rows `order` (ids of `_shown`) in that order, telling the table once.

        A filter, a sort or a snapshot replaces the table's row bookkeeping in one go
        rather than through `add_row`/`remove_row` (each O(rows) or with per-row checks):
        a row's key, `Row` and drawn cells are kept (`_drawn`) and reused while its cells
        and the columns stay the same, so clearing a filter on 1,700 rows builds almost
        nothing. `same_rows`: the rows shown are those shown now, only their order or
        cells change (a sort, a diff). Returns how many rows' drawn cells were made again.
        """
        layout = self._layout
        drawn_again = 0
        shown = self._shown
        drawn = self._drawn
        columns = [c.key for c in self.ordered_columns]
        data: dict[RowKey, dict[ColumnKey, RowCell]] = self._data if same_rows else {}
        rows: dict[RowKey, Row] = self.rows if same_rows else {}
        keys: list[RowKey] = []
        for rid in order:
            cells = shown[rid]
            row = drawn.get(rid)
            if row is None:
                key: RowKey = FastKey(rid)
                row = drawn[rid] = DrawnRow(key, Row(key, 1, None, False))
            key = row.key
            if row.layout != layout or row.cells is not cells:
                row.cells = cells
                row.layout = layout
                row.set_data(dict(zip(columns, self._row(rid, cells), strict=True)))
                self._track_mark(rid, cells)
                drawn_again += 1
                if same_rows:
                    data[key] = row.data
            if not same_rows:
                data[key] = row.data
                rows[key] = row.row
            keys.append(key)
        self._order = order
        self._data = data
        self.rows = rows
        self._row_locations = TwoWayDict({key: i for i, key in enumerate(keys)})
        self._new_rows.clear()
        self._update_count += 1
        # The scrollable size now, not on idle: a cursor moved next scrolls at once.
        self._require_update_dimensions = False
        self._update_dimensions(())
        self.cursor_coordinate = self.cursor_coordinate  # clamped to the rows shown
        self.refresh()
        return drawn_again

    def _measure_rows(self, shown: Iterable[tuple[str, Cells]]) -> Measure:
        """The longest text of each `fit` column (and finding code) among `shown`, from
        each row's lengths kept with its cells (worked out again only when they change)."""
        lengths = self._lengths
        rows = []
        for rid, cells in shown:
            known = lengths.get(rid)
            if known is None or known[0] is not cells:
                known = lengths[rid] = (cells, _lengths_of(cells))
            rows.append(known[1])
        widest = [max(column) for column in zip(*rows, strict=True)] if rows else []
        if not widest:
            return Measure(dict.fromkeys(FIT_KEYS, 0), 0)
        return Measure(dict(zip(FIT_KEYS, widest, strict=False)), widest[-1])

    def _remeasure(self) -> bool:
        """Refit the columns if the longest texts changed; True when the set of
        columns changed (they were rebuilt)."""
        # The rows a filter hides count too: the columns fit the snapshot, not the filter,
        # so filtering and clearing it never refit them (nor redraw every row's cells).
        rows = itertools.chain(
            self._shown.items(),
            (
                (rid, h[3])
                for rid, h in self._hidden.items()
                if rid not in self._shown and rid in self._models
            ),
        )
        measure = self._measure_rows(rows)
        if measure == self._measure_now:
            return False
        self._measure_now = measure
        layout = self._compute_layout()
        if not layout or layout == self.col_widths:
            return False
        return self._use_layout(layout)

    def on_resize(self) -> None:
        self.fit_columns()

    # ------------------------------------------------------------------ queries

    @property
    def cursor_view_id(self) -> str | None:
        row = self.cursor_row
        order = self._order
        return order[row] if 0 <= row < len(order) and self.row_count else None

    def shown_ids(self) -> list[str]:
        return list(self._order)

    def shown_cells(self, rid: str) -> Cells | None:
        return self._shown.get(rid)

    def move_to(self, rid: str) -> bool:
        if rid not in self._shown:
            return False
        self.move_cursor(row=self.get_row_index(rid), animate=False)
        return True

    # ------------------------------------------------------------------ applying

    def apply(
        self,
        models: Mapping[str, RowModel],
        visible: list[str],
        now: datetime,
        highlight: set[str],
        query: str = "",
    ) -> ApplyStats:
        """Make the table show `visible` (ids into `models`), recomputing only the cells
        whose model, filter or clock changed, and telling the table once.

        `query` is the overview's filter: a row matched through a finding other than its
        top one shows that finding (tui.rows.shown_finding).
        """
        t0 = time.perf_counter()
        self._ensure_columns()
        stats = ApplyStats()
        old_models = self._models
        self._models = models
        if old_models is not models and max(len(self._texts), len(self._drawn)) > len(models):
            self._texts = {k: v for k, v in self._texts.items() if k in models}
            self._hidden = {k: v for k, v in self._hidden.items() if k in models}
            self._drawn = {k: v for k, v in self._drawn.items() if k in models}
            self._lengths = {k: v for k, v in self._lengths.items() if k in models}
            self._top_cells = {k: v for k, v in self._top_cells.items() if k in models}
        self._highlight = highlight
        old_query = self._query
        self._query = query
        wanted: dict[str, Cells] = {}
        shown = self._shown
        hidden = self._hidden
        added = 0
        same_models = old_models is models
        same_query = old_query == query
        for rid in visible:
            m = models[rid]
            old = cells = shown.get(rid)
            # The common cases first, each what the general path below gives them: a row
            # still shown and unchanged, and one back from `_hidden` as it was hidden. A
            # row with fewer than two findings shows the same finding whatever the filter.
            if old is None:
                known = hidden.get(rid)
                if (
                    known is not None
                    and known[0] is m
                    and (known[1] == query or len(m.view.findings) < 2)
                    and known[2] == now
                    and (rid in highlight) == known[3][0][1].endswith("-changed")
                ):
                    wanted[rid] = known[3]
                    added += 1
                    continue
            elif (
                (same_query or len(m.view.findings) < 2)
                and (same_models or old_models.get(rid) is m)
                and (rid in highlight) == old[0][1].endswith("-changed")
            ):
                wanted[rid] = old
                continue
            lit = rid in highlight
            cells_query, clock_ok = old_query, True
            if cells is None or old_models.get(rid) is not m:
                known = hidden.get(rid)
                if known is not None and known[0] is m:
                    _, cells_query, at, cells = known
                    clock_ok = at == now
                else:
                    cells = None
            if cells is None or lit != cells[0][1].endswith("-changed"):
                cells = row_cells(m, now, lit, query)
            else:
                cells = _refreshed(m, cells, query if cells_query != query else None,
                                   None if clock_ok else now, lit, self._top_cells)  # fmt: skip
            if old is None:
                added += 1
            elif cells is not old:
                if cells == old:
                    cells = old  # the same cells: the row's drawn cells stay valid
                else:
                    stats.updated_cells += sum(a != b for a, b in zip(cells, old, strict=True))
            wanted[rid] = cells
        removed = [rid for rid in shown if rid not in wanted]
        for rid in removed:  # filtered out: kept to come back without recomputation
            hidden[rid] = (old_models.get(rid), old_query, now, shown[rid])
            self._marked.discard(rid)
        stats.added, stats.removed = added, len(removed)
        column = self.sort_column
        resort = bool(added) or (
            old_models is not models
            and any(
                (before := old_models.get(rid)) is not None
                and before is not models[rid]
                and sort_key(before, column) != sort_key(models[rid], column)
                for rid in wanted
            )
        )
        if not (added or removed or stats.updated_cells or resort):
            self._shown = wanted
            stats.seconds = time.perf_counter() - t0
            return stats
        cursor_id, cursor_index = self.cursor_view_id, self.cursor_row
        self._shown = wanted
        if added or removed or stats.updated_cells:
            stats.columns_rebuilt = self._remeasure()
        if resort:
            order = self._ordered(wanted)
            stats.sorted = True
        elif removed:
            order = [rid for rid in self._order if rid in wanted]
        else:
            order = self._order
        same_rows = not (added or removed or stats.columns_rebuilt)
        stats.rows_drawn = self._install(order, same_rows=same_rows)
        self._restore_cursor(cursor_id, cursor_index)
        stats.seconds = time.perf_counter() - t0
        return stats

    def _track_mark(self, rid: str, cells: Cells) -> None:
        if cells[0][1].endswith("-changed"):
            self._marked.add(rid)
        else:
            self._marked.discard(rid)

    def _ordered(self, ids: Mapping[str, object]) -> list[str]:
        """`ids` in the table's sort order.

        Most of the rows (a filter cleared, a snapshot): every row is sorted once per
        snapshot and sort, and the order of `ids` is read from that (a filter cleared then
        costs no sort). A few rows: sorted alone."""
        models, column, reverse = self._models, self.sort_column, self.sort_reverse
        every = self._every_ordered
        if every is None or every[0] is not models or every[1] != (column, reverse):
            if 2 * len(ids) < len(models):
                return self._sorted(ids)
            every = self._every_ordered = (models, (column, reverse), self._sorted(models))
        if len(ids) == len(every[2]):
            return list(every[2])
        return [rid for rid in every[2] if rid in ids]

    def _sorted(self, ids: Iterable[str]) -> list[str]:
        """`ids` sorted (each row's key kept while its model stays)."""
        models, column = self._models, self.sort_column
        keys = self._sort_keys.get(column)
        if keys is None:
            keys = self._sort_keys[column] = {}
        if len(keys) > 2 * len(models):
            keys = self._sort_keys[column] = {k: v for k, v in keys.items() if k in models}

        def key(rid: str) -> tuple[object, ...]:
            m = models[rid]
            known = keys.get(rid)
            if known is None or known[0] is not m:
                known = keys[rid] = (m, sort_key(m, column))
            return known[1]

        return sorted(ids, key=key, reverse=self.sort_reverse)

    def _restore_cursor(self, cursor_id: str | None, cursor_index: int) -> None:
        if not self.row_count:
            return
        if cursor_id is not None and cursor_id in self._shown:
            index = self.get_row_index(cursor_id)
        else:
            index = min(cursor_index, self.row_count - 1)
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False, scroll=True)

    def set_sort(self, column: str | None, reverse: bool) -> None:
        cursor_id, cursor_index = self.cursor_view_id, self.cursor_row
        self.sort_column, self.sort_reverse = column, reverse
        for key in self.col_widths:
            self.columns[ColumnKey(key)].label = self._label(key)
        self._install(self._ordered(self._shown), same_rows=True)
        self._restore_cursor(cursor_id, cursor_index)

    # ------------------------------------------------------------------ ticking

    def visible_row_ids(self, margin: int = 2) -> list[str]:
        """Row ids currently on screen (plus a small margin)."""
        if not self.row_count:
            return []
        top = max(int(self.scroll_y) - margin, 0)
        bottom = min(int(self.scroll_y) + self.size.height + margin, self.row_count)
        return self._order[top:bottom]

    def tick(self, now: datetime, highlight: set[str], all_rows: bool = False) -> int:
        """Refresh the clock-dependent cells; returns how many cells were written."""
        self._highlight = highlight
        ids = list(self._shown) if all_rows else self.visible_row_ids()
        ids.extend(self._marked - highlight)
        written = 0
        state_written = False
        for rid in ids:
            m = self._models.get(rid)
            old = self._shown.get(rid)
            if m is None or old is None:
                continue
            new_cells = list(old)
            for col, cell in tick_cells(m, now, rid in highlight).items():
                i = COL_INDEX[col]
                if old[i] != cell:
                    new_cells[i] = cell
                    if col in self.col_widths:
                        self.update_cell(rid, col, self._cell(rid, cell, col))
                        written += 1
                    state_written = state_written or col == "state"
            self._shown[rid] = tuple(new_cells)
            self._track_mark(rid, self._shown[rid])
        # Stale marks ("~12m") change the state column's width.
        generation = self._generation
        if state_written:
            self._remeasure()
        if self._generation != generation:
            cursor_id, cursor_index = self.cursor_view_id, self.cursor_row
            self._install(self._order)
            self._restore_cursor(cursor_id, cursor_index)
        return written
