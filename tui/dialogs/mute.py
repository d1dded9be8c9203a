"""The mute dialog (key `m`): why and for how long a known, accepted finding stops counting.

It shows exactly what the mute will cover (code, account, region, trail: `core.mute.mute_for`
writes those literally, no wildcard) and the file it goes to, and asks for a reason (kept
with the mute, shown wherever the finding is) and a duration or a date. It only answers the
choice: the App writes the file off the UI loop and asks the source for a sweep, so the
engine applies the mute (it re-reads the mute file when it changes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from core.model import Finding, MuteMark, TrailView
from tui.format import fmt_time
from tui.safe import plain

DEFAULT_DURATION = "7d"
#: Longest mute the dialog accepts: a mute is for a known exception, not for ever.
MAX_DAYS = 3660
REASON_MAX = 300
_DURATION = re.compile(r"^(\d{1,6})\s*([hdw])$")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_expiry(text: str, now: datetime) -> datetime:
    """When a mute typed as `text` ends: a duration from `now` (12h, 7d, 2w) or a date
    (midnight UTC at its start, as in the config) or an ISO time (UTC when naive).
    Raises ValueError with the reason the dialog shows."""
    raw = text.strip() or DEFAULT_DURATION
    m = _DURATION.match(raw.lower())
    if m is not None:
        n = int(m.group(1))
        if n == 0:
            raise ValueError("a duration must be more than zero")
        expires = now + n * _UNIT[m.group(2)]
    else:
        try:
            expires = datetime.combine(date.fromisoformat(raw), time(), UTC)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(raw)
            except ValueError:
                raise ValueError(
                    "not a duration (12h, 1d, 7d, 30d, 2w) nor a date (2026-12-31)"
                ) from None
            expires = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    if expires <= now:
        raise ValueError(f"{fmt_time(expires)} is already past")
    if expires - now > timedelta(days=MAX_DAYS):
        raise ValueError(f"at most {MAX_DAYS // 366} years: a mute must end")
    return expires.astimezone(UTC)


def muted_text(mark: MuteMark) -> Text:
    """`muted until DATE: reason (source)`: how a muted finding says why it does not count."""
    t = Text(style="dim italic")
    t.append(f"muted until {fmt_time(mark.expires)}: ", "bold")
    t.append(plain(mark.reason, max_len=REASON_MAX))
    t.append(f" ({plain(mark.source, max_len=200)})")
    return t


def target_text(view: TrailView, finding: Finding) -> Text:
    """Exactly what a mute of `finding` covers (as `core.mute.mute_for` writes it)."""
    t = Text()
    rows = (
        ("code", plain(finding.code, max_len=80)),
        (
            "account",
            plain(view.key.account_id)
            + (f" ({plain(view.account_alias, max_len=60)})" if view.account_alias else ""),
        ),
        ("region", plain(view.key.region, max_len=40)),
        (
            "trail",
            plain(view.trail.arn, max_len=300)
            if view.trail.arn
            else "any trail (this row has none: " + plain(view.trail.name, max_len=60) + ")",
        ),
    )
    for i, (k, v) in enumerate(rows):
        t.append(f"{k:>8}  ", "bold")
        t.append(v + ("\n" if i < len(rows) - 1 else ""))
    return t


@dataclass(frozen=True)
class MuteChoice:
    """What the operator confirmed."""

    finding: Finding
    reason: str
    expires: datetime


class RequestMute(Message):
    """The operator pressed `m`: mute `codes` of a view (the first is proposed; more than
    one lets the dialog offer a choice)."""

    def __init__(self, view_id: str, codes: tuple[str, ...]) -> None:
        super().__init__()
        self.view_id = view_id
        self.codes = codes


class MuteWritten(Message):
    """The mute file was written (`error` empty) or could not be (`error` says why)."""

    def __init__(self, view_id: str, code: str, expires: datetime, error: str = "") -> None:
        super().__init__()
        self.view_id = view_id
        self.code = code
        self.expires = expires
        self.error = error


class MuteScreen(ModalScreen[MuteChoice | None]):
    """Reason (required) and duration for muting one finding of one view; enter confirms."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Cancel")]

    def __init__(
        self,
        view: TrailView,
        findings: Sequence[Finding],
        path: Path,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.view = view
        self.findings = list(findings)
        self.path = path
        self.now = now
        self.finding = self.findings[0]

    def compose(self) -> ComposeResult:
        yield Footer(compact=True, show_command_palette=False)
        with Vertical(id="mute-dialog", classes="dialog"):
            title = Text("Mute a finding: ", style="bold")
            title.append("shown dimmed; counts for nothing (state, exit status, alerts) until")
            title.append(" it expires", "not bold")
            yield Static(title, classes="dialog-title", markup=False)
            if len(self.findings) > 1:
                yield OptionList(
                    *(
                        Option(
                            Text(f"{plain(f.code, max_len=80)}: {plain(f.message, max_len=200)}"),
                            id=str(i),
                        )
                        for i, f in enumerate(self.findings)
                    ),
                    id="mute-findings",
                    compact=True,
                )
            yield Static("", id="mute-what", markup=False)
            yield Label("Reason (required):")
            yield Input(
                placeholder="why this finding is accepted",
                id="mute-reason",
                max_length=REASON_MAX,
                compact=True,
            )
            yield Label("For (12h, 1d, 7d, 30d, 2w) or until (2026-12-31):")
            yield Input(value=DEFAULT_DURATION, id="mute-duration", max_length=40, compact=True)
            yield Static("", id="mute-error", markup=False)
            with Horizontal(id="mute-buttons"):
                yield Button("Mute", id="mute-ok", variant="warning", compact=True)
                yield Button("Cancel", id="mute-cancel", compact=True)

    def on_mount(self) -> None:
        self._render_what()
        self.query_one("#mute-reason", Input).focus()

    def _render_what(self) -> None:
        t = target_text(self.view, self.finding)
        t.append("\n   until  ", "bold")
        try:
            t.append(fmt_time(self.expires()))
        except ValueError as e:
            t.append(str(e), "italic")
        t.append("\n written  ", "bold")
        t.append(plain(str(self.path), max_len=300))
        self.query_one("#mute-what", Static).update(t)

    def expires(self) -> datetime:
        return parse_expiry(self.query_one("#mute-duration", Input).value, self.now())

    @on(OptionList.OptionHighlighted, "#mute-findings")
    def _picked(self, event: OptionList.OptionHighlighted) -> None:
        self.finding = self.findings[int(event.option.id or 0)]
        self._render_what()

    @on(Input.Changed, "#mute-duration")
    def _duration_changed(self, _: Input.Changed) -> None:
        self._render_what()

    @on(Input.Submitted)
    @on(Button.Pressed, "#mute-ok")
    def confirm(self) -> None:
        """Dismiss with the choice, or say what is missing (the dialog stays open)."""
        error = self.query_one("#mute-error", Static)
        reason = " ".join(self.query_one("#mute-reason", Input).value.split())
        if not reason:
            error.update(Text("A reason is required: it is kept with the mute.", "bold"))
            self.query_one("#mute-reason", Input).focus()
            return
        try:
            expires = self.expires()
        except ValueError as e:
            error.update(Text(f"Duration: {e}", "bold"))
            self.query_one("#mute-duration", Input).focus()
            return
        self.dismiss(MuteChoice(self.finding, reason, expires))

    @on(Button.Pressed, "#mute-cancel")
    def action_close(self) -> None:
        self.dismiss(None)
