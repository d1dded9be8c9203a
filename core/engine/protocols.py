"""The seam between the engine and any consumer (the TUI, tests).

The TUI only ever sees this protocol: it never touches AWS clients, and a test can feed it
plain Snapshots without an engine at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from core.model import Snapshot

SnapshotCallback = Callable[[Snapshot], None]
#: (phase, detail) — e.g. ("sweep-started", "sweep 4"), ("sweep-failed", "reason").
EventCallback = Callable[[str, str], None]


class SnapshotSource(Protocol):
    """Produces Snapshots in the background and calls back from *its own* thread.

    Consumers must marshal the callback onto their own loop (Textual: `call_from_thread`
    or `post_message`, both thread-safe).
    """

    def start(self, on_snapshot: SnapshotCallback, on_event: EventCallback | None = None) -> None:
        """Begin sweeping on the poll interval; returns at once."""

    def refresh(self, view_id: str | None = None) -> None:
        """Ask for a sweep now (optionally prioritising one view); returns at once."""

    def stop(self) -> None:
        """Stop sweeping and release the engine's thread and clients; idempotent."""
