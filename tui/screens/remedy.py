"""The remediation modal (issue 6 item 4) and the plan picker in front of it.

Everything shown comes from a `core.fix.plans.Plan`, whose text is built from AWS documents
(bucket/key/topic policies): untrusted. It is rendered as Rich `Text` through `tui.safe`,
never as markup; the diff is coloured per line with Text styles from `trailtop.tcss`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.remediation import DISABLED_HINT, FixRecord
from tui.safe import plain, safe_text

if TYPE_CHECKING:
    from core.fix.model import Plan
    from tui.app import TrailtopApp

DIFF_MAX_LINES = 4000
LINE_MAX = 2000

#: Styles by role, resolved from the screen's component classes (colours live in the tcss).
Styles = dict[str, Style]


def diff_text(diff: str, styles: Styles | None = None) -> Text:
    """A unified diff with + / - / @@ lines styled; every line is literal text."""
    st = styles or {}
    out = Text(end="")
    lines = diff.splitlines()
    for i, line in enumerate(lines[:DIFF_MAX_LINES]):
        if line.startswith(("+++", "---")):
            style: Style | str = st.get("file", "bold")
        elif line.startswith("@@"):
            style = st.get("hunk", "")
        elif line.startswith("+"):
            style = st.get("add", "")
        elif line.startswith("-"):
            style = st.get("del", "")
        else:
            style = ""
        out.append(plain(line, max_len=LINE_MAX), style)
        if i < len(lines) - 1:
            out.append("\n")
    if len(lines) > DIFF_MAX_LINES:
        out.append(f"\n… {len(lines) - DIFF_MAX_LINES} more lines", "dim")
    return out


def blocked_reason(plan: Plan, enabled: bool) -> str | None:
    """Why this plan cannot be confirmed from the TUI, or None when it can."""
    if not enabled:
        return DISABLED_HINT
    unbound = plan.unbound()
    if unbound:
        sets = " ".join(f"--set {plain(p)}=..." for p in unbound)
        return (
            f"needs a value for {', '.join(plain(p) for p in unbound)}: not applicable from the "
            f"TUI; run `trailtop fix {plain(plan.id)} {sets}`"
        )
    return None


def plan_renderable(
    plan: Plan, trail_name: str, enabled: bool, styles: Styles | None = None
) -> RenderableType:
    """Title, exact API calls (CLI and SDK), risk, notes, warnings and the diff."""
    st = styles or {}
    parts: list[RenderableType] = []
    head = Text()
    head.append(plain(plan.title, max_len=300), "bold")
    head.append(f"\nplan {plain(plan.id, max_len=80)} · trail ", "dim")
    head.append(plain(trail_name, max_len=120), "dim")
    head.append(
        f" · account {plain(plan.account_id)} · region {plain(plan.region)}"
        f"\nfixes: {', '.join(plain(c) for c in (plan.fixes or (plan.code,)))}",
        "dim",
    )
    parts.append(head)
    reason = blocked_reason(plan, enabled)
    if reason is not None:
        parts.append(Text(""))
        parts.append(Text(" " + reason + " — read-only ", st.get("blocked", Style(reverse=True))))
    if plan.needs_extra_confirmation:
        parts.append(Text(""))
        warn = Text()
        warn.append(" ! NEEDS EXTRA CONFIRMATION ", st.get("warn", Style(bold=True, reverse=True)))
        warn.append(" ")
        warn.append(plain(plan.extra_confirmation_reason, max_len=1000), st.get("warntext", "bold"))
        parts.append(warn)
    parts.append(Text(""))
    parts.append(Text(f"API calls ({len(plan.calls)}), in order:", "bold underline"))
    for i, call in enumerate(plan.calls, 1):
        line = Text()
        line.append(f"{i}. CLI  ", "bold")
        line.append(plain(call.render_cli(), max_len=LINE_MAX))
        line.append("\n   SDK  ", "bold")
        line.append(plain(call.render(), max_len=LINE_MAX * 4))
        parts.append(line)
    parts.append(Text(""))
    risk = Text()
    risk.append("Risk: ", "bold")
    risk.append(plain(plan.risk, max_len=2000))
    parts.append(risk)
    for note in plan.notes:
        n = Text()
        n.append("Note: ", "bold")
        n.append(plain(note, max_len=2000))
        parts.append(n)
    parts.append(Text(""))
    parts.append(Text("Change (current → planned):", "bold underline"))
    if plan.diff:
        parts.append(diff_text(plan.diff, st))
    else:
        parts.append(Text("(no document changes: the calls above are the whole change)", "italic"))
    return Group(*parts)


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


class RemediationScreen(ModalScreen[None]):
    """One plan, in full, with a deliberately awkward way to say yes.

    Confirmation design: **Cancel is focused** when the modal opens, so Enter or Esc — the
    keys a hand reaches for while navigating — close it without writing anything. Applying
    needs the operator to **type the trail's name** into the input (then Enter there, or the
    Apply button, which stays disabled until the name matches). Like GitHub's "type the
    repository name to delete it", this defeats muscle memory: a single `y` is one stray key
    away from the navigation keys and can be hit by a key-repeat or a paste, a typed name
    cannot, and it makes the operator read *which* trail the change is for (the view list
    holds many look-alike trails across accounts). Plans that need extra confirmation (e.g.
    changing an explicit Deny) add a **second deliberate step**: a checkbox, reached with
    tab, stating that the highlighted warning was read; only then is `confirm_extra` passed
    to the engine (which refuses the plan otherwise). With remediation disabled, or for a
    plan with unbound parameters (`trail-retarget` needs `${bucket}`: choosing where audit
    logs go is done with `trailtop fix PLAN_ID --set bucket=...`), the plan is shown
    read-only and the controls are disabled with the reason.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "fix--add",
        "fix--del",
        "fix--hunk",
        "fix--file",
        "fix--warn",
        "fix--warntext",
        "fix--blocked",
        "fix--good",
        "fix--bad",
        "fix--busy",
    }
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    app: TrailtopApp

    def __init__(self, plan: Plan, view_id: str, trail_name: str, *, enabled: bool) -> None:
        super().__init__(classes="dialog-screen")
        self.plan = plan
        self.view_id = view_id
        self.trail_name = trail_name
        self.enabled = enabled
        self.blocked = blocked_reason(plan, enabled)
        self.record: FixRecord | None = None

    def styles_map(self) -> Styles:
        names = ("add", "del", "hunk", "file", "warn", "warntext", "blocked", "good", "bad", "busy")
        return {n: self.get_component_rich_style(f"fix--{n}", partial=True) for n in names}

    def compose(self) -> ComposeResult:
        with Vertical(id="fix-dialog", classes="dialog"):
            yield Static(
                Text("Fix: review the change", "bold"), classes="dialog-title", markup=False
            )
            with VerticalScroll(id="fix-body"):
                yield Static("", id="fix-plan", markup=False)
            with Vertical(id="fix-controls"):
                yield Static("", id="fix-status", markup=False)
                yield Input(
                    placeholder="type the trail name here to confirm",
                    id="fix-confirm",
                    disabled=self.blocked is not None,
                )
                if self.plan.needs_extra_confirmation:
                    yield Checkbox(
                        "I have read the warning above and want this change anyway",
                        id="fix-extra",
                        disabled=self.blocked is not None,
                        compact=True,
                    )
                with Horizontal(id="fix-buttons"):
                    yield Button("Cancel", id="fix-cancel", variant="primary", compact=True)
                    yield Button(
                        "Apply", id="fix-apply", variant="error", disabled=True, compact=True
                    )

    def on_mount(self) -> None:
        self.query_one("#fix-plan", Static).update(
            plan_renderable(self.plan, self.trail_name, self.enabled, self.styles_map())
        )
        self._show_prompt()
        self.query_one("#fix-cancel", Button).focus()

    # ------------------------------------------------------------------ state

    def typed_ok(self) -> bool:
        typed = self.query_one("#fix-confirm", Input).value.strip()
        return bool(typed) and typed in (self.trail_name, plain(self.trail_name))

    def extra_ok(self) -> bool:
        if not self.plan.needs_extra_confirmation:
            return True
        return self.query_one("#fix-extra", Checkbox).value

    def ready(self) -> bool:
        return self.blocked is None and self.record is None and self.typed_ok() and self.extra_ok()

    def _status(self, text: Text) -> None:
        self.query_one("#fix-status", Static).update(text)

    def _show_prompt(self) -> None:
        st = self.styles_map()
        if self.blocked is not None:
            self._status(Text(self.blocked + ". Nothing can be applied from here.", st["blocked"]))
            return
        t = Text()
        t.append("To apply, type the trail name ")
        t.append(plain(self.trail_name, max_len=120), "bold reverse")
        if self.plan.needs_extra_confirmation:
            t.append(", tick the box (tab)")
        t.append(", then enter or Apply. Esc cancels.")
        if self.typed_ok() and not self.extra_ok():
            t.append("  The extra confirmation is still needed.", st["warntext"])
        self._status(t)

    def _update(self) -> None:
        self.query_one("#fix-apply", Button).disabled = not self.ready()
        if self.record is None:
            self._show_prompt()

    @on(Input.Changed, "#fix-confirm")
    def _typed(self, _: Input.Changed) -> None:
        self._update()

    @on(Checkbox.Changed, "#fix-extra")
    def _ticked(self, _: Checkbox.Changed) -> None:
        self._update()

    @on(Input.Submitted, "#fix-confirm")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.ready():
            self.apply()
        else:
            self.app.bell()
            self._update()

    @on(Button.Pressed, "#fix-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    @on(Button.Pressed, "#fix-apply")
    def _apply_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if self.ready():
            self.apply()

    # ------------------------------------------------------------------ actions

    def action_cancel(self) -> None:
        """Esc / Cancel: close. A running apply continues; the drill-down reports it."""
        self.dismiss(None)

    def apply(self) -> None:
        if not self.ready():  # every path re-checks: the button may be stale
            return
        record = self.app.start_fix(
            self.plan, self.view_id, confirm_extra=self.plan.needs_extra_confirmation
        )
        if record is None:
            return
        self.record = record
        for sel in ("#fix-confirm", "#fix-apply", "#fix-extra"):
            for w in self.query(sel):
                w.disabled = True
        cancel = self.query_one("#fix-cancel", Button)
        cancel.label = "Close"
        cancel.focus()
        self.show_record()

    def show_record(self) -> None:
        """Progress, then the result (literal), then the re-poll's verdict."""
        rec = self.record
        if rec is None:
            return
        st = self.styles_map()
        t = Text()
        if rec.pending:
            t.append(
                f"applying… {plain(rec.plan_id, max_len=80)} (the engine re-polls the view after)",
                st["busy"],
            )
        else:
            t.append(f"{rec.result}: ", st["good"] if rec.result == "applied" else st["bad"])
            t.append(plain(rec.message, max_len=1000))
            if rec.audit_path:
                t.append(f"\naudit: {plain(rec.audit_path, max_len=300)}", "dim")
            t.append(
                "\nEsc or Close returns to the drill-down, which shows whether it cleared.", "dim"
            )
        self._status(t)


def event_renderable(items: Sequence[tuple[str, Any]]) -> RenderableType:
    """(finding code, cause_event) pairs: the summary then the full CloudTrail event JSON."""
    import json

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
