"""Drill-down for one view, verdict first: the state, the root cause with its evidence,
who broke it and the fix key fill the first screen (80x24 included); the other findings,
an organization trail's coverage (unreachable accounts first, with the reason), the
configuration, the raw status with ages, the per-region grid and, last, the accounts an
organization trail logs (a thousand lines belong below everything else) follow.

Stays live: it listens to the App's snapshot, tick and fix signals, and asks for a fix by
posting `RequestFix`. Every value from AWS goes through `tui.safe` and is rendered as Rich
`Text`, never markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from core.model import Finding, OrgCoverage, Snapshot, State, TrailView
from core.util.times import parse_time
from tui.commands import ScreenCommands
from tui.dialogs.cause_event import CauseEventScreen
from tui.dialogs.copy import CopyScreen, copy_items
from tui.dialogs.mute import RequestMute, muted_text
from tui.format import fmt_age, fmt_time
from tui.layout import segment
from tui.messages import RequestFix
from tui.remediation import FixUpdate, fix_status_text
from tui.rows import STATE_WORD, is_coverage
from tui.safe import plain, safe_text
from tui.screens.coverage_text import (
    coverage_renderable,
    org_summary,
    reachable_lines,
    unreachable_lines,
)
from tui.screens.trail_text import config_renderable, status_renderable
from tui.signals import subscribe
from tui.styles import state_classes, state_styles
from tui.widgets.keybar import KeyBar
from tui.widgets.lines import LinesView
from tui.widgets.summary import ARMED, ARMED_SHORT, Bar

if TYPE_CHECKING:
    from tui.app import TrailtopApp

EVIDENCE_MAX = 20_000
REMEDIATION_DISABLED = "remediation disabled"


def evidence_text(evidence: Mapping[str, Any]) -> Text:
    try:
        dumped = json.dumps(
            dict(evidence), indent=2, sort_keys=True, default=str, ensure_ascii=False
        )
    except (TypeError, ValueError):
        dumped = repr(evidence)
    return safe_text(dumped, max_len=EVIDENCE_MAX, multiline=True, end="\n")


#: State name -> Rich style, resolved by the screen through `tui.styles`.
Palette = Mapping[str, Style]


def culprit_text(ce: Mapping[str, Any], now: datetime | None = None) -> Text:
    """The "Who broke it" line of a finding's `cause_event`: every value literal.

    Dimmed and labelled when the event happened before a delivery that still worked, or
    the match is weak: it may be context rather than the cause.
    """
    before = bool(ce.get("before_last_delivery"))
    low = str(ce.get("confidence", "")).lower() == "low"
    weak = before or low
    base = "dim" if weak else ""
    t = Text(style=base)
    t.append("Who broke it: ", "bold")
    t.append(plain(ce.get("event_name") or "?", max_len=80), "bold")
    actor = ce.get("actor") or ce.get("caller_arn") or "unknown actor"
    t.append(" by ")
    t.append(plain(actor, max_len=200), "bold")
    when = parse_time(ce.get("event_time"))
    if when is not None:
        t.append(f" at {fmt_time(when)}")
        if now is not None:
            t.append(f" ({fmt_age(when, now)} ago)")
    elif ce.get("event_time"):
        t.append(" at " + plain(ce.get("event_time"), max_len=40))
    if before:
        t.append("  (before a good delivery)", "italic")
    elif low:
        t.append("  (low confidence)", "italic")
    detail = []
    if ce.get("timing"):
        detail.append(plain(ce["timing"], max_len=200))
    if ce.get("confidence"):
        detail.append("confidence " + plain(ce["confidence"], max_len=20))
    if detail:
        t.append("\n  " + "; ".join(detail))
    t.append("\n  source IP " + (plain(ce.get("source_ip"), max_len=80) or "-"))
    t.append(" · user agent " + (plain(ce.get("user_agent"), max_len=200) or "-"))
    t.append("\n  e: the full event", "dim italic")
    return t


def _finding_head(f: Finding, palette: Palette | None, label: str = "") -> Text:
    muted = f.muted is not None
    head = Text(style="dim" if muted else "")
    if label:
        head.append(label + ": ", "bold")
    sev_style = Style(dim=True) if muted else _color(palette, f.state.value)
    head.append(f"[{f.severity.value.upper()}] ", style=sev_style)
    head.append(plain(f.code, max_len=80), style="bold")
    head.append(f"  ({plain(f.channel.value)})", style="dim")
    if muted:
        head.append("  MUTED", "bold")
    return head


def finding_renderable(
    f: Finding,
    remediation_enabled: bool,
    palette: Palette | None = None,
    now: datetime | None = None,
) -> RenderableType:
    """One finding in full (the findings after the root cause, in "Also reported")."""
    parts: list[RenderableType] = [_finding_head(f, palette)]
    if f.muted is not None:
        parts.append(muted_text(f.muted))
    parts.append(safe_text(f.message, max_len=1000, end="\n", style="dim" if f.muted else ""))
    if f.evidence:
        parts.append(Text("evidence:", style="bold dim"))
        parts.append(evidence_text(f.evidence))
    if f.remediation:
        parts.append(Text("what to do:", style="bold dim"))
        parts.append(safe_text(f.remediation, max_len=4000, multiline=True, end="\n"))
    if f.plan_ids:
        fixes = ", ".join(plain(p, max_len=80) for p in f.plan_ids)
        suffix = " (x reviews it)" if remediation_enabled else " (read-only; x shows the plan)"
        parts.append(Text("plans: " + fixes + suffix, style="italic"))
    if f.cause_event:
        parts.append(culprit_text(f.cause_event, now))
    parts.append(Text(""))
    return Group(*parts)


def fix_text(plan_ids: list[str], plans: Mapping[str, Any], enabled: bool) -> Text:
    """The fix key of the verdict: which plan `x` opens, and whether it can write."""
    t = Text()
    t.append("Fix: ", "bold")
    if not plan_ids:
        t.append("no automatic plan for these findings (see what to do)", "dim")
        return t
    t.append("x", "bold reverse")
    if len(plan_ids) == 1:
        pid = plan_ids[0]
        t.append(f" reviews plan {plain(pid, max_len=80)}")
        plan = plans.get(pid)
        title = getattr(plan, "title", "")
        if title:
            t.append(": " + plain(title, max_len=200))
    else:
        ids = ", ".join(plain(p, max_len=80) for p in plan_ids)
        t.append(f" chooses among {len(plan_ids)} plans: {ids}")
    if enabled:
        t.append(
            "\n  writes armed: in the plan, type the trail name and press Enter to apply", "bold"
        )
    else:
        t.append(
            "\n  read-only: remediation is off (--allow-remediation or remediation.enabled)", "dim"
        )
    return t


def _deliveries(view: TrailView, now: datetime) -> Text:
    status = view.status or {}
    s3 = parse_time(status.get("LatestDeliveryTime"))
    cw = parse_time(status.get("LatestCloudWatchLogsDeliveryTime"))
    t = Text(style="dim")
    t.append("last S3 delivery " + (f"{fmt_age(s3, now)} ago" if s3 else "never"))
    if view.trail.log_group_arn:
        t.append(" · CloudWatch Logs " + (f"{fmt_age(cw, now)} ago" if cw else "never"))
    return t


def verdict_renderable(
    view: TrailView,
    *,
    plan_ids: list[str],
    plans: Mapping[str, Any],
    remediation_enabled: bool,
    palette: Palette | None = None,
    now: datetime | None = None,
) -> RenderableType:
    """The first screen of the drill-down: the state's reason, the root cause with its
    evidence, who broke it, and the fix key."""
    top = view.top_finding
    when = now or view.status_at
    if top is None or view.state is State.OK:
        t = Text()
        if top is not None and all(f.muted is not None for f in view.findings):
            # Not "delivering": a muted finding may well be a broken trail, accepted.
            t.append("Muted: ", "bold")
            t.append(f"every finding ({len(view.findings)}) is muted; none counts.")
        else:
            t.append("Delivering: ", _color(palette, "ok"))
            t.append("nothing wrong found." if top is None else "nothing blocks delivery.")
        parts: list[RenderableType] = [t]
        if when is not None and view.status:
            parts.append(_deliveries(view, when))
        if top is not None:
            parts.append(Text("Posture notes below (Also reported).", "dim"))
        if view.org_coverage is not None:
            parts.append(org_summary(view.org_coverage))
        return Group(*parts)
    label = {State.UNKNOWN: "Cannot tell"}.get(view.state, "Root cause")
    if is_coverage(view):
        label = "Not recorded"
    parts = [_finding_head(top, palette, label), safe_text(top.message, max_len=1000, end="\n")]
    if top.cause_event:
        parts.append(culprit_text(top.cause_event, now))
    elif view.state is not State.UNKNOWN:
        parts.append(
            Text("Who broke it: not known (no matching change in CloudTrail Event history)", "dim")
        )
    parts.append(fix_text(plan_ids, plans, remediation_enabled))
    if top.remediation:
        what = Text()
        what.append("What to do: ", "bold")
        what.append(plain(top.remediation, max_len=4000, multiline=True))
        parts.append(what)
    if top.evidence:
        parts.append(Text("Evidence:", "bold"))
        parts.append(evidence_text(top.evidence))
    if view.org_coverage is not None:
        parts.append(org_summary(view.org_coverage))
    parts.append(Text("c copies the ARN, a plan id or a command", "dim italic"))
    return Group(*parts)


def _color(palette: Palette | None, name: str) -> Style:
    return (palette or {}).get(name, Style(bold=True))


def regions_renderable(
    view: TrailView, snapshot: Snapshot | None, palette: Palette | None = None
) -> RenderableType | None:
    """Per-region states of a multi-region trail as seen from the same account."""
    if not view.trail.multi_region or snapshot is None:
        return None
    siblings = sorted(
        (
            v
            for v in snapshot.views
            if v.key.trail_arn == view.key.trail_arn and v.key.account_id == view.key.account_id
        ),
        key=lambda v: v.key.region,
    )
    if not siblings:
        return None
    cols = 4
    grid = Table.grid(padding=(0, 3))
    for _ in range(cols):
        grid.add_column(no_wrap=True)
    cells = []
    for v in siblings:
        cell = Text()
        cell.append(plain(v.key.region, max_len=20).ljust(15))
        cell.append(STATE_WORD[v.state], style=_color(palette, v.state.value))
        if v.id == view.id:
            cell.append(" <", style="bold")
        cells.append(cell)
    for i in range(0, len(cells), cols):
        grid.add_row(*cells[i : i + cols])
    return grid


class DrilldownScreen(Screen[None]):
    COMMANDS = {ScreenCommands}
    COMPONENT_CLASSES: ClassVar[set[str]] = state_classes("drill") | {"drill--armed"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("x", "fix", "Fix", tooltip="Review (and apply) a remediation plan"),
        Binding("e", "cause_event", "Culprit", tooltip="Who broke it: the full CloudTrail event"),
        Binding("c", "copy", "Copy", tooltip="Copy the ARN, a plan id or a command (OSC 52)"),
        Binding("m", "mute", "Mute", tooltip="Mute a finding: reason and duration"),
    ]

    app: TrailtopApp

    def __init__(self, view_id: str) -> None:
        super().__init__(classes="drilldown")
        self.view_id = view_id
        self.view: TrailView | None = None
        self.gone = False
        #: The coverage shown now (re-rendered only when it changes: it may be long).
        self._coverage: OrgCoverage | None = None
        self._coverage_drawn = False

    def compose(self) -> ComposeResult:
        yield Bar(id="dd-title")
        with VerticalScroll(id="dd-body"):
            yield Static("Remediation", classes="dd-heading", id="dd-fix-heading", markup=False)
            yield Static("", id="dd-fix", markup=False)
            yield Static("", id="dd-verdict", markup=False)
            yield Static(
                "Also reported", classes="dd-heading", id="dd-findings-heading", markup=False
            )
            yield Static("", id="dd-findings", markup=False)
            yield Static("Coverage", classes="dd-heading", id="dd-coverage-heading", markup=False)
            yield Static("", id="dd-coverage", markup=False)
            yield LinesView(id="dd-unreachable")
            yield Static("Configuration", classes="dd-heading", markup=False)
            yield Static("", id="dd-config", markup=False)
            yield Static("GetTrailStatus", classes="dd-heading", markup=False)
            yield Static("", id="dd-status", markup=False)
            yield Static(
                "Regions of this trail", classes="dd-heading", id="dd-regions-heading", markup=False
            )
            yield Static("", id="dd-regions", markup=False)
            yield Static(
                "Accounts logged", classes="dd-heading", id="dd-accounts-heading", markup=False
            )
            yield LinesView(id="dd-accounts")
        yield KeyBar()

    def on_mount(self) -> None:
        app = self.app
        subscribe(self, app.snapshot_signal, self._on_snapshot)
        subscribe(self, app.tick_signal, self.tick)
        subscribe(self, app.fix_signal, self._fix_update)
        self.refresh_view()
        self.render_fix()
        self.query_one("#dd-body").focus()

    def _on_snapshot(self, _snapshot: object) -> None:
        if self._shown():
            self.refresh_view()

    def _shown(self) -> bool:
        """On the app's screen stack (a modal over it included). The app keeps one
        drill-down and shows it again for the next view (composing and styling a new one
        is most of the cost of opening it): while it is off the stack it follows nothing."""
        return self in self.app.screen_stack

    def show(self, view_id: str) -> None:
        """Show another view (or the same one afresh), from the top, before being pushed."""
        self.view_id = view_id
        self.view = None
        self.gone = False
        self._coverage, self._coverage_drawn = None, False
        if not self.is_mounted:
            return  # on_mount renders it
        self.query_one("#dd-body", VerticalScroll).scroll_home(animate=False, immediate=True)
        self.refresh_view()
        self.render_fix()
        self.query_one("#dd-body").focus()

    def palette(self) -> dict[str, Style]:
        return state_styles(self, "drill")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None: shown greyed in the footer (visible but disabled); the key still explains.
        if action == "fix":
            return True if self.fix_available() else None
        if action == "cause_event":
            return True if self.cause_events() else None
        return True

    def plan_ids(self) -> list[str]:
        """The plans of this view's findings, in finding order, each once."""
        out: list[str] = []
        for f in self.view.findings if self.view else ():
            out += [p for p in f.plan_ids if p not in out]
        return out

    def fix_available(self) -> bool:
        return self.app.remediation_enabled and bool(self.plan_ids())

    def fix_unavailable_reason(self) -> str:
        if not self.plan_ids():
            return "no remediation plan for this view's findings"
        return REMEDIATION_DISABLED + " (the plan opens read-only)"

    def cause_events(self) -> list[tuple[str, Mapping[str, Any]]]:
        return [
            (f.code, f.cause_event)
            for f in (self.view.findings if self.view else ())
            if f.cause_event
        ]

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_fix(self) -> None:
        """Open the remediation modal (read-only when remediation is disabled)."""
        plans = self.plan_ids()
        if not plans:
            self.app.notify(f"Fix unavailable: {self.fix_unavailable_reason()}", markup=False)
            return
        self.post_message(RequestFix(self.view_id, tuple(plans)))

    def action_cause_event(self) -> None:
        items = self.cause_events()
        if not items:
            self.app.notify("No culprit event is known for this view's findings", markup=False)
            return
        self.app.push_screen(CauseEventScreen(items))

    def action_copy(self) -> None:
        """Pick the ARN, a plan id or a command to copy (OSC 52, so it works over SSH)."""
        if self.view is None:
            return
        snapshot = self.app.snapshot
        items = copy_items(self.view, self.plan_ids(), snapshot.plans if snapshot else {})
        if not items:
            self.app.notify("Nothing to copy for this view", markup=False)
            return
        self.app.push_screen(CopyScreen(items))

    def action_mute(self) -> None:
        """Mute a finding of this view, the top one proposed first."""
        if self.view is None or not self.view.findings:
            self.app.notify("Nothing to mute: this view has no finding", markup=False)
            return
        self.post_message(RequestMute(self.view_id, tuple(f.code for f in self.view.findings)))

    def on_key(self, event: events.Key) -> None:
        # A disabled binding swallows nothing: run the action anyway, it explains itself
        # (and `x` still shows a plan read-only when remediation is off).
        if event.key == "x" and not self.fix_available():
            event.stop()
            self.action_fix()
        elif event.key == "e" and not self.cause_events():
            event.stop()
            self.action_cause_event()

    def palette_commands(self) -> Iterable[SystemCommand]:
        """This screen's entries in the command palette (see tui.commands)."""
        yield SystemCommand("Back to overview", "Leave the drill-down (esc)", self.action_back)
        reason = "" if self.fix_available() else f" — {self.fix_unavailable_reason()}"
        yield SystemCommand(
            "Fix", f"Review and apply a remediation plan (x){reason}", self.action_fix
        )
        yield SystemCommand(
            "Copy to clipboard", "The ARN, a plan id or a command, via OSC 52 (c)", self.action_copy
        )
        yield SystemCommand(
            "Mute finding", "Mute a finding of this view: reason, duration (m)", self.action_mute
        )
        if self.cause_events():
            yield SystemCommand(
                "Culprit event", "The full CloudTrail event (e)", self.action_cause_event
            )

    def refresh_view(self) -> None:
        """Re-render from the app's latest snapshot (no-op when this view did not change)."""
        model = self.app.models.get(self.view_id)
        if model is None:
            if self.view is not None and not self.gone:
                self.gone = True
                self._render_title()
            return
        self.gone = False
        if model.view is self.view:
            self._render_regions()
            self.render_fix()
            return
        self.view = model.view
        self._render_all()
        self.refresh_bindings()

    def tick(self, now: datetime) -> None:
        """Ages each second."""
        if self.view is None or not self._shown():  # never in a snapshot, or put away
            return
        self.query_one("#dd-status", Static).update(status_renderable(self.view, now))
        self._render_findings()  # the culprit's and the deliveries' ages
        self.render_fix()

    def _fix_update(self, update: FixUpdate) -> None:
        if update.view_id == self.view_id and self._shown():
            self.render_fix()

    def render_fix(self) -> None:
        """The last fix started from here: applying…, its result, cleared or still reported."""
        if self.view is None:  # the view never was in a snapshot
            return
        record = self.app.fix_records.get(self.view_id)
        shown = record is not None
        self.query_one("#dd-fix").display = shown
        self.query_one("#dd-fix-heading").display = shown
        if record is None:
            return
        pal = self.palette()
        styles = {
            "good": pal["ok"],
            "bad": pal["failing"],
            "warn": pal["warning"],
            "busy": pal["unknown"],
        }
        self.query_one("#dd-fix", Static).update(
            fix_status_text(record, self.view, self.app.snapshot, self.app.now(), styles)
        )

    def _render_title(self) -> None:
        v = self.view
        if v is None:
            return
        badge = Text(
            f" {STATE_WORD[v.state]} ", style=self.palette()[v.state.value] + Style(reverse=True)
        )
        where = Text()
        where.append(plain(v.account_label, max_len=40), style="bold")
        where.append(" / " + plain(v.key.region, max_len=30) + " / ")
        where.append(plain(v.trail.name, max_len=80), style="bold")
        short = Text(plain(v.key.region, max_len=30) + " / ")
        short.append(plain(v.trail.name, max_len=80), style="bold")
        segs = [segment(0, badge), segment(2, where, short)]
        if v.stale:
            segs.append(segment(3, Text("STALE", "dim"), droppable=True))
        if self.gone:
            segs.append(
                segment(
                    1,
                    Text("(gone from the latest sweep; showing last known data)", "italic"),
                    Text("(gone; last known data)", "italic"),
                )
            )
        if self.app.remediation_enabled:
            armed = self.get_component_rich_style("drill--armed")
            segs.append(segment(1, Text(f" {ARMED} ", armed), Text(ARMED_SHORT, armed)))
        self.query_one("#dd-title", Bar).show(segs)

    def _render_regions(self) -> None:
        if self.view is None:
            return
        grid = regions_renderable(self.view, self.app.snapshot, self.palette())
        self.query_one("#dd-regions", Static).update(grid if grid is not None else Text(""))
        self.query_one("#dd-regions").display = grid is not None
        self.query_one("#dd-regions-heading").display = grid is not None

    def _render_all(self) -> None:
        v = self.view
        if v is None:
            return
        self._render_title()
        self.query_one("#dd-config", Static).update(config_renderable(v))
        self.query_one("#dd-status", Static).update(status_renderable(v, self.app.now()))
        self._render_findings()
        self._render_regions()
        self._render_coverage()
        self.render_fix()

    def _render_coverage(self) -> None:
        """An organization trail's accounts: unreachable ones near the top, the long list of
        reachable ones last. Skipped when the coverage is the one already shown."""
        cov = self.view.org_coverage if self.view is not None else None
        if self._coverage_drawn and (cov is self._coverage or cov == self._coverage):
            return
        self._coverage, self._coverage_drawn = cov, True
        for node in (
            "#dd-coverage-heading",
            "#dd-coverage",
            "#dd-unreachable",
            "#dd-accounts-heading",
            "#dd-accounts",
        ):
            self.query_one(node).display = cov is not None
        unreachable = self.query_one("#dd-unreachable", LinesView)
        accounts = self.query_one("#dd-accounts", LinesView)
        if cov is None:
            unreachable.set_lines([])
            accounts.set_lines([])
            return
        reachable = cov.covered - len(cov.unreachable)
        pal = self.palette()
        self.query_one("#dd-coverage", Static).update(
            coverage_renderable(cov, _color(pal, "unknown"))
        )
        unreachable.set_lines(unreachable_lines(cov, pal["unknown"]))
        self.query_one("#dd-accounts-heading", Static).update(
            f"Accounts logged and reachable ({reachable})"
        )
        accounts.set_lines(reachable_lines(cov))

    def _render_findings(self) -> None:
        """The verdict (the top finding, unless the view is ok), then every other finding."""
        v = self.view
        if v is None:
            return
        pal, now = self.palette(), self.app.now()
        snapshot = self.app.snapshot
        enabled = self.app.remediation_enabled
        self.query_one("#dd-verdict", Static).update(
            verdict_renderable(
                v,
                plan_ids=self.plan_ids(),
                plans=snapshot.plans if snapshot is not None else {},
                remediation_enabled=enabled,
                palette=pal,
                now=now,
            )
        )
        rest = v.findings if v.state is State.OK else v.findings[1:]
        self.query_one("#dd-findings-heading").display = bool(rest)
        self.query_one("#dd-findings").display = bool(rest)
        self.query_one("#dd-findings", Static).update(
            Group(*(finding_renderable(f, enabled, pal, now) for f in rest)) if rest else Text("")
        )
