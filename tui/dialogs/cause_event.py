"""The culprit's full CloudTrail event behind each "Who broke it" line of the drill-down."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui.safe import plain, safe_text


def event_renderable(items: Sequence[tuple[str, Any]]) -> RenderableType:
    """(finding code, cause_event) pairs: the summary then the full CloudTrail event JSON."""
    parts: list[RenderableType] = []
    for code, ce in items:
        head = Text()
        head.append(plain(code, max_len=80), "bold underline")
        head.append("  " + plain(ce.get("summary", ""), max_len=600))
        parts.append(head)
        event = ce.get("event", ce)
        try:
            dumped = json.dumps(event, indent=2, sort_keys=True, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            dumped = repr(event)
        parts.append(safe_text(dumped, max_len=100_000, multiline=True, end="\n"))
        parts.append(Text(""))
    return Group(*parts)


class CauseEventScreen(ModalScreen[None]):
    """The full CloudTrail event behind each "Who broke it" line, pretty and literal."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("e", "close", "Close", show=False),
    ]

    def __init__(self, items: Sequence[tuple[str, Any]]) -> None:
        super().__init__(classes="dialog-screen")
        self.items = list(items)

    def compose(self) -> ComposeResult:
        # Its own footer: the keys of the screen below do not work here.
        yield Footer(compact=True, show_command_palette=False)
        with Vertical(id="event-dialog", classes="dialog"):
            yield Static(
                Text("Who broke it: the CloudTrail event (esc closes)", "bold"),
                classes="dialog-title",
                markup=False,
            )
            with VerticalScroll(id="event-body"):
                yield Static(event_renderable(self.items), id="event-text", markup=False)

    def on_mount(self) -> None:
        self.query_one("#event-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
