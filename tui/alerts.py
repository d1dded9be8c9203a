"""Which views turned failing or recovered between two snapshots, phrased as few toasts.

Pure so it is testable without a terminal. The first snapshot has no "before", so it never
alerts (an operator opening the app does not want one toast per broken trail); many changes
at once are aggregated into one toast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.model import State, TrailView
from tui.rows import is_coverage
from tui.safe import plain

#: Above this many transitions of one kind, one aggregated toast replaces the named ones.
MAX_NAMED = 3


@dataclass(frozen=True, slots=True)
class Alert:
    title: str
    message: str
    severity: str  # "error" | "information" | "warning"
    failing: bool


def view_label(view: TrailView) -> str:
    if is_coverage(view):
        return plain(f"{view.account_label} {view.key.region}: no logging trail", max_len=90)
    return plain(f"{view.account_label} {view.key.region} {view.trail.name}", max_len=90)


def transitions(
    before: Mapping[str, State] | None, views: Iterable[TrailView]
) -> tuple[list[TrailView], list[TrailView]]:
    """(turned failing, recovered to ok). New views that appear failing count as turned failing."""
    if before is None:
        return [], []
    failed: list[TrailView] = []
    recovered: list[TrailView] = []
    for v in views:
        old = before.get(v.id)
        if v.state is State.FAILING and old is not State.FAILING:
            failed.append(v)
        elif v.state is State.OK and old is not None and old is not State.OK:
            recovered.append(v)
    return failed, recovered


def _phrase(views: list[TrailView], verb: str) -> str:
    names = [view_label(v) for v in views[:MAX_NAMED]]
    more = len(views) - len(names)
    return "\n".join(names) + (f"\n… and {more} more" if more > 0 else "")


def build_alerts(failed: list[TrailView], recovered: list[TrailView]) -> list[Alert]:
    alerts: list[Alert] = []
    if len(failed) == 1:
        alerts.append(Alert("Trail failing", view_label(failed[0]), "error", True))
    elif failed:
        alerts.append(
            Alert(f"{len(failed)} views turned failing", _phrase(failed, "failing"), "error", True)
        )
    if len(recovered) == 1:
        alerts.append(Alert("Trail recovered", view_label(recovered[0]), "information", False))
    elif recovered:
        alerts.append(
            Alert(
                f"{len(recovered)} views recovered",
                _phrase(recovered, "recovered"),
                "information",
                False,
            )
        )
    return alerts
