"""The plan picker: several plans address a view's findings, the operator picks one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from core.fix.model import Plan
from tui.safe import plain


def _plan_option(plan: Plan) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(plain(plan.title, max_len=200), "bold")
    t.append(f"\n  {plain(plan.id, max_len=80)} · fixes ", "dim")
    t.append(", ".join(plain(c) for c in (plan.fixes or (plan.code,))), "dim")
    if plan.needs_extra_confirmation:
        t.append(" · needs extra confirmation", "bold")
    if plan.unbound():
        t.append(" · needs " + ", ".join(plain(p) for p in plan.unbound()), "dim")
    return t


class PlanPickerScreen(ModalScreen[str | None]):
    """Several plans address this view's findings: the operator picks one (enter), or esc."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Cancel")]

    def __init__(self, plans: Sequence[Plan]) -> None:
        super().__init__(classes="dialog-screen")
        self.plans = list(plans)

    def compose(self) -> ComposeResult:
        # Its own footer: the keys of the screen below do not work here.
        yield Footer(compact=True, show_command_palette=False)
        with Vertical(id="picker-dialog", classes="dialog"):
            yield Static(
                Text(f"{len(self.plans)} fixes for this view — enter opens one, esc cancels"),
                classes="dialog-title",
                markup=False,
            )
            yield OptionList(
                *(Option(_plan_option(p), id=p.id) for p in self.plans), id="picker-list"
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)
