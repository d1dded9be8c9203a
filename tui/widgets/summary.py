"""The header bar: counts by state and the engine's sweep status, rebuilt each tick."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.widgets import Static

from core.model import STATE_ORDER, Snapshot
from tui.format import fmt_age, fmt_duration
from tui.rows import STATE_WORD
from tui.safe import plain
from tui.styles import state_classes, state_styles


@dataclass(frozen=True, slots=True)
class SweepStatus:
    """What the app knows about the engine beyond the last snapshot."""

    sweeping: bool = False
    event: str = ""
    failed: bool = False


class SummaryBar(Static):
    COMPONENT_CLASSES: ClassVar[set[str]] = state_classes("summary") | {
        "summary--title",
        "summary--zero",
        "summary--busy",
        "summary--error",
        "summary--dim",
    }

    def __init__(self, title_hint: str = "", *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.title_hint = title_hint

    def render_summary(
        self,
        snapshot: Snapshot | None,
        now: datetime,
        status: SweepStatus,
        shown: int | None = None,
        filter_text: str = "",
        faults_only: bool = False,
        sort_text: str = "",
    ) -> Text:
        st = self.get_component_rich_style
        states = state_styles(self, "summary", partial=False)
        t = Text(no_wrap=False, end="")
        t.append("trailtop", st("summary--title"))
        if self.title_hint:
            t.append(" " + plain(self.title_hint, max_len=40), st("summary--dim"))
        t.append("  ")
        if snapshot is None:
            t.append("waiting for the first sweep…", st("summary--busy"))
        else:
            counts = snapshot.counts()
            for state in STATE_ORDER:
                n = counts[state.value]
                style = states[state.value] if n else st("summary--zero")
                t.append(f"{STATE_WORD[state]} {n}", style)
                t.append("  ")
            total = len(snapshot.views)
            t.append(f"{total} views", st("summary--dim"))
            gaps = len(snapshot.coverage)
            if gaps:
                # Uncovered regions are listed as FAIL rows but are not views (nor in FAIL n).
                t.append("  ")
                t.append(f"+{gaps} uncovered region{'s' if gaps != 1 else ''}", states["failing"])
            total += gaps
            if shown is not None and shown != total:
                t.append(f" ({shown} shown)", st("summary--dim"))
        t.append("\n")
        if snapshot is not None and snapshot.sso_login_needed:
            # Second line, so no wrapping below can push it out of the bar: nothing else
            # here needs a human, and trailtop cannot renew an SSO session itself.
            names = snapshot.sso_login_needed
            t.append("SSO session over: run ", st("summary--error"))
            t.append(f"aws sso login --profile {plain(names[0], max_len=40)}", st("summary--error"))
            if len(names) > 1:
                t.append(f" (and {len(names) - 1} more profile{'s' if len(names) > 2 else ''})")
            t.append("\n")
        if snapshot is not None:
            t.append(
                f"sweep #{snapshot.sweep} in {fmt_duration(snapshot.duration)}, "
                f"{fmt_age(snapshot.generated_at, now)} ago"
            )
            err = snapshot.targets_in_error
            t.append(" · ")
            t.append(
                f"{err}/{len(snapshot.targets)} targets in error",
                st("summary--error") if err else st("summary--dim"),
            )
            if err:
                t.append(" (t: which)", st("summary--dim"))
            t.append(" · last full success ")
            if snapshot.last_success_at is None:
                t.append("never", st("summary--error"))
            else:
                t.append(f"{fmt_age(snapshot.last_success_at, now)} ago")
        if status.sweeping:
            t.append("  ⟳ sweeping…", st("summary--busy"))
        if status.event:
            t.append(
                "  " + plain(status.event, max_len=80),
                st("summary--error") if status.failed else st("summary--dim"),
            )
        extras = []
        if filter_text:
            extras.append("filter: " + plain(filter_text, max_len=40))
        if faults_only:
            extras.append("faults only")
        if sort_text:
            extras.append("sort: " + sort_text)
        if extras:
            t.append("\n" + " · ".join(extras), st("summary--busy"))
        return t
