"""The trailtop Textual application: wires a SnapshotSource to the screens.

The engine calls back from its own thread; callbacks only stash the newest snapshot and post
a message, so the UI loop applies at most one snapshot per turn and never waits on the
engine. Snapshots are immutable, so nothing is copied or locked beyond the mailbox slot.

The App owns the data (snapshot, row models, sweep status, fixes) and publishes a signal
when it changes; each screen subscribes to what it shows. Screens ask for things by posting
intent messages (`tui.messages`), never by calling the App.
"""

from __future__ import annotations

import gc
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.signal import Signal
from textual.widgets import Input

from core.engine.protocols import Phase, RemediatingSource, SnapshotSource
from core.fix.model import ApplyResult, Plan
from core.model import Snapshot, State
from core.mute import Mute, add_mute, mute_for
from core.util.times import utcnow
from tui.alerts import build_alerts, transitions
from tui.dialogs.mute import MuteChoice, MuteScreen, MuteWritten, RequestMute
from tui.dialogs.plan_picker import PlanPickerScreen
from tui.dialogs.remediation import RemediationScreen
from tui.format import fmt_time
from tui.messages import (
    ApplyFix,
    FixDone,
    OpenDrilldown,
    RequestFix,
    SnapshotReady,
    SourceEvent,
)
from tui.remediation import FixRecord, FixUpdate, outcome_words
from tui.rows import COVERAGE_PREFIX, RowModel, build_models, snapshot_rows
from tui.safe import plain
from tui.screens.drilldown import REMEDIATION_DISABLED, DrilldownScreen
from tui.screens.help import HelpScreen
from tui.screens.overview import OverviewScreen
from tui.screens.targets import TargetsScreen
from tui.widgets.summary import SweepStatus
from tui.widgets.view_table import ApplyStats

#: The name the kept drill-down screen is installed under.
DRILLDOWN_SCREEN = "drilldown"
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
        Binding("r", "refresh", "Refresh"),
        Binding("t", "targets", "Targets", tooltip="Targets in error, with the reason"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        # A watcher quits on Ctrl+C like top and k9s (Textual's default only says how to
        # quit). In a text field Ctrl+C stays "copy": the field's binding comes first.
        Binding("ctrl+c", "quit", "Quit", show=False, system=True),
    ]
    #: App keys hidden from the footer while a text field has the keyboard (they would type).
    TYPING_HIDES = frozenset({"refresh", "targets", "help", "quit"})

    def __init__(
        self,
        source: SnapshotSource,
        *,
        title_hint: str = "",
        bell: bool = False,
        remediation_enabled: bool = False,
        clock: Callable[[], datetime] = utcnow,
        mute_file: Path | None = None,
    ) -> None:
        super().__init__()
        #: Where `m` writes mutes (`core.mute.mute_file_path(settings)`; None: muting off).
        self.mute_file = mute_file
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
        #: A snapshot was applied (`snapshot` and `models` are the new ones).
        self.snapshot_signal: Signal[Snapshot] = Signal(self, "snapshot")
        #: A second passed: ages and highlights move on (the data is `now()`).
        self.tick_signal: Signal[datetime] = Signal(self, "tick")
        #: The engine's sweep status changed (`sweep_status`).
        self.status_signal: Signal[SweepStatus] = Signal(self, "status")
        #: A fix was started, refused or finished.
        self.fix_signal: Signal[FixUpdate] = Signal(self, "fix")
        self._mailbox: Snapshot | None = None
        self._mailbox_changed: set[str] = set()
        self._mailbox_lock = threading.Lock()
        #: A full collection is due after the snapshot just applied (see `apply_snapshot`).
        self._collect_pending = False
        self._highlight_until: dict[str, float] = {}
        self._stopped = False
        #: The thread asking the source to stop (see `_stop_source`); None until quit.
        self.stop_thread: threading.Thread | None = None
        #: The last fix started per view id (the drill-down reports it; kept for the session).
        self.fix_records: dict[str, FixRecord] = {}
        #: The drill-down screen, kept and shown again for each view (`open_drilldown`).
        self._drilldown: DrilldownScreen | None = None
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
        if self._collect_pending:  # the app ends before its collection ran
            self._collect_pending = False
            gc.enable()

    async def action_quit(self) -> None:
        self._stop_source()
        self.exit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in self.TYPING_HIDES and isinstance(self.focused, Input))

    def copy_text(self, what: str, value: str) -> None:
        """Put `value` on the clipboard through the terminal (OSC 52: works over SSH).

        The value is the sanitised form (`plain`): an ARN or a command read from AWS never
        carries a control character into a paste buffer.
        """
        text = plain(value, max_len=20_000, multiline=True)
        self.copy_to_clipboard(text)
        self.notify(
            f"{text[:200]}\n(OSC 52: the terminal must allow clipboard writes; "
            "tmux needs set-clipboard on)",
            title=f"Copied {what}",
            timeout=6,
            markup=False,
        )

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

    @property
    def overview(self) -> OverviewScreen:
        return next(s for s in self.screen_stack if isinstance(s, OverviewScreen))

    @property
    def last_table_stats(self) -> ApplyStats | None:
        """What applying the last snapshot did to the overview table (for tests and tuning)."""
        return self.overview.snapshot_stats

    # ------------------------------------------------------------------ engine thread side

    def _on_snapshot_thread(self, snapshot: Snapshot) -> None:
        """Called on the engine's thread: keep only the newest snapshot, wake the UI loop."""
        with self._mailbox_lock:
            if self._mailbox is not None:
                # Coalescing: keep the change marks of the snapshot we are skipping.
                self._mailbox_changed |= self._mailbox.changed
            self._mailbox = snapshot
        self.post_message(SnapshotReady())

    def _on_event_thread(self, phase: Phase, detail: str) -> None:
        self.post_message(SourceEvent(phase, detail))

    def _on_apply_thread(self, key: int) -> Callable[[ApplyResult | None, Snapshot | None], None]:
        def done(result: ApplyResult | None, snapshot: Snapshot | None) -> None:
            self.post_message(FixDone(key, result, snapshot))

        return done

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
        match event.phase:
            case Phase.SWEEP_STARTED:
                self.sweep_status = SweepStatus(sweeping=True, progress=event.detail)
            case Phase.SWEEP_FINISHED:
                self.sweep_status = SweepStatus(sweeping=False)
            case Phase.SWEEP_FAILED | Phase.CALLBACK_FAILED:
                self.sweep_status = SweepStatus(
                    sweeping=False, event=f"{event.phase}: {event.detail}", failed=True
                )
                self.notify(
                    plain(event.detail, max_len=300),
                    title=plain(event.phase),
                    severity="error",
                    markup=False,
                )
            case _:
                # Any other phase is the engine's word on the sweep in flight
                # (e.g. "3 of 16 targets"): shown as its progress.
                self.sweep_status = SweepStatus(sweeping=True, progress=event.detail)
        self.status_signal.publish(self.sweep_status)

    def apply_snapshot(self, snapshot: Snapshot, extra_changed: Iterable[str] = ()) -> None:
        """Install a snapshot: rebuild the row models, let the screens update, raise alerts.

        No garbage collection runs in the middle of it. Applying one allocates tens of
        thousands of objects that live until the next snapshot; left to the collector, they
        trigger a full collection at some later allocation, most likely while a key is
        handled (100-300 ms at 1,700 rows). Instead the collector is off while applying and
        one full collection runs on the loop's next turn, on its own (`_collect`).
        """
        settling = not snapshot.partial and (self.snapshot is None or self.snapshot.partial)
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._apply_snapshot(snapshot, extra_changed)
        finally:
            if settling:
                # Once, for the first complete snapshot: what exists now (Textual, the
                # screens, the first rows) lives as long as the app, so it is frozen and
                # the collector's full passes need not walk it again. Only these objects
                # are frozen, once: later garbage is collected as usual, so nothing grows
                # with weeks of sweeps.
                gc.freeze()
                if enabled:
                    gc.enable()
            elif enabled and snapshot.partial:
                # Partials come every second during the first sweep: no full collection
                # after each, the collector simply goes on.
                gc.enable()
            elif enabled:
                self._collect_pending = True
                self.call_later(self._collect)

    def _collect(self) -> None:
        """The full collection after a snapshot, on a loop turn of its own; the collector
        is back on afterwards."""
        if self._collect_pending:
            self._collect_pending = False
            gc.collect()
            gc.enable()

    def _apply_snapshot(self, snapshot: Snapshot, extra_changed: Iterable[str]) -> None:
        t0 = time.perf_counter()
        # A partial snapshot (the first sweep's rows before diagnostics) is no "before":
        # what the complete one adds is not news, so it neither alerts nor marks changes.
        settled = self.snapshot is not None and not self.snapshot.partial
        before = {rid: m.view.state for rid, m in self.models.items()} if settled else None
        first = not settled
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
        if snapshot.partial:
            # Partials come while accounts answer, then once every status is read; the
            # engine's own progress says which ("reading trails: n of m accounts", then
            # "diagnosing destinations").
            self.sweep_status = SweepStatus(
                sweeping=True, progress=self.sweep_status.progress or "reading trails"
            )
        elif self.sweep_status.sweeping or self.sweep_status.failed:
            self.sweep_status = SweepStatus()
        self.snapshot_signal.publish(snapshot)
        if not snapshot.partial:
            self._alert(before)
        for notice in snapshot.notices:
            # Said once by the engine (an account that left): never silently dropped.
            self.notify(
                plain(notice.message, max_len=300),
                title=plain(notice.kind.replace("-", " ").capitalize()),
                severity="warning",
                timeout=15,
                markup=False,
            )
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
        self.tick_signal.publish(self.now())

    # ------------------------------------------------------------------ screens' intents

    def on_open_drilldown(self, message: OpenDrilldown) -> None:
        self.open_drilldown(message.view_id)

    def on_request_fix(self, message: RequestFix) -> None:
        self.request_fix(message.view_id, message.plan_ids)

    def on_apply_fix(self, message: ApplyFix) -> None:
        record = self.start_fix(message.plan, message.view_id, confirm_extra=message.confirm_extra)
        if record is None:
            self.fix_signal.publish(FixUpdate(message.view_id, message.plan.id, None))

    def on_request_mute(self, message: RequestMute) -> None:
        self.request_mute(message.view_id, message.codes)

    def on_mute_written(self, message: MuteWritten) -> None:
        code = plain(message.code, max_len=80)
        if message.error:
            self.notify(
                plain(message.error, max_len=400),
                title=f"Mute of {code} not written",
                severity="error",
                timeout=15,
                markup=False,
            )
            return
        self.notify(
            f"{code} muted until {fmt_time(message.expires)}; written to "
            f"{plain(str(self.mute_file), max_len=200)}. It applies from the next sweep.",
            title="Muted",
            timeout=8,
            markup=False,
        )
        if not self._tearing_down():
            self.source.refresh(message.view_id)
            self.sweep_status = SweepStatus(sweeping=True, progress="refresh requested")
            self.status_signal.publish(self.sweep_status)

    # ------------------------------------------------------------------ actions

    def open_drilldown(self, view_id: str) -> None:
        """One drill-down screen is kept (installed) and shown again for each view: a new
        one per view would be composed and styled every time, most of what opening costs."""
        screen = self._drilldown
        if screen is None:
            screen = self._drilldown = DrilldownScreen(view_id)
            self.install_screen(screen, DRILLDOWN_SCREEN)
        elif screen in self.screen_stack or view_id not in self.models:
            # Already open under this one, or a view no longer known (a new screen says
            # so with nothing of the last view): a screen of its own.
            self.push_screen(DrilldownScreen(view_id))
            return
        else:
            screen.show(view_id)
        self.push_screen(DRILLDOWN_SCREEN)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_refresh(self) -> None:
        # From a drill-down, the engine re-reads that view first.
        view_id = self.screen.view_id if isinstance(self.screen, DrilldownScreen) else None
        self.source.refresh(view_id)
        self.sweep_status = SweepStatus(sweeping=True, progress="refresh requested")
        self.status_signal.publish(self.sweep_status)

    def action_targets(self) -> None:
        if not isinstance(self.screen, TargetsScreen):
            self.push_screen(TargetsScreen())

    def request_fix(self, view_id: str, plan_ids: tuple[str, ...]) -> None:
        """Open the remediation dialog for one of `plan_ids` (a picker first when several)."""
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

    def request_mute(self, view_id: str, codes: tuple[str, ...]) -> None:
        """Open the mute dialog for the unmuted findings of `view_id` among `codes`."""
        model = self.models.get(view_id)
        path = self.mute_file
        if path is None:
            self.notify(
                "Muting is off: no mute file is set (mute.file in the config)",
                severity="warning",
                markup=False,
            )
            return
        if model is None:
            self.notify("This view is gone from the latest sweep", markup=False)
            return
        view = model.view
        findings = [
            f for c in dict.fromkeys(codes) for f in view.findings if f.code == c and not f.muted
        ]
        if not findings:
            muted = any(f.muted is not None for f in view.findings if f.code in codes)
            self.notify(
                "Muted already (the drill-down says until when)" if muted else "Nothing to mute",
                markup=False,
            )
            return

        def chosen(choice: MuteChoice | None) -> None:
            if choice is not None:
                mute = mute_for(view, choice.finding, choice.reason, choice.expires, str(path))
                self.write_mute(path, mute, view_id)

        self.push_screen(MuteScreen(view, findings, path, self.now), chosen)

    def write_mute(self, path: Path, mute: Mute, view_id: str) -> None:
        """Append `mute` to the mute file on a worker thread (a slow or stuck disk never
        holds the UI); the answer comes back as `MuteWritten`."""

        def write() -> None:
            error = ""
            try:
                add_mute(path, mute)
            except Exception as e:  # shown as a toast: the operator can fix the file
                error = str(e) or type(e).__name__
            self.post_message(MuteWritten(view_id, mute.code, mute.expires, error))

        self.run_worker(write, name="mute-write", group="mute", thread=True, exit_on_error=False)

    def open_plan(self, view_id: str, plan: Plan) -> None:
        model = self.models.get(view_id)
        trail_name = model.view.trail.name if model else plan.view_id.rsplit("/", 1)[-1]
        self.push_screen(
            RemediationScreen(plan, view_id, trail_name, enabled=self.remediation_enabled)
        )

    def start_fix(self, plan: Plan, view_id: str, *, confirm_extra: bool) -> FixRecord | None:
        """Ask the source to apply `plan` (after the dialog's confirmation); returns at once.

        The engine calls back from its thread; the answer is posted to the UI loop
        (`FixDone`). Its re-poll arrives as an ordinary snapshot just before.
        """
        source = self.source
        if not isinstance(source, RemediatingSource):
            self.notify("This source cannot apply plans", severity="error", markup=False)
            return None
        if not self.remediation_enabled:  # the dialog's controls are disabled too
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
        source.apply_plan(plan.id, self._on_apply_thread(key), confirm_extra=confirm_extra)
        self.fix_signal.publish(FixUpdate(view_id, plan.id, record))
        return record

    def on_fix_done(self, message: FixDone) -> None:
        record = self._fix_pending.pop(message.key, None)
        if record is None:
            return
        record.finish(message.result, message.snapshot, self.now())
        severity = {"applied": "information", "aborted": "warning"}.get(record.result, "error")
        word, rest = outcome_words(record.result, record.message)
        self.notify(
            rest[:300] or word,  # the title says the outcome: the message is not repeated
            title=f"Fix {record.result}: {plain(record.plan_id, max_len=60)}",
            severity=severity,  # type: ignore[arg-type]
            timeout=10,
            markup=False,
        )
        self.fix_signal.publish(FixUpdate(record.view_id, record.plan_id, record))

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The app-wide entries; a screen adds its own (`Screen.COMMANDS`, tui.commands)."""
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Refresh now", "Ask the engine for a sweep now (r)", self.action_refresh
        )
        yield SystemCommand("Help: key map", "Show keys and legend (?)", self.action_help)
        yield SystemCommand(
            "Targets in error", "Which targets could not be read, and why (t)", self.action_targets
        )


__all__ = ["REMEDIATION_DISABLED", "TrailtopApp"]
