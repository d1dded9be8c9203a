"""Copy to the clipboard from the drill-down: the trail ARN, a plan id, a command.

The copy goes through the terminal (OSC 52, `App.copy_to_clipboard`), so it works over
SSH and inside tmux (with `set-clipboard on`). Values come from AWS: each is listed and
copied in its sanitised form (`tui.safe.plain`), never with a control character.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from core.model import TrailView
from tui.safe import plain

if TYPE_CHECKING:
    from tui.app import TrailtopApp

#: (what it is, the value to copy)
CopyItem = tuple[str, str]


def copy_items(
    view: TrailView, plan_ids: Sequence[str], plans: Mapping[str, Any]
) -> list[CopyItem]:
    """What the drill-down of `view` offers to copy, most asked for first."""
    items: list[CopyItem] = []
    if view.trail.arn:
        items.append(("trail ARN", view.trail.arn))
    for pid in plan_ids:
        items.append(("plan id", pid))
        items.append(("command", f"trailtop fix {pid} --allow-remediation"))
        plan = plans.get(pid)
        calls = getattr(plan, "calls", ())
        if calls:
            items.append(("AWS CLI", "\n".join(call.render_cli() for call in calls)))
    items.append(("account id", view.key.account_id))
    return [(what, plain(value, max_len=20_000, multiline=True)) for what, value in items]


#: An entry shows at most this much of its value (the whole value is what is copied).
SHOWN_MAX = 100


def _option(what: str, value: str) -> Text:
    shown = value.replace("\n", " ⏎ ")
    if len(shown) > SHOWN_MAX:
        shown = shown[: SHOWN_MAX - 1] + "…"
    t = Text()
    t.append(f"{what}: ", "bold")
    t.append(shown)
    return t


class CopyScreen(ModalScreen[None]):
    """Enter copies the highlighted value; Esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("c", "close", "Close", show=False),
    ]

    app: TrailtopApp

    def __init__(self, items: Sequence[CopyItem]) -> None:
        super().__init__(classes="dialog-screen")
        self.items = list(items)

    def compose(self) -> ComposeResult:
        # Its own footer: the keys of the screen below do not work here.
        yield Footer(compact=True, show_command_palette=False)
        with Vertical(id="copy-dialog", classes="dialog"):
            yield Static(
                Text("Copy to the clipboard: enter copies, esc closes", "bold"),
                classes="dialog-title",
                markup=False,
            )
            yield OptionList(
                *(Option(_option(w, v), id=str(i)) for i, (w, v) in enumerate(self.items)),
                id="copy-list",
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        what, value = self.items[int(event.option.id or 0)]
        self.app.copy_text(what, value)
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
