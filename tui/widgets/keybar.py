"""The footer: the keys that work now, on one line, drawn as one Text.

Textual's `Footer` is a container of one widget per key, recomposed (every key widget
unmounted and mounted again) whenever focus or the bindings change; on the
1,700-row overview opening the `/` or `:` prompt spent tens of milliseconds there. This
bar reads the same active bindings, builds one line and redraws only when that line
changes. It keeps what the Footer offered: disabled keys dimmed, a click on a key presses
it, a key's tooltip on hover, and optionally the command palette key at the right edge.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

#: One key on the bar: (key, its display, description, enabled, tooltip).
Item = tuple[str, str, str, bool, str]


class KeyBar(Static, can_focus=False):
    """One line of `key description` pairs for the screen's active bindings."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyBar > .keybar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .keybar--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeyBar > .keybar--disabled {
        text-style: dim;
    }
    KeyBar > .keybar--separator {
        color: $foreground 20%;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "keybar--key",
        "keybar--description",
        "keybar--disabled",
        "keybar--separator",
    }
    ALLOW_SELECT = False

    def __init__(self, *, palette_from: int | None = None, id: str | None = None) -> None:
        """`palette_from`: from this width on, the command palette key shows at the right."""
        super().__init__("", id=id, markup=False)
        self.palette_from = palette_from
        #: What is drawn now: the items and the width they were laid out for.
        self._drawn: tuple[tuple[Item, ...], tuple[Item, ...], int] | None = None
        #: (first cell, end cell, item) of each key drawn, for clicks and tooltips.
        self._spans: list[tuple[int, int, Item]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.refresh_keys()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if screen is self.screen:
            self.refresh_keys()

    def on_resize(self) -> None:
        self.refresh_keys()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # Another theme: drawn again with its colours, once the new styles are known.
        self._drawn = None
        self.call_after_refresh(self.refresh_keys)

    def items(self) -> tuple[tuple[Item, ...], tuple[Item, ...]]:
        """The keys to show (one per action, in binding order) and the palette key if any."""
        app = self.app
        keys: list[Item] = []
        actions: set[str] = set()
        palette: list[Item] = []
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.key == app.COMMAND_PALETTE_BINDING:
                palette = [self._item(binding, enabled, tooltip or binding.description)]
            if not binding.show or binding.action in actions:
                continue
            actions.add(binding.action)
            keys.append(self._item(binding, enabled, tooltip))
        width = self.size.width
        show_palette = (
            self.palette_from is not None
            and width >= self.palette_from
            and app.ENABLE_COMMAND_PALETTE
        )
        return tuple(keys), tuple(palette if show_palette else ())

    def _item(self, binding: Binding, enabled: bool, tooltip: str) -> Item:
        return (binding.key, self.app.get_key_display(binding), binding.description,
                enabled, tooltip)  # fmt: skip

    def refresh_keys(self) -> bool:
        """Redraw if the keys (or the width) changed; True when it did."""
        if not self.is_attached:
            return False
        keys, palette = self.items()
        drawn = (keys, palette, self.size.width)
        if drawn == self._drawn:
            return False
        self._drawn = drawn
        self.update(self._line(keys, palette, self.size.width), layout=False)
        return True

    def _line(self, keys: tuple[Item, ...], palette: tuple[Item, ...], width: int) -> Text:
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        desc_style = self.get_component_rich_style("keybar--description", partial=True)
        dim = self.get_component_rich_style("keybar--disabled", partial=True)
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, Item]] = []

        def add(item: Item) -> None:
            _, display, description, enabled, _ = item
            start = line.cell_len
            extra = Style() if enabled else dim
            line.append(display, key_style + extra)
            if description:
                line.append(" " + description, desc_style + extra)
            spans.append((start, line.cell_len, item))
            line.append(" ")

        for item in keys:
            add(item)
        if palette:
            tail = Text(no_wrap=True, end="")
            _, display, description, _, _ = palette[0]
            tail.append("▏", self.get_component_rich_style("keybar--separator"))
            tail.append(display, key_style)
            tail.append(" " + description + " ", desc_style)
            pad = width - line.cell_len - tail.cell_len
            if pad >= 0:
                line.append(" " * pad)
                start = line.cell_len + 1
                line.append_text(tail)
                spans.append((start, line.cell_len - 1, palette[0]))
        self._spans = spans
        return line

    def _item_at(self, x: int) -> Item | None:
        return next((item for start, end, item in self._spans if start <= x < end), None)

    def on_click(self, event: events.Click) -> None:
        """A click on a key presses it (a disabled key rings the bell), as in the Footer."""
        item = self._item_at(event.x)
        if item is None:
            return
        event.stop()
        if item[3]:
            self.app.simulate_key(item[0])
        else:
            self.app.bell()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        item = self._item_at(event.x)
        tooltip = item[4] if item is not None else ""
        if (self.tooltip or "") != tooltip:
            self.tooltip = tooltip or None
