"""The drawing half of the overview's table: a `DataTable` whose rows are one line of
`RowCell`s, drawn straight from their text and style.

`DataTable` renders every cell through a Rich console and caches lines per cursor
position and table version, measures every new row, and repaints everything whenever the
table gains or loses focus. At 1,700 rows each of those costs tens of milliseconds per
keystroke. `FastTable` keeps the `DataTable` API and replaces only how rows are laid out
and drawn; what the rows are (`apply`, filter, sort, cursor, marks) is
`tui.widgets.view_table.ViewTable`, which fills `_order` and `_drawn`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain, count
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region, Size
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.widget import PseudoClasses, Widget
from textual.widgets import DataTable
from textual.widgets._data_table import Row
from textual.widgets.data_table import ColumnKey, RowKey

from tui.rows import Cells
from tui.widgets.row_cell import RowCell, cell_meta, cell_segments


class FastKey(str, RowKey):
    """A `RowKey` that is its own string: hashed and compared by `str`'s C code rather than
    `StringKey`'s Python methods (equal to, and hashed as, a `RowKey` of the same value).
    The table's row dicts are rebuilt on every filter and sort, ~5,000 hashes at 1,700
    rows."""

    __slots__ = ()

    def __new__(cls, value: str) -> FastKey:
        return str.__new__(cls, value)

    def __init__(self, value: str) -> None:
        RowKey.__init__(self, value)


#: Drawn data rows kept (see `FastTable._render_line`): a few screenfuls. Each line is
#: ~20 objects that outlive the frame, and what outlives frames brings the collector's
#: full passes (100-300 ms at 1,700 rows) sooner.
ROW_LINES = 256

#: Versions of rows' drawn cells, unique across rows (see `DrawnRow.version`).
_versions = count(1)


class DrawnRow:
    """What the table holds for one row: its key, its `Row`, and its drawn cells with
    the cells and the columns (with their widths) they were drawn for."""

    __slots__ = ("cells", "data", "key", "layout", "row", "version")

    def __init__(self, key: RowKey, row: Row) -> None:
        self.key = key
        self.row = row
        self.cells: Cells = ()
        self.data: dict[ColumnKey, RowCell] = {}
        self.layout: tuple[tuple[str, int], ...] = ()
        #: Changes whenever the drawn cells do: a drawn line is kept by row and version.
        self.version = 0

    def set_data(self, data: dict[ColumnKey, RowCell]) -> None:
        self.data = data
        self.version = next(_versions)


@dataclass(frozen=True, slots=True)
class _Frame:
    """What every data row of one frame is drawn with (see `FastTable._fast_row`)."""

    drawable: bool
    columns: list[tuple[ColumnKey, int]]
    layout: tuple[tuple[ColumnKey, int], ...]
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


class FastTable(DataTable[RowCell]):
    """A row-cursor table of one-line `RowCell` rows, drawn without a Rich console."""

    #: The component-class prefix of the style names in the rows' cells (see `_style`).
    COMPONENT_PREFIX: ClassVar[str]
    #: `:focus` always matches: the table has its focused look whether or not it has the
    #: keyboard, so focus moving to a prompt and back restyles nothing (Textual would apply
    #: the stylesheet to the table and its ~20 component classes, then draw every line
    #: again, for the same picture). Typed as `Widget` types it (which mypy holds against
    #: `DOMNode`'s declaration).
    _PSEUDO_CLASSES: ClassVar[dict[str, Callable[[Widget], bool]]] = {  # type: ignore[assignment]
        **Widget._PSEUDO_CLASSES,
        "focus": lambda _: True,
        "blur": lambda _: False,
    }

    def __init__(self, *, id: str | None = None) -> None:
        # Set first: `DataTable.__init__` already reads `ordered_rows` (overridden here).
        #: The shown row ids, in display order.
        self._order: list[str] = []
        #: Per row: its key, `Row` and drawn cells, as last installed.
        self._drawn: dict[str, DrawnRow] = {}
        #: Bumped when the columns or their widths change.
        self._generation = 0
        #: Drawing caches: the styles of a cell's segments, by line style, row, column and
        #: the cell's style (Rich's own cache of 1,024 style sums is smaller than a frame);
        #: the drawn columns; the rows in order and their offsets, by table version; what
        #: every row of the frame being drawn shares.
        self._cell_styles: dict[tuple[object, ...], tuple[Style, Style]] = {}
        #: The same sums without the cell's place (its mouse metadata), by line and cell style.
        self._cell_looks: dict[tuple[Style, Style, Style], tuple[Style, Style]] = {}
        self._columns_drawn: tuple[tuple[int, int, int], list[tuple[ColumnKey, int]]] | None = None
        self._rows_ordered: tuple[int, list[Row]] | None = None
        self._offsets: tuple[int, list[tuple[RowKey, int]]] | None = None
        self._frame_style: Style | None = None
        self._frame: _Frame | None = None
        #: The styles the drawn lines were made with, and whether a restyle happened
        #: since they were checked (see `notify_style_update`).
        self._look_drawn: tuple[Style, ...] | None = None
        self._restyled = False
        #: Drawn data rows by row (see `_render_line`).
        self._row_lines: LRUCache[tuple[object, ...], Strip] = LRUCache(ROW_LINES)
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=0)
        self._styles: dict[str, Style] = {}

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """`Widget.vertical_scrollbar`, with a scrollbar that keeps its lines."""
        if self._vertical_scrollbar is None:
            bar = self._vertical_scrollbar = _ScrollBar(thickness=self.scrollbar_size_vertical)
            bar.display = False
            self.app._start_widget(self, bar)
        return self._vertical_scrollbar

    # ------------------------------------------------------------------ styles

    def _style(self, name: str) -> Style:
        """Resolve a row-model style name through the .tcss component classes (cached)."""
        style = self._styles.get(name)
        if style is None:
            parts = name.split("-")
            style = Style()
            for part in parts:
                component = f"{self.COMPONENT_PREFIX}--{part}"
                style += self.get_component_rich_style(component, partial=True)
            self._styles[name] = style
        return style

    def notify_style_update(self) -> None:
        """Note the restyle; what was drawn is dropped at the next frame only if a style
        it was drawn with changed (`_check_look`).

        Textual restyles a widget for more than a new look (its parent's classes, a
        screen resumed), and `DataTable` would then throw away every cached line and
        repaint all of them.
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
        self._cell_looks.clear()
        self._row_lines.clear()
        DataTable.notify_style_update(self)
        if not first:  # a new theme: the rows' cells carry resolved styles
            self.call_after_refresh(self._redraw_rows)

    def _redraw_rows(self) -> None:
        """Make the rows' cells again after a new theme (they carry resolved styles)."""

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

    def watch_has_focus(self, _has_focus: bool) -> None:
        """Nothing to restyle: the look does not depend on focus (see `_PSEUDO_CLASSES`)."""

    @property
    def _pseudo_classes_cache_key(self) -> tuple[int, ...]:
        return (self.mouse_hover, True, self.is_disabled)

    def get_pseudo_class_state(self) -> PseudoClasses:
        """As `Widget.get_pseudo_class_state`, always focused: the drawn lines (keyed by it)
        stay valid when focus moves."""
        return super().get_pseudo_class_state()._replace(focus=True)

    def _on_focus(self, event: events.Focus) -> None:
        """`Widget._on_focus` without its repaint: the look does not change."""
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
        unplaced = self._cell_looks
        for column_index, (key, width) in enumerate(columns):
            cell = cells[key]
            style_key = (line_style, post, row_index, column_index, cell.style)
            pair = styles.get(style_key)
            if pair is None:
                # `line + meta + post` is `line + post + meta`: the mouse metadata carries
                # no colour or attribute. The sums without it are few and kept apart.
                look_key = (line_style, post, cell.style)
                look = unplaced.get(look_key)
                if look is None:
                    if len(unplaced) > 1024:
                        unplaced.clear()
                    look = unplaced[look_key] = (line_style + post, line_style + cell.style + post)
                meta = cell_meta(row_index, column_index)
                pair = styles[style_key] = (look[0] + meta, look[1] + meta)
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
            layout=tuple(columns),
            width=width,
            remaining=width - self._row_label_column_width - sum(w for _, w in columns),
            row_cursor=self.cursor_type == "row",
            cursor_flags=(
                self.show_cursor, self._show_hover_cursor,
                self.cursor_foreground_priority == "css",
                self.cursor_background_priority == "css",
            ),
        )  # fmt: skip

    def _drawn_layout(self) -> tuple[tuple[ColumnKey, int], ...]:
        """The drawn columns as a key: a line drawn for them stays valid while they are
        the columns (a filter that narrows them and is cleared brings them back)."""
        frame = self._frame
        return frame.layout if frame is not None else tuple(self._drawn_columns())

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
            if self._plain_box():
                return self._render_plain(crop)
            return super().render_lines(crop)
        finally:
            self._frame_style = None
            self._frame = None

    def _plain_box(self) -> bool:
        """The table has no border, padding, outline, tint, hatch or transparency (as
        trailtop.tcss draws it): its lines need nothing of Textual's styles cache."""
        styles = self.styles
        return (
            not any(edge for edge, _ in styles.border)
            and not any(edge for edge, _ in styles.outline)
            and not any(styles.padding)
            and styles.tint.a == 0
            and self.opacity == 1.0
            and styles.text_opacity == 1.0
            and (not styles.has_rule("hatch") or styles.hatch == "none")
            and self._border_title is None
            and self._border_subtitle is None
            and self.region.size == self.content_region.size
        )

    def _render_plain(self, crop: Region) -> list[Strip]:
        """`Widget.render_lines` for a plain box, the lines handed on as they are drawn.

        Textual's styles cache wraps every line of every frame in a new `Strip` (for the
        border, padding and tint this table has none of) and filters that one, so a line
        kept by `_render_line` was filtered again each frame; here a kept line's filtered
        form is kept with it (`Strip.apply_filter` caches per strip)."""
        base_background, background = self.background_colors
        if self.auto_links:
            hover = self.hover_style
            if hover._link_id and hover._meta and "@click" in hover.meta:
                return super().render_lines(crop)  # links to underline: Textual's way
        self._pseudo_class_state = self.get_pseudo_class_state()  # as `DataTable` does
        inner = self._styles_cache.get_inner_outer(base_background, background)[0].rich_style
        width = self.region.width
        filters = self.get_line_filters()
        strips: list[Strip] = []
        for y in crop.line_range:
            strip = self.render_line(y).adjust_cell_length(width, inner)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            strips.append(strip)
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

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
        produce (cropped to the widget, simplified) without cropping or re-joining it.

        Kept by row (its place, the version of its cells, whether the cursor or the mouse
        is on it), not by screen line and table version as `DataTable` keeps it: after a
        cursor move only the two rows it left and reached are drawn again, and after a
        filter is cleared the rows back in their places are drawn as they were."""
        width = self._frame.width if self._frame is not None else self.size.width
        header = self.header_height if self.show_header else 0
        row_index = y - header
        cursor, hover = self.cursor_coordinate, self.hover_coordinate
        if row_index < 0 and self.cursor_type == "row":
            # The header: a row cursor never lights a header cell, so unlike `DataTable`
            # the key leaves the cursor out (a cursor move draws the header again else).
            header_key = (
                "header", y, x1, x2, width, hover.row == row_index, base_style,
                self._show_hover_cursor, self._update_count, self._pseudo_class_state,
            )  # fmt: skip
            strip = self._row_lines.get(header_key)
            if strip is None:
                strip = self._row_lines[header_key] = super()._render_line(y, x1, x2, base_style)
            return strip
        if row_index < 0 or row_index >= self.row_count or x1 != 0 or x2 != width:
            return super()._render_line(y, x1, x2, base_style)
        row_key = self._row_locations.get_key(row_index)
        drawn = self._drawn.get(row_key.value or "") if row_key is not None else None
        if drawn is None or drawn.key is not row_key:
            return super()._render_line(y, x1, x2, base_style)
        cursor_type = self.cursor_type
        where: tuple[object, ...] = (
            (cursor.row == row_index, hover.row == row_index)
            if cursor_type == "row"
            else (cursor, hover)
        )
        cache_key = (
            row_index, drawn.version, width, where, base_style, cursor_type,
            self._show_hover_cursor, self._pseudo_class_state, self._drawn_layout(),
        )  # fmt: skip
        strip = self._row_lines.get(cache_key)
        if strip is not None:
            return strip
        fast = (
            None
            if row_key is None
            else self._fast_row(row_key, base_style, cursor, hover, row_index)
        )
        if fast is None:
            return super()._render_line(y, x1, x2, base_style)
        segments = list(chain.from_iterable(fast))
        strip = Strip(segments, width)
        self._row_lines[cache_key] = strip
        return strip

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: RowCell,
        *,
        update_width: bool = False,
    ) -> None:
        """`DataTable.update_cell`, the row's drawn line made again (a new version)."""
        super().update_cell(row_key, column_key, value, update_width=update_width)
        key = row_key.value if isinstance(row_key, RowKey) else row_key
        drawn = self._drawn.get(key or "")
        if drawn is not None:
            drawn.version = next(_versions)

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
