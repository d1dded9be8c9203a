"""The overview DataTable: keyed rows updated by cell diffs, never cleared on a new sweep.

The widget keeps what it displays (`_shown`: row id -> cell tuple) so a snapshot costs one
pass of tuple comparisons plus `update_cell` for the cells that really changed. Sorting uses
our own keys (looked up through the row id carried by the state cell), and the cursor is
restored by row key because `DataTable.sort()` keeps only the cursor *index*.

Which columns are drawn depends on the width (`tui.layout.column_widths`); `_shown` keeps
every column's cell, so a resize that brings a column back needs no recomputation, only a
rebuild of the table's columns (rare: a resize, or content that changes the fit).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.strip import Strip
from textual.widgets import DataTable
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
    should_rebuild,
    sort_key,
    table_diff,
    tick_cells,
)
from tui.styles import state_classes
from tui.widgets.row_cell import RowCell, cell_meta, cell_segments

#: Above this many rows added at once, the columns they need are worked out first.
REFILL_ADDS = 200


_FINDING = COL_INDEX["finding"]


def _refreshed(
    m: RowModel, cells: Cells, query: str | None, now: datetime | None, lit: bool
) -> Cells:
    """`cells` (made for `m`) brought up to a new filter (only the finding cell depends on
    it) and a new time (only the clock cells do), without rebuilding the row."""
    if query is not None:
        found = finding_cell(m.view, query)
        if found != cells[_FINDING]:
            cells = (*cells[:_FINDING], found, *cells[_FINDING + 1 :])
    if now is not None:
        new = list(cells)
        for col, cell in tick_cells(m, now, lit).items():
            new[COL_INDEX[col]] = cell
        cells = tuple(new)
    return cells


@dataclass(slots=True)
class ApplyStats:
    added: int = 0
    removed: int = 0
    updated_cells: int = 0
    rebuilt: bool = False
    sorted: bool = False
    seconds: float = 0.0


class ViewTable(DataTable[RowCell]):
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

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open"),
        Binding("g", "scroll_top", "Top", show=False),
        Binding("G", "scroll_bottom", "Bottom", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=0)
        self._shown: dict[str, Cells] = {}
        self._models: Mapping[str, RowModel] = {}
        self._highlight: set[str] = set()
        #: Rows currently drawn with the "changed" mark (to clear it when it expires).
        self._marked: set[str] = set()
        self.sort_column: str | None = None
        self.sort_reverse = False
        self._styles: dict[str, Style] = {}
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

    def on_mount(self) -> None:
        self._ensure_columns()

    def _ensure_columns(self) -> None:
        """Columns are added on first use: a snapshot may arrive before `on_mount`."""
        if not self.columns:
            self.col_widths = self._compute_layout() or {c.key: c.width for c in COLUMNS}
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

    # ------------------------------------------------------------------ styles

    def _style(self, name: str) -> Style:
        """Resolve a row-model style name through the .tcss component classes (cached)."""
        style = self._styles.get(name)
        if style is None:
            parts = name.split("-")
            style = Style()
            for part in parts:
                style += self.get_component_rich_style(f"viewtable--{part}", partial=True)
            self._styles[name] = style
        return style

    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()

    def _cell(self, rid: str, cell: Cell, key: str = "") -> RowCell:
        text = cell[0]
        cut = 0
        if key in MIDDLE_CUT:
            cut = self.col_widths.get(key, len(text))
            text = cut_cell(key, text, cut)
        return RowCell(text, self._style(cell[1]), rid, cell, cut)

    # ------------------------------------------------------------------ drawing

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[list[list[Segment]], list[list[Segment]]]:
        fast = (
            None
            if line_no
            else self._fast_row(row_key, base_style, cursor_location, hover_location)
        )
        if fast is None:
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location
            )
        return [], fast

    def _fast_row(
        self,
        row_key: RowKey,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> list[list[Segment]] | None:
        """A data row drawn straight from its cells' text and style (None: not drawable so).

        `DataTable` renders each cell through a Rich console (padding, wrapping, measuring)
        and caches the result per cursor position and per table version: after a sort, a
        filter or a cursor move every visible row misses that cache, and ~40 rows x 8 cells
        of console rendering cost tens of milliseconds. A `RowCell` is one line with at most
        one style, so its segments are built directly, identical to what the console would
        produce (tests/tui/test_tui_table.py compares the two).
        """
        row_index = self._row_locations.get(row_key) if row_key in self._row_locations else None
        if (
            row_index is None
            or self.fixed_columns
            or self.fixed_rows
            or self.zebra_stripes
            or self._labelled_row_exists
        ):
            return None
        cells = self._data[row_key]
        columns = self.ordered_columns
        if not all(type(cells.get(c.key)) is RowCell for c in columns):
            return None
        cursor_type = self.cursor_type
        show_cursor = self.show_cursor
        show_hover = self._show_hover_cursor
        cursor = cursor_type == "row" and cursor_location.row == row_index
        hover = cursor_type == "row" and hover_location.row == row_index
        component, post = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, show_cursor, show_hover,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )  # fmt: skip
        line_style = base_style + component
        scrollable: list[list[Segment]] = []
        table_width = self._row_label_column_width
        for column_index, column in enumerate(columns):
            width = column.get_render_width(self)
            table_width += width
            pre = line_style + cell_meta(row_index, column_index)
            scrollable.append(cell_segments(cells[column.key], width, pre, post))
        remaining = self.size.width - table_width
        if remaining < 0:
            return None
        extend, _ = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, show_cursor, show_hover, False, False
        )
        extend = base_style + extend
        extend += Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        scrollable.append([Segment(" " * remaining, extend)])
        return scrollable

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """A data row's whole line, built as the Strip `DataTable._render_line` would
        produce (cropped to the widget, simplified) without cropping or re-joining it."""
        width = self.size.width
        header = self.header_height if self.show_header else 0
        row_index = y - header
        if row_index < 0 or row_index >= self.row_count or x1 != 0 or x2 != width:
            return super()._render_line(y, x1, x2, base_style)
        cursor, hover = self.cursor_coordinate, self.hover_coordinate
        cache_key = (
            y, x1, x2, width, cursor, hover, base_style, self.cursor_type,
            self._show_hover_cursor, self._update_count, self._pseudo_class_state,
        )  # fmt: skip
        strip = self._line_cache.get(cache_key)
        if strip is not None:
            return strip
        row_key = self._row_locations.get_key(row_index)
        fast = None if row_key is None else self._fast_row(row_key, base_style, cursor, hover)
        if fast is None:
            return super()._render_line(y, x1, x2, base_style)
        segments = list(chain.from_iterable(fast))
        strip = Strip(segments, width)
        self._line_cache[cache_key] = strip
        return strip

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Only the scrollable size: every column has a fixed width and every row is one
        line without a label, so `DataTable`'s measuring of each new row (a Rich measure
        per cell, ~0.1 ms a row) decides nothing here."""
        if self._labelled_row_exists or any(c.auto_width for c in self.columns.values()):
            super()._update_dimensions(new_rows)
            return
        width = sum(c.get_render_width(self) for c in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width + self._row_label_column_width, len(self.rows) + header)

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
        """Choose the columns for the width; rebuild the table's columns if the set changed."""
        if not self.columns:
            return
        layout = self._compute_layout()
        if not layout or layout == self.col_widths:
            return
        if list(layout) != list(self.col_widths):
            self.col_widths = layout
            self._rebuild_columns()
            return
        self._set_widths(layout)

    def _set_widths(self, layout: dict[str, int]) -> None:
        """New widths for the same columns: only the names cut in the middle are redone."""
        recut = [k for k in MIDDLE_CUT if k in layout and layout[k] != self.col_widths.get(k)]
        self.col_widths = layout
        for key, width in layout.items():
            self.columns[key].width = width + GAP  # type: ignore[index]
        for key in recut:
            # Written into the table's data directly: `update_cell` per row would
            # invalidate its caches and schedule a refresh 1,700 times, not once.
            i = COL_INDEX[key]
            column = ColumnKey(key)
            for rid, cells in self._shown.items():
                self._data[RowKey(rid)][column] = self._row_cell(rid, cells, i)
            self._update_count += 1
        self._clear_caches()
        self._require_update_dimensions = True
        self.refresh(layout=True)

    def _rebuild_columns(self) -> None:
        """Re-add every row under the new set of columns, in the same order, cursor kept."""
        order = self.shown_ids()
        cursor_id, cursor_index = self.cursor_view_id, self.cursor_row
        self.clear(columns=True)
        self._add_columns()
        self._add_rows([(rid, self._shown[rid]) for rid in order])
        self._restore_cursor(cursor_id, cursor_index)

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

    def _add_rows(self, rows: Iterable[tuple[str, Cells]]) -> int:
        """`add_row` for many rows at once: the table's bookkeeping (cursor check, version,
        idle check) is done once, not per row; filling 1,700 rows one `add_row` at a time
        costs hundreds of milliseconds. Returns how many rows were added."""
        keys = [c.key for c in self.ordered_columns]
        start = self.row_count
        added = 0
        for rid, cells in rows:
            key = RowKey(rid)
            self._row_locations[key] = start + added
            self._data[key] = dict(zip(keys, self._row(rid, cells), strict=True))
            self.rows[key] = Row(key, 1, None, False)
            self._new_rows.add(key)
            self._shown[rid] = cells
            self._track_mark(rid, cells)
            added += 1
        if not added:
            return 0
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if start == 0 and self.columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self._update_count += 1
        self.check_idle()
        return added

    @staticmethod
    def _measure_of(cells: Iterable[Cells]) -> Measure:
        rows = list(cells)
        widths = {
            key: max((len(c[COL_INDEX[key]][0]) for c in rows), default=0) for key in FIT_KEYS
        }
        finding = COL_INDEX["finding"]
        code = max((code_width(c[finding][0]) for c in rows), default=0)
        return Measure(widths, code)

    def _measure(self) -> None:
        """Recompute the longest text of each `fit` column; refit when it changed."""
        measure = self._measure_of(self._shown.values())
        if measure != self._measure_now:
            self._measure_now = measure
            self.fit_columns()

    def _clear_for(self, wanted: Mapping[str, Cells]) -> None:
        """Empty the table, with the columns `wanted` will need already in place: rows are
        then added once, not added and re-added when the columns change (a filter that
        narrows to rows without findings makes room for the optional columns)."""
        self._measure_now = self._measure_of(wanted.values())
        layout = self._compute_layout()
        if layout and list(layout) != list(self.col_widths):
            self.col_widths = layout
            self.clear(columns=True)
            self._add_columns()
            return
        self.clear()
        if layout and layout != self.col_widths:
            self.col_widths = layout
            for key, width in layout.items():
                self.columns[key].width = width + GAP  # type: ignore[index]

    def on_resize(self) -> None:
        self.fit_columns()

    # ------------------------------------------------------------------ queries

    @property
    def cursor_view_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0))
        except Exception:  # noqa: BLE001 - cursor outside the table while it is rebuilt
            return None
        return row_key.value

    def shown_ids(self) -> list[str]:
        return [r.key.value or "" for r in self.ordered_rows]

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
        """Make the table show `visible` (ids into `models`) with as few cell writes as possible.

        `query` is the overview's filter: a row matched through a finding other than its
        top one shows that finding (tui.rows.shown_finding).
        """
        t0 = time.perf_counter()
        self._ensure_columns()
        stats = ApplyStats()
        old_models = self._models
        self._models = models
        if old_models is not models and len(self._texts) > len(models):
            self._texts = {k: v for k, v in self._texts.items() if k in models}
            self._hidden = {k: v for k, v in self._hidden.items() if k in models}
        self._highlight = highlight
        old_query = self._query
        self._query = query
        wanted: dict[str, Cells] = {}
        shown = self._shown
        hidden = self._hidden
        for rid in visible:
            m = models[rid]
            lit = rid in highlight
            cells = shown.get(rid)
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
                                   None if clock_ok else now, lit)  # fmt: skip
            wanted[rid] = cells
        diff = table_diff(self._shown, wanted)
        for rid in diff.remove:  # filtered out: kept to come back without recomputation
            hidden[rid] = (old_models.get(rid), old_query, now, self._shown[rid])
        cursor_id = self.cursor_view_id
        cursor_index = self.cursor_row

        rebuild = should_rebuild(len(diff.remove), len(self._shown), len(wanted))
        pre_measured = False
        if not rebuild and len(diff.add) > REFILL_ADDS:
            # Many rows come back (a filter cleared): if they change the columns, adding
            # them under the old ones would add every row twice.
            measure = self._measure_of(wanted.values())
            layout = self._compute_layout_for(measure)
            rebuild = bool(layout) and list(layout) != list(self.col_widths)
            if not rebuild:
                # The rows shown after this are `wanted`: measured already.
                pre_measured = True
                self._measure_now = measure
                if layout and layout != self.col_widths:
                    # Same columns, other widths: set them first, so the rows coming
                    # back are made once, for the widths they will be shown at.
                    self._set_widths(layout)
        if rebuild:
            self._clear_for(wanted)
            self._shown = {}
            self._marked = set()
            ordered = sorted(visible, key=self._key_fn(models))
            if self.sort_reverse:
                ordered.reverse()
            self._add_rows((rid, wanted[rid]) for rid in ordered)
            stats.rebuilt = True
            stats.added = len(ordered)
            stats.removed = len(diff.remove)
        else:
            for rid in diff.remove:
                self.remove_row(rid)
                del self._shown[rid]
                self._marked.discard(rid)
            for rid, col, cell in diff.update:
                if col in self.col_widths:
                    self.update_cell(rid, col, self._cell(rid, cell, col))
                self._shown[rid] = wanted[rid]
                self._track_mark(rid, wanted[rid])
            self._add_rows((rid, wanted[rid]) for rid in diff.add)
            stats.added = len(diff.add)
            stats.removed = len(diff.remove)
            stats.updated_cells = len(diff.update)
            resort = bool(diff.add) or any(
                rid in old_models
                and sort_key(old_models[rid], self.sort_column)
                != sort_key(models[rid], self.sort_column)
                for rid in {u[0] for u in diff.update}
            )
            if resort:
                self._sort()
                stats.sorted = True
        if (stats.rebuilt or not diff.empty) and not pre_measured:
            self._measure()
        self._restore_cursor(cursor_id, cursor_index)
        stats.seconds = time.perf_counter() - t0
        return stats

    def _track_mark(self, rid: str, cells: Cells) -> None:
        if cells[0][1].endswith("-changed"):
            self._marked.add(rid)
        else:
            self._marked.discard(rid)

    def _key_fn(self, models: Mapping[str, RowModel]):  # type: ignore[no-untyped-def]
        column = self.sort_column

        def key(rid: str) -> tuple[object, ...]:
            return sort_key(models[rid], column)

        return key

    def _sort(self) -> None:
        """Reorder the rows by our sort key: what `DataTable.sort` does, but keyed by row id
        directly rather than through a lookup of each row's cells."""
        order = sorted(self._shown, key=self._key_fn(self._models), reverse=self.sort_reverse)
        self._row_locations = TwoWayDict({RowKey(rid): i for i, rid in enumerate(order)})
        self._update_count += 1
        self.refresh()

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
            self.columns[key].label = self._label(key)  # type: ignore[index]
        self._sort()
        self._restore_cursor(cursor_id, cursor_index)

    # ------------------------------------------------------------------ ticking

    def visible_row_ids(self, margin: int = 2) -> list[str]:
        """Row ids currently on screen (plus a small margin)."""
        if not self.row_count:
            return []
        top = max(int(self.scroll_y) - margin, 0)
        bottom = min(int(self.scroll_y) + self.size.height + margin, self.row_count)
        out = []
        for i in range(top, bottom):
            row_key, _ = self.coordinate_to_cell_key(Coordinate(i, 0))
            out.append(row_key.value or "")
        return out

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
        if state_written:
            self._measure()  # stale marks ("~12m") change the state column's width
        return written
