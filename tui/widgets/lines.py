"""A block of many short lines that renders only the lines on screen.

A drill-down lists the thousand accounts an organization trail logs. Given to a `Static`,
those lines are wrapped and measured in full whenever the screen is laid out (hundreds of
milliseconds at that size); here the height is the number of lines and only the rows the
compositor asks for are drawn, so opening the screen costs what a screenful costs.
Lines are plain text (already sanitised by the caller), never markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

#: One line: its text (sanitised, one line) and its style.
Line = tuple[str, Style]


class LinesView(Widget):
    """Lines cut at the widget's width (no wrapping); as tall as it has lines."""

    DEFAULT_CSS = """
    LinesView {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Line] = []
        #: The base style while a frame is drawn (the same for every line: taken once).
        self._frame_style: Style | None = None

    @property
    def lines(self) -> list[Line]:
        return self._lines

    def set_lines(self, lines: Sequence[Line]) -> None:
        self._lines = list(lines)
        self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self._frame_style if self._frame_style is not None else self.rich_style
        if y >= len(self._lines) or width <= 0:
            return Strip.blank(width, base)
        text, style = self._lines[y]
        if cell_len(text) > width:
            strip = Strip([Segment(text, base + style)]).crop(0, max(width - 1, 0))
            return Strip([*strip, Segment("…", base + style)]).extend_cell_length(width, base)
        return Strip([Segment(text, base + style)], cell_len(text)).extend_cell_length(width, base)
