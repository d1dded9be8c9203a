"""The seams between the engine and its consumers (the TUI, the CLI, tests).

Consumers only see these protocols and the plain data of core.model and core.fix.model:
the TUI never touches an AWS client, and a test can feed it plain Snapshots without an
engine at all. The diagnoser seam is here too, so core/aws/diagnose.py and the engine
depend on this neutral module instead of on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from core.fix.model import ApplyResult
from core.model import Finding, Snapshot, TrailConfig, ViewKey

if TYPE_CHECKING:
    from core.aws.collect import Account, Collector
    from core.judge.facts import Destinations


class Phase(StrEnum):
    """Progress events a source reports besides snapshots."""

    SWEEP_STARTED = "sweep-started"
    SWEEP_FINISHED = "sweep-finished"
    SWEEP_FAILED = "sweep-failed"
    #: What the sweep in flight is doing now (detail: "reading 1717 trail statuses").
    PROGRESS = "progress"
    #: The consumer's snapshot callback raised (the engine keeps sweeping).
    CALLBACK_FAILED = "callback-failed"


SnapshotCallback = Callable[[Snapshot], None]
#: (phase, detail), e.g. (Phase.SWEEP_STARTED, "sweep 4").
EventCallback = Callable[[Phase, str], None]
#: The answer to an apply: the result (None when the engine was not running) and the
#: snapshot of the sweep made right after it, if any.
ApplyCallback = Callable[[ApplyResult | None, Snapshot | None], None]


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


@runtime_checkable
class RemediatingSource(SnapshotSource, Protocol):
    """A source that can also apply a remediation plan of its last snapshot."""

    def apply_plan(
        self,
        plan_id: str,
        on_done: ApplyCallback,
        *,
        confirm_extra: bool = False,
        bindings: Mapping[str, str] | None = None,
    ) -> None:
        """Apply on the engine's loop; `on_done` is called from the engine's thread."""


@dataclass(frozen=True)
class ViewInput:
    """What diagnostics get for one view."""

    account: Account
    key: ViewKey
    trail: TrailConfig
    status: Mapping[str, Any] | None
    #: The viewing account reads this organization trail as its CloudTrail delegated
    #: administrator (core/engine/org_coverage.py): diagnosed as the owner's view would be.
    administers: bool = False


class Diagnoser(Protocol):
    """Reads destinations and returns root-cause findings per view id (core/aws/diagnose.py)."""

    @property
    def calls(self) -> int:
        """Requests made so far (the sweep reports the difference)."""

    @property
    def destinations(self) -> Mapping[str, Destinations]:
        """What the last diagnose() read per view id (remediation plans are made from it)."""

    @property
    def org_ids(self) -> Mapping[str, str | None]:
        """Organization id per account id (None where the account is in none)."""

    def owner_of(self, kind: str, ident: str) -> str | None:
        """The account that owns a destination ("bucket", name), where known."""

    async def diagnose(
        self,
        collector: Collector,
        views: Sequence[ViewInput],
        now: datetime,
        force: bool,
        accounts: Sequence[Account] = (),
    ) -> dict[str, list[Finding]]:
        """Root-cause findings per view id; `accounts` are all the accounts reached, whose
        credentials read the destinations they own."""
