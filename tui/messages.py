"""Messages from the engine's thread to the UI loop (posted with the thread-safe post_message)."""

from __future__ import annotations

from textual.message import Message


class SnapshotReady(Message):
    """A snapshot is waiting in the app's mailbox. Carries no payload on purpose: when
    sweeps arrive faster than the UI applies them, only the newest one is applied."""


class SourceEvent(Message):
    """A progress event from the engine, e.g. ("sweep-started", "sweep 4")."""

    def __init__(self, phase: str, detail: str) -> None:
        super().__init__()
        self.phase = phase
        self.detail = detail


class FixDone(Message):
    """The engine answered an apply: `result` is its `ApplyResult` (duck-typed) or None when
    the engine was not running; `snapshot` the re-poll it did after applying, if any."""

    def __init__(self, key: int, result: object, snapshot: object) -> None:
        super().__init__()
        self.key = key
        self.result = result
        self.snapshot = snapshot
