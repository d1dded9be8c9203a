"""One cell of the overview table, and how a row of them is drawn without Rich's console.

`tui/widgets/fast_table.py` draws its rows straight from these cells: at 1,700 rows the
console's rendering of every visible cell after each sort or cursor move was most of the
cost, and a Rich `Text` per cell was five objects for the garbage collector to walk.
"""

from __future__ import annotations

from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from tui.layout import GAP
from tui.rows import Cell


class RowCell:
    """One cell of the table: its text (after the GAP that separates columns), the style of
    that text, and its row, so `DataTable.sort(key=...)` can use our own sort keys.

    Not a Rich `Text`: rows are drawn by `ViewTable._render_line_in_row` straight from these
    three fields, and a plain object costs one allocation where a `Text` with a style span
    costs five (1,700 rows x 8 cells of them are live, and the garbage collector walks them
    all). `__rich__` gives the equivalent `Text` wherever one is still asked for.
    """

    __slots__ = ("cut", "row_id", "source", "style", "text")

    def __init__(
        self, text: str, style: Style, row_id: str, source: Cell = ("", ""), cut: int = 0
    ) -> None:
        self.text = " " * GAP + text
        self.style = style
        self.row_id = row_id
        #: The row-model cell this was made from, and the width it was cut for (0: none).
        self.source = source
        self.cut = cut

    @property
    def plain(self) -> str:
        return self.text

    def __rich__(self) -> Text:
        out = Text(self.text, end="", no_wrap=True, overflow="ellipsis")
        if self.style:
            out.stylize(self.style, GAP)
        return out


def cell_segments(cell: RowCell, width: int, outer: Style, inner: Style) -> list[Segment]:
    """The segments Rich gives `Styled(Padding(cell.__rich__(), 0), pre, post)` in `width`
    cells, simplified (neighbours of equal style joined): the text cut with an ellipsis
    when too long (its style cut with it), then padded. `outer` is `pre + post`, `inner`
    is `pre + cell.style + post` (the caller keeps them)."""
    plain = cell.text
    if cell_len(plain) > width:
        plain = set_cell_size(plain, width - 1) + "…" if width > 0 else ""
    pad = " " * (width - cell_len(plain))
    if not cell.style or len(plain) <= GAP or inner == outer:
        return [Segment(plain + pad, outer)]
    out = [Segment(plain[:GAP], outer), Segment(plain[GAP:], inner)]
    if pad:
        out.append(Segment(pad, outer))
    return out


@lru_cache(maxsize=4096)
def cell_meta(row: int, column: int) -> Style:
    """The mouse metadata `DataTable` puts on a cell (which row and column a click hit)."""
    return Style.from_meta({"row": row, "column": column})
