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
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.widgets import DataTable

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
    preferred_widths,
    row_cells,
    should_rebuild,
    sort_key,
    table_diff,
    tick_cells,
)
from tui.styles import state_classes

#: Above this many rows added at once, the columns they need are worked out first.
REFILL_ADDS = 200


class RowText(Text):
    """A cell that knows its row, so `DataTable.sort(key=...)` can use our own sort keys."""

    __slots__ = ("row_id",)

    #: Not measurable: every column of the table has a fixed width, so the content width
    #: `DataTable` would measure for each cell of each added row (thousands of Rich
    #: measurements when a filter is cleared) is never used.
    __rich_measure__ = None  # type: ignore[assignment]

    def __init__(self, text: str, style: Style | str, row_id: str) -> None:
        # The GAP before the text is the column separator (the table has no cell padding).
        super().__init__(" " * GAP + text, end="", no_wrap=True, overflow="ellipsis")
        if style:
            self.stylize(style, GAP)
        self.row_id = row_id


@dataclass(slots=True)
class ApplyStats:
    added: int = 0
    removed: int = 0
    updated_cells: int = 0
    rebuilt: bool = False
    sorted: bool = False
    seconds: float = 0.0


class ViewTable(DataTable[Text]):
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

    def _cell(self, rid: str, cell: Cell, key: str = "") -> RowText:
        text = cell[0]
        if key in MIDDLE_CUT:
            text = cut_cell(key, text, self.col_widths.get(key, len(text)))
        return RowText(text, self._style(cell[1]), rid)

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
        recut = [k for k in MIDDLE_CUT if k in layout and layout[k] != self.col_widths.get(k)]
        self.col_widths = layout
        for key, width in layout.items():
            self.columns[key].width = width + GAP  # type: ignore[index]
        for key in recut:  # names cut in the middle are cut for a width: redo them
            i = COL_INDEX[key]
            for rid, cells in self._shown.items():
                self.update_cell(rid, key, self._cell(rid, cells[i], key))
        self._clear_caches()
        self._require_update_dimensions = True
        self.refresh(layout=True)

    def _rebuild_columns(self) -> None:
        """Re-add every row under the new set of columns, in the same order, cursor kept."""
        order = self.shown_ids()
        cursor_id, cursor_index = self.cursor_view_id, self.cursor_row
        self.clear(columns=True)
        self._add_columns()
        for rid in order:
            cells = self._shown[rid]
            self.add_row(*self._row(rid, cells), key=rid)
        self._restore_cursor(cursor_id, cursor_index)

    def _row(self, rid: str, cells: Cells) -> list[RowText]:
        return [
            self._cell(rid, cells[COL_INDEX[k]], k) for k in COLUMN_KEYS if k in self.col_widths
        ]

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
        self._highlight = highlight
        requery = query != self._query
        self._query = query
        wanted: dict[str, Cells] = {}
        shown = self._shown
        for rid in visible:
            m = models[rid]
            cells = shown.get(rid)
            if (
                cells is None
                or requery
                or old_models.get(rid) is not m
                or (rid in highlight) != cells[0][1].endswith("-changed")
            ):
                cells = row_cells(m, now, rid in highlight, query)
            wanted[rid] = cells
        diff = table_diff(self._shown, wanted)
        cursor_id = self.cursor_view_id
        cursor_index = self.cursor_row

        rebuild = should_rebuild(len(diff.remove), len(self._shown), len(wanted))
        if not rebuild and len(diff.add) > REFILL_ADDS:
            # Many rows come back (a filter cleared): if they change the columns, adding
            # them under the old ones would add every row twice.
            layout = self._compute_layout_for(self._measure_of(wanted.values()))
            rebuild = bool(layout) and list(layout) != list(self.col_widths)
        if rebuild:
            self._clear_for(wanted)
            self._shown = {}
            self._marked = set()
            ordered = sorted(visible, key=self._key_fn(models))
            if self.sort_reverse:
                ordered.reverse()
            for rid in ordered:
                self._add(rid, wanted[rid])
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
            for rid in diff.add:
                self._add(rid, wanted[rid])
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
        if stats.rebuilt or not diff.empty:
            self._measure()
        self._restore_cursor(cursor_id, cursor_index)
        stats.seconds = time.perf_counter() - t0
        return stats

    def _track_mark(self, rid: str, cells: Cells) -> None:
        if cells[0][1].endswith("-changed"):
            self._marked.add(rid)
        else:
            self._marked.discard(rid)

    def _add(self, rid: str, cells: Cells) -> None:
        self.add_row(*self._row(rid, cells), key=rid)
        self._shown[rid] = cells
        self._track_mark(rid, cells)

    def _key_fn(self, models: Mapping[str, RowModel]):  # type: ignore[no-untyped-def]
        column = self.sort_column

        def key(rid: str) -> tuple[object, ...]:
            return sort_key(models[rid], column)

        return key

    def _sort(self) -> None:
        key = self._key_fn(self._models)
        self.sort("state", key=lambda cell: key(cell.row_id), reverse=self.sort_reverse)

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
