"""The remediation dialog: one plan in full, and a deliberately awkward way to say yes.

Everything shown comes from a `core.fix.model.Plan`, whose text is built from AWS documents
(bucket/key/topic policies): untrusted. It is rendered as Rich `Text` through `tui.safe`,
never as markup; the diff is coloured per line with Text styles from `trailtop.tcss`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Static

from core.fix.model import APPLIED, Plan
from tui.messages import ApplyFix
from tui.remediation import DISABLED_HINT, FixRecord, FixUpdate, outcome_text
from tui.safe import plain
from tui.signals import subscribe

if TYPE_CHECKING:
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


class RemediationScreen(ModalScreen[None]):
    """One plan, in full, with a deliberate way to say yes.

    Confirmation design: with writes armed, the **confirmation field has the keyboard** when
    the modal opens, and the line above it spells the keys out: type the trail's name, then
    Enter. Like GitHub's "type the repository name to delete it", a typed name defeats
    muscle memory (a single `y` is one stray key away from the navigation keys and can be
    hit by a key-repeat or a paste) and makes the operator read *which* trail the change is
    for (the view list holds many look-alike trails across accounts). Enter on an empty or
    wrong name writes nothing and says why; Esc cancels at any time. Plans that need extra
    confirmation (e.g. changing an explicit Deny) add a **second deliberate step**: a
    checkbox, reached with Tab and ticked with Space, stating that the highlighted warning
    was read; only then is `confirm_extra` passed to the engine (which refuses the plan
    otherwise). With remediation disabled, or for a plan with unbound parameters
    (`trail-retarget` needs `${bucket}`: choosing where audit logs go is done with
    `trailtop fix PLAN_ID --set bucket=...`), the plan is shown read-only with the reason,
    and there is no field and no Apply button at all: nothing to type into by mistake.

    Applying posts `ApplyFix` to the App, which answers on its `fix_signal`: the record of
    the apply (then its progress and result), or None when it refused to start it.
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
        "fix--armed",
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
        #: ApplyFix is posted and the App has not answered yet (no second apply meanwhile).
        self.asked = False
        #: Why the last Enter applied nothing (shown until the next key in the field).
        self.refusal = ""

    def styles_map(self) -> Styles:
        names = (
            "add", "del", "hunk", "file", "warn", "warntext", "blocked", "good", "bad", "busy",
            "armed",
        )  # fmt: skip
        return {n: self.get_component_rich_style(f"fix--{n}", partial=True) for n in names}

    def compose(self) -> ComposeResult:
        # Its own footer: the keys of the screen below do not work here.
        yield Footer(compact=True, show_command_palette=False)
        with Vertical(id="fix-dialog", classes="dialog"):
            yield Static("", id="fix-title", classes="dialog-title", markup=False)
            with VerticalScroll(id="fix-body"):
                yield Static("", id="fix-plan", markup=False)
            with Vertical(id="fix-controls"):
                yield Static("", id="fix-status", markup=False)
                if self.blocked is None:
                    yield Input(
                        placeholder=f"type {plain(self.trail_name, max_len=60)} here, then enter",
                        id="fix-confirm",
                        compact=True,
                    )
                    if self.plan.needs_extra_confirmation:
                        yield Checkbox(
                            "I have read the warning above and want this change anyway",
                            id="fix-extra",
                            compact=True,
                        )
                with Horizontal(id="fix-buttons"):
                    if self.blocked is None:
                        yield Button(
                            "Apply", id="fix-apply", variant="error", disabled=True, compact=True
                        )
                    yield Button(
                        "Cancel" if self.blocked is None else "Close",
                        id="fix-cancel",
                        variant="primary",
                        compact=True,
                    )

    def on_mount(self) -> None:
        subscribe(self, self.app.fix_signal, self._fix_update)
        st = self.styles_map()
        title = Text("Fix: review the change", "bold")
        if self.blocked is None:
            title.append("   ")
            title.append(" WRITES ARMED ", st["armed"])
        else:
            title.append("   read-only", st["blocked"])
        title.append("   esc closes", "dim")
        self.query_one("#fix-title", Static).update(title)
        self.query_one("#fix-plan", Static).update(
            plan_renderable(self.plan, self.trail_name, self.enabled, st)
        )
        self._show_prompt()
        if self.blocked is None:
            self.query_one("#fix-confirm", Input).focus()
        else:
            self.query_one("#fix-cancel", Button).focus()

    # ------------------------------------------------------------------ state

    def typed(self) -> str:
        if self.blocked is not None:
            return ""
        return self.query_one("#fix-confirm", Input).value.strip()

    def typed_ok(self) -> bool:
        typed = self.typed()
        return bool(typed) and typed in (self.trail_name, plain(self.trail_name))

    def extra_ok(self) -> bool:
        if not self.plan.needs_extra_confirmation or self.blocked is not None:
            return True
        return self.query_one("#fix-extra", Checkbox).value

    def ready(self) -> bool:
        if self.blocked is not None or self.record is not None or self.asked:
            return False
        return self.typed_ok() and self.extra_ok()

    def why_not(self) -> str:
        """Why Enter would apply nothing now, in words that say what to do instead."""
        name = plain(self.trail_name, max_len=120)
        if self.blocked is not None:
            return f"{self.blocked}. Nothing can be applied from here."
        typed = self.typed()
        if not typed:
            return f"Nothing typed yet: type {name}, then Enter."
        if not self.typed_ok():
            return f"{plain(typed, max_len=60)!r} is not the trail name: type {name} exactly."
        if not self.extra_ok():
            return "The extra confirmation is still needed: Tab to the box, Space to tick it."
        return ""

    def _status(self, text: Text) -> None:
        self.query_one("#fix-status", Static).update(text)

    def _show_prompt(self) -> None:
        st = self.styles_map()
        if self.blocked is not None:
            self._status(Text(self.why_not(), st["blocked"]))
            return
        t = Text()
        if self.refusal:
            t.append(self.refusal + "\n", st["warntext"])
        t.append("To apply: type the trail name ")
        t.append(plain(self.trail_name, max_len=120), "bold reverse")
        if self.plan.needs_extra_confirmation:
            t.append(", Tab to the box, Space to tick it")
        t.append(", then Enter. Esc cancels.")
        self._status(t)

    def _update(self) -> None:
        if self.blocked is not None:
            return
        self.query_one("#fix-apply", Button).disabled = not self.ready()
        if self.record is None:
            self._show_prompt()

    @on(Input.Changed, "#fix-confirm")
    def _typed(self, _: Input.Changed) -> None:
        self.refusal = ""
        self._update()

    @on(Checkbox.Changed, "#fix-extra")
    def _ticked(self, _: Checkbox.Changed) -> None:
        self.refusal = ""
        self._update()
        if self.ready():
            # Enter on a checkbox would untick it again: the next Enter presses Apply.
            self.query_one("#fix-apply", Button).focus()

    @on(Input.Submitted, "#fix-confirm")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.ready():
            self.apply()
            return
        self.refusal = self.why_not()
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
        self.asked = True
        self._update()
        self.post_message(
            ApplyFix(self.plan, self.view_id, confirm_extra=self.plan.needs_extra_confirmation)
        )

    def _fix_update(self, update: FixUpdate) -> None:
        """The App's answer to our ApplyFix, then the progress of that apply."""
        if self.record is not None:
            if update.record is self.record:
                self.show_record()
            return
        if not self.asked or (update.view_id, update.plan_id) != (self.view_id, self.plan.id):
            return
        self.asked = False
        if update.record is None:  # refused before it started (a toast says why)
            self._update()
            return
        self.record = update.record
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
            t.append_text(
                outcome_text(
                    rec.result, rec.message, st["good"] if rec.result == APPLIED else st["bad"]
                )
            )
            if rec.audit_path:
                t.append(f"\naudit: {plain(rec.audit_path, max_len=300)}", "dim")
            t.append(
                "\nEsc or Close returns to the drill-down, which shows whether it cleared.", "dim"
            )
        self._status(t)
