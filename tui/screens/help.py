"""The `?` screen: the key map and the legend of state words and markers."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui.keymap import KEYMAP, LEGEND


def help_renderable() -> Group:
    keys = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
    keys.add_column("Key", no_wrap=True, style="bold")
    keys.add_column("Action")
    keys.add_column("Where", style="dim", no_wrap=True)
    for k, what, where in KEYMAP:
        keys.add_row(Text(k), Text(what), Text(where))
    legend = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
    legend.add_column("Mark", no_wrap=True, style="bold")
    legend.add_column("Meaning")
    for mark, meaning in LEGEND:
        legend.add_row(Text(mark), Text(meaning))
    return Group(
        Text("trailtop — keys", style="bold"),
        Text(""),
        keys,
        Text(""),
        Text("Legend", style="bold"),
        legend,
        Text(""),
        Text("esc, q or ? closes this help", style="dim italic"),
    )


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        # Its own footer: the keys of the screen below do not work here.
        yield Footer(compact=True, show_command_palette=False)
        with VerticalScroll(id="help-body"):
            yield Static(help_renderable(), id="help-text", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
