"""Pure row model for the overview table: per-view cell tuples, sort keys, filter.

Kept free of Textual so that applying a snapshot can be reasoned about (and measured) as
data: the table widget only draws the cells made here. A cell is `(text, style)` where
`style` is a component-class name resolved by the widget from `trailtop.tcss`; comparing
these small tuples is what makes "update only the cells whose text changed" cheap.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from core.model import (
    STATE_ORDER,
    Finding,
    Snapshot,
    State,
    TrailConfig,
    TrailView,
    ViewKey,
    worst_state,
)
from core.util.times import parse_time
from tui.format import NONE, fmt_age, fmt_coarse
from tui.layout import org_marks
from tui.safe import plain

Cell = tuple[str, str]
Cells = tuple[Cell, ...]

STATE_RANK: dict[State, int] = {s: i for i, s in enumerate(STATE_ORDER)}
#: Words, not only colours: the table must read the same under NO_COLOR.
STATE_WORD: dict[State, str] = {
    State.FAILING: "FAIL",
    State.WARNING: "WARN",
    State.UNKNOWN: "UNKN",
    State.OK: "OK",
}
CHANGED_MARK = "*"
STALE_MARK = "~"
#: Trail column of a coverage-gap row (an enabled region with no logging trail at all).
NO_TRAIL = "(no trail)"
#: Row ids of coverage-gap rows start with this (view ids start with an account id).
COVERAGE_PREFIX = "coverage|"


class CoverageView(TrailView):
    """A coverage gap (`Snapshot.coverage`) dressed as a view so the table can list it.

    An uncovered region has no trail, so it has no view of its own; showing it as a row
    (state from its REGION_NOT_COVERED finding, trail "(no trail)") lets the operator filter,
    jump to and drill into it like any other fault. Its id cannot collide with a view id.
    """

    @cached_property
    def id(self) -> str:
        return f"{COVERAGE_PREFIX}{self.key.account_id}|{self.key.region}"


def is_coverage(view: TrailView) -> bool:
    return isinstance(view, CoverageView)


def is_unreachable(view: TrailView) -> bool:
    """The engine's placeholder for a target it could not read (no trail ARN, state unknown)."""
    return not view.trail.arn and not isinstance(view, CoverageView)


def coverage_views(snapshot: Snapshot) -> list[TrailView]:
    """One row per coverage gap, carrying the account alias the targets know."""
    if not snapshot.coverage:
        return []
    aliases = {t.account_id: t.account_alias for t in snapshot.targets if t.account_alias}
    out: list[TrailView] = []
    for gap in snapshot.coverage:
        # Muted findings follow the counting ones and never judge the state (as in a view).
        counting = tuple(f for f in gap.findings if f.muted is None)
        findings = (*counting, *(f for f in gap.findings if f.muted is not None))
        state = worst_state(f.state for f in counting) if counting else State.FAILING
        if state is State.OK:  # a gap is never "ok": it is listed because nothing logs there
            state = State.FAILING
        if gap.findings and not counting:  # every finding muted: accepted, so not failing
            state = State.OK
        out.append(
            CoverageView(
                key=ViewKey(gap.account_id, gap.region, ""),
                profile=gap.profile,
                trail=TrailConfig(name=NO_TRAIL, arn="", home_region=gap.region),
                status=None,
                findings=findings,
                state=state,
                account_alias=aliases.get(gap.account_id),
            )
        )
    return out


def snapshot_rows(snapshot: Snapshot) -> list[TrailView]:
    """Everything the overview lists: the views, then the coverage gaps."""
    return [*snapshot.views, *coverage_views(snapshot)]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    #: Display width; for a `fit` column the most it may take (it shrinks to its content).
    width: int
    #: Maximum characters kept in the cell (the widget crops to the display width).
    max_len: int
    #: Width follows the longest shown cell (between the label and `width`).
    fit: bool = False


#: Every column the overview can show, in display order. Which of them are shown, and how
#: wide, depends on the terminal (`tui.layout.column_widths`): at 80 columns the profile
#: and the ages give way; the finding always shows its whole code.
COLUMNS: tuple[Column, ...] = (
    Column("state", "State", 10, 10, fit=True),
    Column("account", "Account", 24, 40, fit=True),
    Column("profile", "Profile", 16, 40, fit=True),
    Column("region", "Region", 14, 30, fit=True),
    # Room for an organization trail's mark too (see tui.layout.cut_trail).
    Column("trail", "Trail", 36, 80, fit=True),
    Column("s3", "S3 age", 6, 8),
    Column("cw", "CW age", 6, 8),
    Column("finding", "Top finding", 300, 300, fit=True),
)
#: Marks a finding shown because the filter matched it although it is not the row's top one.
MATCH_MARK = "+"
#: Leads a muted finding's cell (the row is dimmed too when its top finding is muted).
MUTED_MARK = "muted"


def preferred_widths(content: Mapping[str, int]) -> dict[str, int]:
    """Each column's natural width: a `fit` column follows its longest shown cell, between
    its label and its cap; the ages are fixed."""
    return {
        c.key: min(max(content.get(c.key, 0), len(c.label)), c.width) if c.fit else c.width
        for c in COLUMNS
    }


def code_width(finding_text: str) -> int:
    """Cells a finding cell needs to show its whole code (with its marker): the code, plus
    one for the ellipsis that says a message follows."""
    code = finding_text.split(":", 1)[0]
    return len(code) + (1 if len(finding_text) > len(code) else 0)


FIT_KEYS: tuple[str, ...] = tuple(c.key for c in COLUMNS if c.fit)

COLUMN_KEYS: tuple[str, ...] = tuple(c.key for c in COLUMNS)
COL_INDEX: dict[str, int] = {k: i for i, k in enumerate(COLUMN_KEYS)}
#: Columns whose text depends on the clock (recomputed by the 1 s tick).
AGE_COLUMNS: tuple[str, ...] = ("state", "s3", "cw")


@dataclass(frozen=True, slots=True)
class RowModel:
    """Everything the table needs about one view, derived once per snapshot."""

    view: TrailView
    s3_time: datetime | None
    cw_time: datetime | None
    #: Lower-cased text the `/` filter searches.
    haystack: str
    #: The default order: worst state first, then account, region, trail.
    base_key: tuple[object, ...]

    @property
    def id(self) -> str:
        return self.view.id

    @property
    def faulty(self) -> bool:
        return self.view.state is not State.OK


def trail_text(view: TrailView) -> str:
    """The trail cell: the name, and for an organization trail how many accounts it logs
    and how many of them trailtop cannot reach (`tui.layout.cut_trail` shortens the mark
    last)."""
    name = plain(view.trail.name, max_len=COLUMNS[COL_INDEX["trail"]].max_len)
    cov = view.org_coverage
    if cov is None:
        return name
    mark = org_marks(cov.covered, len(cov.unreachable))[0]
    return f"{name} {mark}"


def _org_words(view: TrailView) -> str:
    """What the filter finds an organization trail's rows by."""
    cov = view.org_coverage
    if cov is None:
        return ""
    return " ".join(
        ("org organization", cov.organization_id or "", "unreachable" if cov.unreachable else "")
    )


def build_model(view: TrailView) -> RowModel:
    status = view.status or {}
    codes = " ".join(f.code for f in view.findings)
    hay = " ".join(
        (
            view.key.account_id,
            view.account_alias or "",
            view.profile or "",
            view.key.region,
            view.trail.name,
            view.trail.arn,
            codes,
            "uncovered coverage" if isinstance(view, CoverageView) else "",
            "muted" if any(f.muted is not None for f in view.findings) else "",
            _org_words(view),
        )
    ).lower()
    return RowModel(
        view=view,
        s3_time=parse_time(status.get("LatestDeliveryTime")),
        cw_time=parse_time(status.get("LatestCloudWatchLogsDeliveryTime")),
        haystack=hay,
        base_key=(
            STATE_RANK[view.state],
            view.account_label.lower(),
            view.key.region,
            view.trail.name.lower(),
            view.id,
        ),
    )


def build_models(
    views: Iterable[TrailView], previous: Mapping[str, RowModel] | None = None
) -> dict[str, RowModel]:
    """Models for a snapshot, reusing the previous model of every view that did not change.

    Reuse keeps the model object identical, which is how the table knows it can skip a row
    entirely (no cell recomputation, no comparison): a 5% diff then costs ~5% of the work.
    """
    if not previous:
        return {v.id: build_model(v) for v in views}
    out: dict[str, RowModel] = {}
    for v in views:
        vid = v.id
        old = previous.get(vid)
        reuse = old is not None and (
            old.view is v or (old.view == v and same_coverage(old.view, v))
        )
        out[vid] = old if reuse and old is not None else build_model(v)
    return out


def same_coverage(a: TrailView, b: TrailView) -> bool:
    """`TrailView` equality leaves `org_coverage` out: a change of the accounts an
    organization trail logs (or reaches) must still reach its rows and drill-down."""
    ca, cb = a.org_coverage, b.org_coverage
    return ca is cb or ca == cb


def _state_style(m: RowModel) -> str:
    if m.view.stale:
        return "stale"
    return m.view.state.value


def state_cell(m: RowModel, now: datetime, highlighted: bool) -> Cell:
    word = STATE_WORD[m.view.state]
    text = (CHANGED_MARK if highlighted else " ") + word
    if m.view.stale:
        at = m.view.status_at
        text += f" {STALE_MARK}{fmt_coarse((now - at).total_seconds()) if at else '?'}"
    return (text, _state_style(m) + ("-changed" if highlighted else ""))


def age_cell(m: RowModel, column: str, now: datetime) -> Cell:
    base = "stale" if m.view.stale else "age"
    if isinstance(m.view, CoverageView):
        return (NONE, base)  # no trail: nothing delivers, nothing to age
    if m.view.status is None:
        return ("?", base)
    if column == "s3":
        return (fmt_age(m.s3_time, now), base if m.s3_time else "never")
    if not m.view.trail.log_group_arn:
        return (NONE, base)
    return (fmt_age(m.cw_time, now), base if m.cw_time else "never")


def shown_finding(view: TrailView, query: str = "") -> tuple[Finding | None, bool]:
    """The finding a row shows, and whether it is there because the filter matched it.

    A row is the top finding's; but a filter by code (`/kms`) that matches only another
    finding of the row shows that one, marked, so every row listed says why it matched.
    """
    top = view.top_finding
    terms = query.lower().split()
    if top is None or not terms:
        return top, False
    if any(t in top.code.lower() for t in terms):
        return top, False
    for f in view.findings[1:]:
        if any(t in f.code.lower() for t in terms):
            return f, True
    return top, False


def finding_cell(view: TrailView, query: str = "") -> Cell:
    f, matched = shown_finding(view, query)
    if f is None:
        return ("", "stale" if view.stale else "cell")
    muted = f"{MUTED_MARK} " if f.muted is not None else ""
    text = f"{MATCH_MARK if matched else ''}{muted}{f.code}: {f.message}"
    style = "muted" if f.muted is not None else "finding"
    return (plain(text, max_len=COLUMNS[COL_INDEX["finding"]].max_len), style)


def row_muted(view: TrailView) -> bool:
    """The row's top finding is muted: every finding is, so nothing on the row counts."""
    top = view.top_finding
    return top is not None and top.muted is not None


def row_cells(m: RowModel, now: datetime, highlighted: bool = False, query: str = "") -> Cells:
    v = m.view
    base = "stale" if v.stale else "muted" if row_muted(v) else "cell"
    widths = {c.key: c.max_len for c in COLUMNS}
    return (
        state_cell(m, now, highlighted),
        (plain(v.account_label, max_len=widths["account"]), base),
        (plain(v.profile or NONE, max_len=widths["profile"]), base),
        (plain(v.key.region, max_len=widths["region"]), base),
        (trail_text(v), base),
        age_cell(m, "s3", now),
        age_cell(m, "cw", now),
        finding_cell(v, query),
    )


def tick_cells(m: RowModel, now: datetime, highlighted: bool) -> dict[str, Cell]:
    """Only the clock-dependent cells, for the 1 s tick."""
    return {
        "state": state_cell(m, now, highlighted),
        "s3": age_cell(m, "s3", now),
        "cw": age_cell(m, "cw", now),
    }


# ---------------------------------------------------------------------------- filtering


def matches(m: RowModel, query: str, faults_only: bool) -> bool:
    if faults_only and not m.faulty:
        return False
    if not query:
        return True
    return all(term in m.haystack for term in query.lower().split())


def jump_matches(m: RowModel, target: str) -> bool:
    """`:` jump: an account (id or alias) or a region, by exact match or prefix."""
    t = target.strip().lower()
    if not t:
        return False
    v = m.view
    names = (v.key.account_id, (v.account_alias or "").lower(), v.key.region)
    return any(n == t for n in names) or any(n.startswith(t) for n in names if n)


def first_jump(models: Mapping[str, RowModel], ids: Iterable[str], target: str) -> str | None:
    """The first of `ids` that `jump_matches` `target` (the target made lower case once,
    not per row: a jump near the end of 1,700 rows tests every row before it)."""
    t = target.strip().lower()
    if not t:
        return None
    for rid in ids:
        m = models.get(rid)
        if m is None:
            continue
        key = m.view.key
        # An exact match is a prefix match: one test per name, as `jump_matches` says.
        if (
            key.account_id.startswith(t)
            or key.region.startswith(t)
            or (m.view.account_alias or "").lower().startswith(t)
        ):
            return rid
    return None


def jump_suggestions(models: Iterable[RowModel], known: dict[str, str] | None = None) -> list[str]:
    """The `:` prompt's completions: account aliases, account ids and regions, sanitised,
    each once, sorted.

    `known` keeps each name's sanitised form from one call to the next: the names repeat
    across snapshots, and sanitising the 5,000 names of 1,700 rows costs a frame's time."""
    names: set[str] = set()
    for m in models:
        v = m.view
        names.add(v.key.account_id)
        names.add(v.key.region)
        if v.account_alias:
            names.add(v.account_alias)
    names.discard("")
    memo: dict[str, str] = {} if known is None else known
    shown: set[str] = set()
    for name in names:
        clean = memo.get(name)
        if clean is None:
            clean = memo[name] = plain(name, max_len=64)
        shown.add(clean)
    return sorted(shown)


class Completions:
    """Case-insensitive prefix completion over a fixed set of names (the `:` prompt's).

    A binary search over the names in case-insensitive order: Textual's `SuggestFromList`
    scans every name in a worker per key, ~2 ms a key at 2,000 names."""

    __slots__ = ("_folded", "_names")

    def __init__(self, names: Iterable[str]) -> None:
        pairs = sorted({(n.casefold(), n) for n in names})
        self._folded = [folded for folded, _ in pairs]
        self._names = [name for _, name in pairs]

    def complete(self, value: str) -> str:
        """The first name (in case-insensitive order) that starts with `value`, else ""."""
        if not value:
            return ""
        folded = value.casefold()
        i = bisect_left(self._folded, folded)
        if i < len(self._folded) and self._folded[i].startswith(folded):
            return self._names[i]
        return ""


# ---------------------------------------------------------------------------- sorting


def sort_key(m: RowModel, column: str | None) -> tuple[object, ...]:
    """Primary key for the chosen column, then the default order as a tie-breaker."""
    if column is None or column == "state":
        return m.base_key
    v = m.view
    primary: object
    if column == "account":
        primary = v.account_label.lower()
    elif column == "profile":
        primary = (v.profile or "").lower()
    elif column == "region":
        primary = v.key.region
    elif column == "trail":
        primary = v.trail.name.lower()
    elif column == "s3":
        # Oldest delivery first; never delivered counts as oldest.
        primary = m.s3_time.timestamp() if m.s3_time else float("-inf")
    elif column == "cw":
        primary = m.cw_time.timestamp() if m.cw_time else float("-inf")
    elif column == "finding":
        top = v.top_finding
        primary = (top.code, top.message) if top else ("~",)
    else:
        primary = 0
    return (primary, *m.base_key)
