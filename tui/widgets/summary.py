"""The overview's two bars, one line each at any width: the header and the status line.

The header says what needs a human, in this order of importance: the counts by state,
whether writes are armed, the sweep in progress, the targets in error. The status line
carries the rest: an SSO session to renew (first: nothing else there needs a human), a
failed sweep, the filter and sort in force, the last sweep's timing. Each item has shorter
forms; `tui.layout.fit_line` shortens, then drops, the least important first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from core.model import STATE_ORDER, Snapshot, sso_login_command
from tui.format import fmt_duration, fmt_since
from tui.layout import Segment, fit_line, segment
from tui.rows import STATE_WORD
from tui.safe import plain
from tui.styles import state_classes, state_styles

#: The header's mark for armed writes (remediation enabled): on every screen that has a bar.
ARMED = "WRITES ARMED"
ARMED_SHORT = "ARMED"


@dataclass(frozen=True, slots=True)
class SweepStatus:
    """What the app knows about the engine beyond the last snapshot."""

    sweeping: bool = False
    event: str = ""
    failed: bool = False
    #: The engine's latest word on the sweep in flight (e.g. "sweep 4", "3 of 16 targets").
    progress: str = ""


class Bar(Static):
    """A one-line bar that refits its segments whenever its width changes."""

    DEFAULT_CSS = """
    Bar {
        height: 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes, markup=False)
        self._segments: list[Segment] = []

    def show(self, segments: list[Segment]) -> Text:
        self._segments = segments
        line = self.fit()
        self.update(line, layout=False)  # one line, always: its size never changes
        return line

    def fit(self) -> Text:
        width = self.content_size.width or max(self.app.size.width - 2, 1)
        return fit_line(self._segments, width)

    def on_resize(self) -> None:
        if self._segments:
            self.update(self.fit(), layout=False)


class SummaryBar(Bar):
    COMPONENT_CLASSES: ClassVar[set[str]] = state_classes("summary") | {
        "summary--title",
        "summary--zero",
        "summary--busy",
        "summary--error",
        "summary--dim",
        "summary--armed",
    }

    def __init__(self, title_hint: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title_hint = title_hint

    def style(self, name: str) -> Style:
        return self.get_component_rich_style(f"summary--{name}")

    def header_segments(
        self, snapshot: Snapshot | None, now: datetime, status: SweepStatus, armed: bool
    ) -> list[Segment]:
        st = self.style
        states = state_styles(self, "summary", partial=False)
        segs: list[Segment] = []
        title = Text("trailtop", st("title"))
        if self.title_hint:
            hinted = title.copy()
            hinted.append(" " + plain(self.title_hint, max_len=40), st("dim"))
            segs.append(segment(5, hinted, title, droppable=True))
        else:
            segs.append(segment(5, title, droppable=True))
        if snapshot is None:
            segs.append(segment(0, Text("waiting for the first sweep…", st("busy"))))
        else:
            counts = snapshot.counts()
            wide, narrow = Text(), Text()
            for i, state in enumerate(STATE_ORDER):
                n = counts[state.value]
                style = states[state.value] if n else st("zero")
                for t, sep in ((wide, "  "), (narrow, " ")):
                    if i:
                        t.append(sep)
                    t.append(f"{STATE_WORD[state]} {n}", style)
            segs.append(segment(0, wide, narrow))
            views = len(snapshot.views)
            count = Text(f"{views} view{'s' if views != 1 else ''}", st("dim"))
            gaps = len(snapshot.coverage)
            if gaps:
                # Uncovered regions are listed as FAIL rows but are not views (nor in FAIL n).
                plural = "s" if gaps != 1 else ""
                wide = count.copy()
                wide.append(f"  +{gaps} uncovered region{plural}", states["failing"])
                narrow = Text(f"+{gaps} uncovered", states["failing"])
                segs.append(segment(4, wide, narrow, droppable=True))
            else:
                segs.append(segment(4, count, droppable=True))
        if armed:
            segs.append(segment(1, Text(f" {ARMED} ", st("armed")), Text(ARMED_SHORT, st("armed"))))
        segs.append(self._progress(snapshot, now, status))
        if snapshot is not None:
            err, total = snapshot.targets_in_error, len(snapshot.targets)
            if err:
                bad = st("error")
                segs.append(
                    segment(
                        3,
                        Text(f"{err}/{total} targets in error (t)", bad),
                        Text(f"{err}/{total} in error (t)", bad),
                        Text(f"{err} err", bad),
                    )
                )
            else:
                word = "target" if total == 1 else "targets"
                segs.append(segment(3, Text(f"{total} {word} ok", st("dim")), droppable=True))
        return segs

    def _progress(self, snapshot: Snapshot | None, now: datetime, status: SweepStatus) -> Segment:
        st = self.style
        if status.sweeping:
            detail = plain(status.progress or status.event, max_len=40)
            busy = st("busy")
            full = Text(f"⟳ {detail}…" if detail else "⟳ sweeping…", busy)
            return segment(2, full, Text("⟳", busy))
        if status.failed:
            return segment(2, Text("✗ sweep failed", st("error")), Text("✗", st("error")))
        if snapshot is None:
            return segment(2, droppable=True)
        age = fmt_since(snapshot.generated_at, now)
        return segment(
            2,
            Text(f"sweep #{snapshot.sweep}, {age} ago", st("dim")),
            Text(f"#{snapshot.sweep} {age}", st("dim")),
            droppable=True,
        )

    def render_header(
        self, snapshot: Snapshot | None, now: datetime, status: SweepStatus, armed: bool
    ) -> Text:
        return self.show(self.header_segments(snapshot, now, status, armed))


def org_segment(snapshot: Snapshot, style: Style) -> Segment:
    """How many organization trails there are, how many accounts they log, and how many of
    those trailtop cannot reach (their own trails unknown). Members' copies of an org trail
    are not rows, so this is where the estate's size shows."""
    orgs = snapshot.organization_trails
    accounts: set[str] = set()
    unreachable: set[str] = set()
    for cov in orgs:
        accounts.update(cov.accounts)
        unreachable.update(cov.unreachable)
    n, m, u = len(orgs), len(accounts), len(unreachable)
    trails = f"{n} org trail{'s' if n != 1 else ''}"
    long_u = f" ({u} unreachable)" if u else ""
    short_u = f", {u} unreachable" if u else ""
    return segment(
        2,
        Text(f"{trails} covering {m} account{'s' if m != 1 else ''}{long_u}", style),
        Text(f"{trails}: {m} accounts{short_u}", style),
        Text(f"org ×{m}" + (f" ({u} unr.)" if u else ""), style),
        droppable=True,
    )


class StatusLine(Bar):
    """The line above the footer: what the header has no room for."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status--error",
        "status--busy",
        "status--dim",
    }

    def style(self, name: str) -> Style:
        return self.get_component_rich_style(f"status--{name}")

    def status_segments(
        self,
        snapshot: Snapshot | None,
        now: datetime,
        status: SweepStatus,
        *,
        shown: int | None = None,
        total: int | None = None,
        filter_text: str = "",
        faults_only: bool = False,
        sort_text: str = "",
    ) -> list[Segment]:
        st = self.style
        segs: list[Segment] = []
        if snapshot is not None and snapshot.sso_login_needed:
            # First: nothing else here needs a human, and trailtop cannot renew an SSO session.
            names = snapshot.sso_login_needed
            cmd = sso_login_command(plain(names[0], max_len=40))
            more = len(names) - 1
            long_more = f" (and {more} more profile{'s' if more > 1 else ''})" if more else ""
            short_more = f" (+{more})" if more else ""
            segs.append(
                segment(
                    0,
                    Text(f"SSO session over: run {cmd}{long_more}", st("error")),
                    Text(f"SSO over: {cmd}{short_more}", st("error")),
                )
            )
        if status.failed and status.event:
            event = plain(status.event, max_len=200)
            segs.append(segment(1, Text(event, st("error")), droppable=True))
        context = []
        if filter_text:
            context.append("filter: " + plain(filter_text, max_len=40))
        if faults_only:
            context.append("faults only")
        if context or sort_text:
            busy = st("busy")
            shown_text = f"{shown} of {total} shown" if shown is not None and total else ""
            full = " · ".join([*context, *([f"sort: {sort_text}"] if sort_text else [])])
            short = " · ".join(context) or f"sort: {sort_text}"
            forms = [Text(" · ".join(x for x in (full, shown_text) if x), busy)]
            forms.append(Text(" · ".join(x for x in (short, shown_text) if x), busy))
            forms.append(Text(short, busy))
            segs.append(segment(2, *forms))
        if snapshot is not None and snapshot.organization_trails:
            segs.append(org_segment(snapshot, st("dim")))
        if snapshot is not None and snapshot.partial:
            # The first sweep's rows before its diagnostics: not a finished sweep yet.
            segs.append(
                segment(
                    3,
                    Text("first sweep: rows as accounts answer, root causes to come", st("busy")),
                    Text("first sweep…", st("busy")),
                    droppable=True,
                )
            )
        elif snapshot is not None:
            timing = f"sweep #{snapshot.sweep} in {fmt_duration(snapshot.duration)}"
            success = (
                "never"
                if snapshot.last_success_at is None
                else f"{fmt_since(snapshot.last_success_at, now)} ago"
            )
            dim = st("dim")
            segs.append(
                segment(
                    3,
                    Text(f"{timing}, {fmt_since(snapshot.generated_at, now)} ago · "
                         f"last full success {success}", dim),
                    Text(timing, dim),
                    droppable=True,
                )
            )  # fmt: skip
        return segs
