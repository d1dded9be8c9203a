"""The overview DataTable: keyed rows, changed through one swap of the table's bookkeeping.

The widget keeps what it displays (`_shown`: row id -> cell tuple) and, per row, its
drawn cells, key and `Row` (`_drawn`). A snapshot, a filter or a sort works out the rows
and their order on these plain tuples and hands them to the table at once (`_install`):
no `add_row`/`remove_row`, and a row whose cells did not change costs a few dict writes.
Only cells whose model, filter or clock changed are computed again; the cursor is
restored by row id. Rows are drawn straight from their cells (`_fast_row`).

Which columns are drawn depends on the width (`tui.layout.column_widths`); `_shown` keeps
every column's cell, so a resize that brings a column back needs no recomputation, only
the rows' drawn cells made again for the new columns.
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
from textual import events
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.geometry import Region, Size
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.widget import Widget
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
    shown_finding,
    sort_key,
    tick_cells,
)
from tui.styles import state_classes
from tui.widgets.row_cell import RowCell, cell_meta, cell_segments

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


class _Drawn:
    """What the table holds for one row: its key, its `Row`, and its drawn cells with
    the cells and the columns (with their widths) they were drawn for."""

    __slots__ = ("cells", "data", "key", "layout", "row")

    def __init__(self, key: RowKey, row: Row) -> None:
        self.key = key
        self.row = row
        self.cells: Cells = ()
        self.data: dict[ColumnKey, RowCell] = {}
        self.layout: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class _Frame:
    """What every data row of one frame is drawn with (see `ViewTable._fast_row`)."""

    drawable: bool
    columns: list[tuple[ColumnKey, int]]
    width: int
    #: Cells right of the last column, filled with blanks.
    remaining: int
    row_cursor: bool
    #: show_cursor, show_hover_cursor, and whether CSS has the cursor's colours.
    cursor_flags: tuple[bool, bool, bool, bool]


class _ScrollBar(ScrollBar):
    """The table's vertical scrollbar, its lines kept while what it draws is the same.

    Textual repaints a widget's scrollbar whenever the widget is restyled (focus moving to
    the `/` or `:` prompt and back) or refreshed; drawing 40 lines of it through a Rich
    console cost ~5 ms each time for the same picture.
    """

    def __init__(self, *, thickness: int) -> None:
        super().__init__(vertical=True, name="vertical", thickness=thickness)
        self._drawn: tuple[tuple[object, ...], list[Strip]] | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        bar = self.render()
        key = (
            crop, self.size, self.window_size, self.window_virtual_size, self.position,
            self.thickness, self.grabbed, self.mouse_over, getattr(bar, "style", None),
        )  # fmt: skip
        if self._drawn is not None and self._drawn[0] == key:
            return self._drawn[1]
        strips = super().render_lines(crop)
        self._drawn = (key, strips)
        return strips


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
        # Set first: `DataTable.__init__` already reads `ordered_rows` (overridden here).
        #: The shown row ids, in display order.
        self._order: list[str] = []
        #: Per row: its key, `Row` and drawn cells, as last installed (see `_install`).
        self._drawn: dict[str, _Drawn] = {}
        #: Bumped when the columns or their widths change.
        self._generation = 0
        #: The columns drawn and their widths: a row drawn for other ones is drawn again
        #: when next installed (a row drawn for these, say before a filter narrowed the
        #: columns and after it was cleared, is not).
        self._layout: tuple[tuple[str, int], ...] = ()
        #: Drawing caches: the styles of a cell's segments, by line style, row, column and
        #: the cell's style (Rich's own cache of 1,024 style sums is smaller than a frame);
        #: the drawn columns; the rows in order and their offsets, by table version; what
        #: every row of the frame being drawn shares.
        self._cell_styles: dict[tuple[object, ...], tuple[Style, Style]] = {}
        self._columns_drawn: tuple[tuple[int, int, int], list[tuple[ColumnKey, int]]] | None = None
        self._rows_ordered: tuple[int, list[Row]] | None = None
        self._offsets: tuple[int, list[tuple[RowKey, int]]] | None = None
        self._frame_style: Style | None = None
        self._frame: _Frame | None = None
        #: The styles the drawn lines were made with, and whether a restyle happened
        #: since they were checked (see `notify_style_update`).
        self._look_drawn: tuple[Style, ...] | None = None
        self._restyled = False
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
        #: Per row: the cells its text lengths were measured for, and those lengths.
        self._lengths: dict[str, tuple[Cells, tuple[int, ...]]] = {}
        #: Per row: the model its top finding's cell was made for, and the cell.
        self._top_cells: dict[str, tuple[RowModel, Cell]] = {}
        #: Per sort column, per row: the model its sort key was made for, and the key.
        self._sort_keys: dict[str | None, dict[str, tuple[RowModel, tuple[object, ...]]]] = {}

    def on_mount(self) -> None:
        self._ensure_columns()

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """`Widget.vertical_scrollbar`, with a scrollbar that keeps its lines."""
        if self._vertical_scrollbar is None:
            bar = self._vertical_scrollbar = _ScrollBar(thickness=self.scrollbar_size_vertical)
            bar.display = False
            self.app._start_widget(self, bar)
        return self._vertical_scrollbar

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
        """Note the restyle; what was drawn is dropped at the next frame only if a style
        it was drawn with changed (`_check_look`).

        Textual restyles the table whenever it gains or loses focus (the `/` and `:`
        prompts), and `DataTable` would then throw away every cached line and repaint
        all of them. The table looks the same either way (trailtop.tcss).
        """
        Widget.notify_style_update(self)  # the widget's own style caches, always
        self._restyled = True

    def _check_look(self) -> None:
        """After a restyle (at the next frame: component styles are worked out after
        `notify_style_update`), clear the drawing caches if the table's look changed."""
        if not self._restyled:
            return
        self._restyled = False
        look = self._look()
        if look is not None and look == self._look_drawn:
            return
        first = self._look_drawn is None
        self._look_drawn = look
        self._styles.clear()
        self._cell_styles.clear()
        DataTable.notify_style_update(self)
        if not first:  # a new theme: the rows' cells carry resolved styles
            self.call_after_refresh(self._redraw_rows)

    def _redraw_rows(self) -> None:
        self._texts.clear()
        for row in self._drawn.values():
            row.layout = ()
        cursor_id, cursor_index = self.cursor_view_id, self.cursor_row
        self._install(self._order)
        self._restore_cursor(cursor_id, cursor_index)

    def _look(self) -> tuple[Style, ...] | None:
        """Every style the table is drawn with: its own and its component classes'
        (None before they are known)."""
        names = sorted(self._get_component_classes())
        if not all(n in self._component_styles for n in names):
            return None
        return (
            self.rich_style,
            *(self.get_component_rich_style(n, partial=True) for n in names),
            *(self.get_component_rich_style(n, partial=False) for n in names),
        )

    def _on_focus(self, event: events.Focus) -> None:
        """`Widget._on_focus` without its repaint: a changed look repaints through
        `notify_style_update`."""
        event.prevent_default()
        self.has_focus = True
        if self.parent is not None:
            self.parent.post_message(events.DescendantFocus(self))

    def _on_blur(self, event: events.Blur) -> None:
        """`Widget._on_blur` without its repaint (see `_on_focus`)."""
        event.prevent_default()
        self.has_focus = False
        if self.parent is not None:
            self.parent.post_message(events.DescendantBlur(self))

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
        row_index: int | None = None,
    ) -> list[list[Segment]] | None:
        """A data row drawn straight from its cells' text and style (None: not drawable so).

        `DataTable` renders each cell through a Rich console (padding, wrapping, measuring)
        and caches the result per cursor position and per table version: after a sort, a
        filter or a cursor move every visible row misses that cache, and ~40 rows x 8 cells
        of console rendering cost tens of milliseconds. A `RowCell` is one line with at most
        one style, so its segments are built directly, identical to what the console would
        produce (tests/tui/test_tui_table.py compares the two).
        """
        frame = self._frame or self._frame_now()
        if row_index is None:
            row_index = self._row_locations.get(row_key)
        if row_index is None or not frame.drawable:
            return None
        cells = self._data[row_key]
        columns = frame.columns
        if not all(type(cells.get(key)) is RowCell for key, _ in columns):
            return None
        row_cursor = frame.row_cursor
        cursor = row_cursor and cursor_location.row == row_index
        hover = row_cursor and hover_location.row == row_index
        component, post = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, *frame.cursor_flags
        )
        line_style = base_style + component
        scrollable: list[list[Segment]] = []
        styles = self._cell_styles
        if len(styles) > 8192:
            styles.clear()
        for column_index, (key, width) in enumerate(columns):
            cell = cells[key]
            style_key = (line_style, post, row_index, column_index, cell.style)
            pair = styles.get(style_key)
            if pair is None:
                pre = line_style + cell_meta(row_index, column_index)
                pair = styles[style_key] = (pre + post, pre + cell.style + post)
            scrollable.append(cell_segments(cell, width, *pair))
        remaining = frame.remaining
        if remaining < 0:
            return None
        extend, _ = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, *frame.cursor_flags[:2], False, False
        )
        outside_key = (base_style, extend, row_index)
        outside = styles.get(outside_key)
        if outside is None:
            meta = Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
            outside = styles[outside_key] = (base_style + extend + meta, Style())
        scrollable.append([Segment(" " * remaining, outside[0])])
        return scrollable

    def _frame_now(self) -> _Frame:
        """What every row of a frame is drawn with (worked out once per frame)."""
        columns = self._drawn_columns()
        width = self.size.width
        return _Frame(
            drawable=not (
                self.fixed_columns or self.fixed_rows or self.zebra_stripes
                or self._labelled_row_exists
            ),
            columns=columns,
            width=width,
            remaining=width - self._row_label_column_width - sum(w for _, w in columns),
            row_cursor=self.cursor_type == "row",
            cursor_flags=(
                self.show_cursor, self._show_hover_cursor,
                self.cursor_foreground_priority == "css",
                self.cursor_background_priority == "css",
            ),
        )  # fmt: skip

    def _drawn_columns(self) -> list[tuple[ColumnKey, int]]:
        """The columns in order with their drawn widths (kept until the columns change)."""
        key = (self._generation, len(self.columns), self._update_count)
        cached = self._columns_drawn
        if cached is None or cached[0] != key:
            columns = [(c.key, c.get_render_width(self)) for c in self.ordered_columns]
            cached = self._columns_drawn = (key, columns)
        return cached[1]

    def render_lines(self, crop: Region) -> list[Strip]:
        self._check_look()
        # Every line of a frame has the same base style, width and cursor settings:
        # worked out once, not per line.
        self._frame_style = self.rich_style
        self._frame = self._frame_now()
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None
            self._frame = None

    def render_line(self, y: int) -> Strip:
        """`DataTable.render_line` without fixed rows, the base style taken once a frame."""
        if self.fixed_rows:
            return super().render_line(y)
        scroll_x, scroll_y = self.scroll_offset
        if y >= (self.header_height if self.show_header else 0):
            y += scroll_y
        base = self._frame_style if self._frame_style is not None else self.rich_style
        width = self._frame.width if self._frame is not None else self.size.width
        return self._render_line(y, scroll_x, scroll_x + width, base)

    @property
    def ordered_rows(self) -> list[Row]:
        """The shown rows in order, straight from `_order` (the table's own way looks each
        index up in its two-way map)."""
        order = self._order
        if len(order) != len(self.rows):
            return super().ordered_rows
        cached = self._rows_ordered
        if cached is None or cached[0] != self._update_count:
            drawn = self._drawn
            cached = self._rows_ordered = (self._update_count, [drawn[r].row for r in order])
        return cached[1]

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        """Every row is one line: the offsets are the rows' keys in order."""
        cached = self._offsets
        if cached is None or cached[0] != self._update_count:
            cached = self._offsets = (self._update_count, [(r.key, 0) for r in self.ordered_rows])
        return cached[1]

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """A data row's whole line, built as the Strip `DataTable._render_line` would
        produce (cropped to the widget, simplified) without cropping or re-joining it."""
        width = self._frame.width if self._frame is not None else self.size.width
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
        fast = (
            None
            if row_key is None
            else self._fast_row(row_key, base_style, cursor, hover, row_index)
        )
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
                key = RowKey(rid)
                row = drawn[rid] = _Drawn(key, Row(key, 1, None, False))
            key = row.key
            if row.layout != layout or row.cells is not cells:
                row.cells = cells
                row.layout = layout
                row.data = dict(zip(columns, self._row(rid, cells), strict=True))
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

    def _measure_rows(self, shown: Mapping[str, Cells]) -> Measure:
        """The longest text of each `fit` column (and finding code) among `shown`, from
        each row's lengths kept with its cells (worked out again only when they change)."""
        lengths = self._lengths
        rows = []
        for rid, cells in shown.items():
            known = lengths.get(rid)
            if known is None or known[0] is not cells:
                known = lengths[rid] = (cells, _lengths_of(cells))
            rows.append(known[1])
        widest = [max(column) for column in zip(*rows, strict=True)] if rows else []
        if not widest:
            return Measure(dict.fromkeys(FIT_KEYS, 0), 0)
        return Measure(dict(zip(FIT_KEYS, widest, strict=False)), widest[-1])

    def _remeasure(self) -> bool:
        """Refit the columns if the longest shown texts changed; True when the set of
        columns changed (they were rebuilt)."""
        measure = self._measure_rows(self._shown)
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
        for rid in visible:
            m = models[rid]
            lit = rid in highlight
            old = cells = shown.get(rid)
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

    def _ordered(self, ids: Iterable[str]) -> list[str]:
        """`ids` in the table's sort order (each row's key kept while its model stays)."""
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
