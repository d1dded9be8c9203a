"""The trailtop Textual application: wires a SnapshotSource to the screens.

The engine calls back from its own thread; callbacks only stash the newest snapshot and post
a message, so the UI loop applies at most one snapshot per turn and never waits on the
engine. Snapshots are immutable, so nothing is copied or locked beyond the mailbox slot.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen

from core.engine.protocols import SnapshotSource
from core.model import Snapshot, State
from tui.alerts import build_alerts, transitions
from tui.format import now_utc
from tui.messages import FixDone, SnapshotReady, SourceEvent
from tui.remediation import FixRecord
from tui.rows import COLUMNS, COVERAGE_PREFIX, RowModel, build_models, snapshot_rows
from tui.safe import plain
from tui.screens.drilldown import REMEDIATION_DISABLED, DrilldownScreen
from tui.screens.help import HelpScreen
from tui.screens.overview import OverviewScreen
from tui.screens.remedy import PlanPickerScreen, RemediationScreen
from tui.screens.targets import TargetsScreen

if TYPE_CHECKING:
    from core.fix.model import Plan
from tui.widgets.summary import SweepStatus
from tui.widgets.view_table import ApplyStats

#: How long a changed row keeps its highlight.
HIGHLIGHT_SECONDS = 4.0
#: At most this many toasts on screen at once.
MAX_TOASTS = 4


class TrailtopApp(App[None]):
    """Live CloudTrail delivery health. Public entry: construct with a source and `run()`."""

    CSS_PATH = "trailtop.tcss"
    TITLE = "trailtop"
    ESCAPE_TO_MINIMIZE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("r", "refresh", "Refresh"),
        Binding("t", "targets", "Targets", tooltip="Targets in error, with the reason"),
    ]

    def __init__(
        self,
        source: SnapshotSource,
        *,
        title_hint: str = "",
        bell: bool = False,
        remediation_enabled: bool = False,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        super().__init__()
        self.source = source
        self.title_hint = title_hint
        self.bell_enabled = bell
        self.remediation_enabled = remediation_enabled
        self.clock = clock
        self.snapshot: Snapshot | None = None
        self.models: dict[str, RowModel] = {}
        self.sweep_status = SweepStatus()
        self.snapshots_applied = 0
        self.last_apply_seconds = 0.0
        #: What applying the last snapshot did to the overview table (for tests and tuning).
        self.last_table_stats: ApplyStats | None = None
        self._mailbox: Snapshot | None = None
        self._mailbox_changed: set[str] = set()
        self._mailbox_lock = threading.Lock()
        self._highlight_until: dict[str, float] = {}
        self._stopped = False
        #: The thread asking the source to stop (see `_stop_source`); None until quit.
        self.stop_thread: threading.Thread | None = None
        #: The last fix started per view id (the drill-down reports it; kept for the session).
        self.fix_records: dict[str, FixRecord] = {}
        self._fix_pending: dict[int, FixRecord] = {}
        self._fix_keys = itertools.count(1)

    # ------------------------------------------------------------------ lifecycle

    def get_default_screen(self) -> Screen[None]:
        return OverviewScreen()

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick, name="age-tick")
        self.source.start(self._on_snapshot_thread, self._on_event_thread)

    def on_unmount(self) -> None:
        self._stop_source()

    async def action_quit(self) -> None:
        self._stop_source()
        self.exit()

    def _stop_source(self) -> None:
        """Ask the source to stop without waiting for it on the UI loop.

        `Monitor.stop()` joins the engine thread, which finishes its sweep in flight first
        (seconds on a large estate): done here, `q` would freeze the screen that long. The
        owner of the source (the CLI) joins it again after the app has returned.
        """
        if not self._stopped:
            self._stopped = True
            self.stop_thread = threading.Thread(
                target=self.source.stop, name="trailtop-source-stop", daemon=True
            )
            self.stop_thread.start()

    def now(self) -> datetime:
        return self.clock()

    # ------------------------------------------------------------------ engine thread side

    def _on_snapshot_thread(self, snapshot: Snapshot) -> None:
        """Called on the engine's thread: keep only the newest snapshot, wake the UI loop."""
        with self._mailbox_lock:
            if self._mailbox is not None:
                # Coalescing: keep the change marks of the snapshot we are skipping.
                self._mailbox_changed |= self._mailbox.changed
            self._mailbox = snapshot
        self.post_message(SnapshotReady())

    def _on_event_thread(self, phase: str, detail: str) -> None:
        self.post_message(SourceEvent(phase, detail))

    # ------------------------------------------------------------------ UI loop side

    def _tearing_down(self) -> bool:
        """True once the app is exiting: the engine thread may still post a last message,
        and by then the screens' widgets are being torn down."""
        return self._exit or self._stopped or not self.is_running

    def on_snapshot_ready(self, _: SnapshotReady) -> None:
        if self._tearing_down():
            return
        with self._mailbox_lock:
            snapshot, self._mailbox = self._mailbox, None
            changed, self._mailbox_changed = self._mailbox_changed, set()
        if snapshot is not None:
            self.apply_snapshot(snapshot, extra_changed=changed)

    def on_source_event(self, event: SourceEvent) -> None:
        if self._tearing_down():
            return
        phase = event.phase
        if phase in ("sweep-started", "sweep-start", "refresh-requested"):
            self.sweep_status = SweepStatus(sweeping=True)
        elif phase in ("sweep-finished", "sweep-done", "sweep-completed", "stopped"):
            self.sweep_status = SweepStatus(sweeping=False)
        elif phase.endswith("failed") or phase == "error":
            self.sweep_status = SweepStatus(
                sweeping=False, event=f"{phase}: {event.detail}", failed=True
            )
            self.notify(
                plain(event.detail, max_len=300), title=plain(phase), severity="error", markup=False
            )
        else:
            self.sweep_status = SweepStatus(
                sweeping=self.sweep_status.sweeping, event=f"{phase}: {event.detail}"
            )
        self._refresh_summaries()

    def apply_snapshot(self, snapshot: Snapshot, extra_changed: Iterable[str] = ()) -> None:
        """Install a snapshot: diff the table, refresh open drill-downs, raise alerts."""
        t0 = time.perf_counter()
        before = {rid: m.view.state for rid, m in self.models.items()} if self.snapshot else None
        first = self.snapshot is None
        self.snapshot = snapshot
        # Coverage gaps (regions with no logging trail) are rows too: see tui.rows.CoverageView.
        self.models = build_models(snapshot_rows(snapshot), self.models)
        if not first:
            until = time.monotonic() + HIGHLIGHT_SECONDS
            for rid in (*snapshot.changed, *extra_changed):
                self._highlight_until[rid] = until
            for rid in self.models.keys() - (before or {}).keys():
                if rid.startswith(COVERAGE_PREFIX):  # a new gap: the engine does not mark it
                    self._highlight_until[rid] = until
        if self.sweep_status.sweeping or self.sweep_status.failed:
            self.sweep_status = SweepStatus()
        for screen in self.screen_stack:
            if isinstance(screen, OverviewScreen):
                self.last_table_stats = screen.refresh_rows()
            elif isinstance(screen, DrilldownScreen):
                screen.refresh_view()
            elif isinstance(screen, TargetsScreen):
                screen.refresh_targets()
        self._alert(before)
        self.snapshots_applied += 1
        self.last_apply_seconds = time.perf_counter() - t0

    def _alert(self, before: dict[str, State] | None) -> None:
        failed, recovered = transitions(before, (m.view for m in self.models.values()))
        alerts = build_alerts(failed, recovered)
        if alerts and len(self._notifications) + len(alerts) > MAX_TOASTS:
            # During a storm, newest news wins: a growing stack of toasts costs layout time
            # on every frame and hides the table.
            self.clear_notifications()
        for alert in alerts:
            self.notify(
                alert.message,
                title=alert.title,
                severity=alert.severity,  # type: ignore[arg-type]
                timeout=10 if alert.failing else 6,
                markup=False,
            )
        if failed and self.bell_enabled:
            self.bell()

    def highlighted(self) -> set[str]:
        now = time.monotonic()
        expired = [rid for rid, t in self._highlight_until.items() if t <= now]
        for rid in expired:
            del self._highlight_until[rid]
        return set(self._highlight_until)

    def _tick(self) -> None:
        if self._tearing_down():
            return
        for screen in self.screen_stack:
            if isinstance(screen, OverviewScreen | DrilldownScreen) and screen.is_mounted:
                # Its widgets may be being removed (the screen is closing).
                with contextlib.suppress(NoMatches):
                    screen.tick()

    def _refresh_summaries(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, OverviewScreen) and screen.is_mounted:
                with contextlib.suppress(NoMatches):
                    screen.refresh_summary()

    # ------------------------------------------------------------------ actions

    @property
    def overview(self) -> OverviewScreen:
        return next(s for s in self.screen_stack if isinstance(s, OverviewScreen))

    def open_drilldown(self, view_id: str) -> None:
        self.push_screen(DrilldownScreen(view_id))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_refresh(self) -> None:
        view_id = self.screen.view_id if isinstance(self.screen, DrilldownScreen) else None
        self.source.refresh(view_id)
        self.sweep_status = SweepStatus(sweeping=True, event="refresh requested")
        self._refresh_summaries()

    def action_targets(self) -> None:
        if not isinstance(self.screen, TargetsScreen):
            self.push_screen(TargetsScreen())

    def request_fix(self, view_id: str, plan_ids: tuple[str, ...]) -> None:
        """Open the remediation modal for one of `plan_ids` (a picker first when several)."""
        known = self.snapshot.plans if self.snapshot is not None else {}
        plans = [known[p] for p in plan_ids if p in known]
        if not plans:
            self.notify(
                "No plan of this view is in the current sweep (it may be fixed already); "
                "press r to refresh. Plans: " + ", ".join(plain(p, max_len=80) for p in plan_ids),
                severity="warning",
                markup=False,
            )
            return
        if len(plans) == 1:
            self.open_plan(view_id, plans[0])
            return
        by_id = {p.id: p for p in plans}

        def picked(plan_id: str | None) -> None:
            if plan_id is not None and plan_id in by_id:
                self.open_plan(view_id, by_id[plan_id])

        self.push_screen(PlanPickerScreen(plans), picked)

    def open_plan(self, view_id: str, plan: Plan) -> None:
        model = self.models.get(view_id)
        trail_name = model.view.trail.name if model else plan.view_id.rsplit("/", 1)[-1]
        self.push_screen(
            RemediationScreen(plan, view_id, trail_name, enabled=self.remediation_enabled)
        )

    def start_fix(self, plan: Plan, view_id: str, *, confirm_extra: bool) -> FixRecord | None:
        """Ask the source to apply `plan` (after the modal's confirmation); returns at once.

        The engine calls back from its thread; the answer is posted to the UI loop
        (`FixDone`). Its re-poll arrives as an ordinary snapshot just before.
        """
        apply = getattr(self.source, "apply_plan", None)
        if apply is None:
            self.notify("This source cannot apply plans", severity="error", markup=False)
            return None
        if not self.remediation_enabled:  # the modal's controls are disabled too
            self.notify(REMEDIATION_DISABLED, severity="error", markup=False)
            return None
        key = next(self._fix_keys)
        record = FixRecord(
            plan_id=plan.id,
            view_id=view_id,
            title=plan.title,
            fixes=tuple(plan.fixes or (plan.code,)),
            started_at=self.now(),
            sweep_at_start=self.snapshot.sweep if self.snapshot is not None else 0,
        )
        self.fix_records[view_id] = record
        self._fix_pending[key] = record

        def done(result: Any, snapshot: Any) -> None:  # the engine's thread
            self.post_message(FixDone(key, result, snapshot))

        apply(plan.id, done, confirm_extra=confirm_extra)
        self._refresh_fix_views()
        return record

    def on_fix_done(self, message: FixDone) -> None:
        record = self._fix_pending.pop(message.key, None)
        if record is None:
            return
        snap = message.snapshot if isinstance(message.snapshot, Snapshot) else None
        record.finish(message.result, snap, self.now())
        severity = {"applied": "information", "aborted": "warning"}.get(record.result, "error")
        self.notify(
            plain(record.message, max_len=300) or record.result,
            title=f"Fix {record.result}: {plain(record.plan_id, max_len=60)}",
            severity=severity,  # type: ignore[arg-type]
            timeout=10,
            markup=False,
        )
        self._refresh_fix_views()

    def _refresh_fix_views(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, DrilldownScreen):
                screen.render_fix()
            elif isinstance(screen, RemediationScreen):
                screen.show_record()

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Refresh now", "Ask the engine for a sweep now (r)", self.action_refresh
        )
        yield SystemCommand("Help: key map", "Show keys and legend (?)", self.action_help)
        yield SystemCommand(
            "Targets in error", "Which targets could not be read, and why (t)", self.action_targets
        )
        if isinstance(screen, OverviewScreen):
            ov = screen
            yield SystemCommand(
                "Filter views",
                "Filter by account, profile, region, trail, code (/)",
                ov.action_filter,
            )
            yield SystemCommand("Toggle faults only", "Hide ok views (f)", ov.action_toggle_faults)
            yield SystemCommand(
                "Jump to account or region", "Move the cursor to a match (:)", ov.action_jump
            )
            yield SystemCommand(
                "Drill down", "Details of the view under the cursor (enter)", ov.drill
            )
            yield SystemCommand(
                "Clear filter", "Show every view again (esc)", lambda: ov.set_filter("")
            )
            for i, col in enumerate(COLUMNS):
                yield SystemCommand(
                    f"Sort by {col.label}",
                    f"Sort the table by {col.label}; again to reverse ({i + 1})",
                    lambda key=col.key: ov.sort_toggle(key),
                )
        if isinstance(screen, DrilldownScreen):
            dd = screen
            yield SystemCommand("Back to overview", "Leave the drill-down (esc)", dd.action_back)
            reason = "" if dd.fix_available() else f" — {dd.fix_unavailable_reason()}"
            yield SystemCommand(
                "Fix", f"Review and apply a remediation plan (x){reason}", dd.action_fix
            )
            if dd.cause_events():
                yield SystemCommand(
                    "Culprit event", "The full CloudTrail event (e)", dd.action_cause_event
                )


__all__ = ["REMEDIATION_DISABLED", "TrailtopApp"]
