"""Messages the App handles: news from the engine's thread, and intents from the screens.

The engine's messages are posted with the thread-safe `post_message`. Screens never call
App methods: they post an intent, which bubbles from the screen to the App.
"""

from __future__ import annotations

from textual.message import Message

from core.engine.protocols import Phase
from core.fix.model import ApplyResult, Plan
from core.model import Snapshot

# ---------------------------------------------------------------------------- engine thread


class SnapshotReady(Message):
    """A snapshot is waiting in the app's mailbox. Carries no payload on purpose: when
    sweeps arrive faster than the UI applies them, only the newest one is applied."""


class SourceEvent(Message):
    """A progress event from the engine, e.g. (Phase.SWEEP_STARTED, "sweep 4")."""

    def __init__(self, phase: Phase, detail: str) -> None:
        super().__init__()
        self.phase = phase
        self.detail = detail


class FixDone(Message):
    """The engine answered an apply: `result` is None when the engine was not running;
    `snapshot` is the re-poll it did after applying, if any."""

    def __init__(self, key: int, result: ApplyResult | None, snapshot: Snapshot | None) -> None:
        super().__init__()
        self.key = key
        self.result = result
        self.snapshot = snapshot


# ---------------------------------------------------------------------------- screen intents


class OpenDrilldown(Message):
    """The operator chose a view (enter, click, palette)."""

    def __init__(self, view_id: str) -> None:
        super().__init__()
        self.view_id = view_id


class RequestFix(Message):
    """The operator asked to fix a view: open the remediation dialog for one of `plan_ids`."""

    def __init__(self, view_id: str, plan_ids: tuple[str, ...]) -> None:
        super().__init__()
        self.view_id = view_id
        self.plan_ids = plan_ids


class ApplyFix(Message):
    """The operator confirmed a plan in the remediation dialog: ask the source to apply it.

    The App answers on its `fix_signal` (a `FixUpdate` with the record, or with None when it
    refused to start the apply; a toast says why)."""

    def __init__(self, plan: Plan, view_id: str, *, confirm_extra: bool) -> None:
        super().__init__()
        self.plan = plan
        self.view_id = view_id
        self.confirm_extra = confirm_extra
