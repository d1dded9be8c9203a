"""The `t` screen: which (profile, account, region) targets could not be read, and why.

The header only counts them ("n/N targets in error"); here each one is listed with the
engine's reason, literally (reasons are AWS error messages: untrusted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from core.model import Snapshot
from tui.safe import plain, safe_text
from tui.signals import subscribe

if TYPE_CHECKING:
    from tui.app import TrailtopApp


def targets_renderable(snapshot: Snapshot | None) -> RenderableType:
    if snapshot is None:
        return Text("No sweep has finished yet.", style="italic")
    bad = [t for t in snapshot.targets if not t.ok]
    total = len(snapshot.targets)
    if not bad:
        word = "target" if total == 1 else "targets"
        return Text(f"Every target answered in sweep #{snapshot.sweep} ({total} {word}).")
    table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
    table.add_column("Profile", no_wrap=True, max_width=16, overflow="ellipsis")
    table.add_column("Account", no_wrap=True)
    table.add_column("Region", no_wrap=True)
    table.add_column("Reason", overflow="fold", ratio=1)
    for t in sorted(bad, key=lambda t: (str(t.profile), str(t.account_id), t.region)):
        account = plain(t.account_id or "?", max_len=20)
        if t.account_alias:
            account += f" ({plain(t.account_alias, max_len=30)})"
        table.add_row(
            safe_text(t.profile or "(default)", max_len=40),
            Text(account),
            safe_text(t.region, max_len=30),
            safe_text(t.error or "(no reason given)", max_len=2000),
        )
    head = Text(f"{len(bad)} of {total} targets could not be read in sweep #{snapshot.sweep}:")
    return Group(head, Text(""), table)


class TargetsScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("t", "close", "Close", show=False),
    ]

    app: TrailtopApp

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def compose(self) -> ComposeResult:
        # Its own footer: the keys of the screen below do not work here.
        yield Footer(compact=True, show_command_palette=False)
        with Vertical(id="targets-dialog", classes="dialog"):
            yield Static(
                Text("Targets in error (esc closes)", "bold"), classes="dialog-title", markup=False
            )
            with VerticalScroll(id="targets-body"):
                yield Static("", id="targets-text", markup=False)

    def on_mount(self) -> None:
        subscribe(self, self.app.snapshot_signal, self.refresh_targets)
        self.refresh_targets(self.app.snapshot)
        self.query_one("#targets-body").focus()

    def refresh_targets(self, snapshot: Snapshot | None) -> None:
        """Re-rendered on each snapshot while open."""
        self.query_one("#targets-text", Static).update(targets_renderable(snapshot))

    def action_close(self) -> None:
        self.dismiss(None)
