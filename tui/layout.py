"""What fits a terminal: the overview's columns, and one-line bars built by priority.

Pure (no Textual), so the rules an operator relies on are tested as data: at 80 columns
the overview still shows state, account, region, trail and the whole finding code; the
header and the status line are one line each, and what does not fit is shortened, then
dropped, least important first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text

#: Blank cells before every column (the table itself has no cell padding: at 80 columns
#: Textual's default of one cell each side costs a whole column's worth of room).
GAP = 1
#: Always shown, in this order of importance (the table keeps `tui.rows.COLUMNS` order).
REQUIRED: tuple[str, ...] = ("state", "account", "region", "trail", "finding")
#: Shown only when they fit whole, tried in this order, once the finding column shows the
#: whole code plus MESSAGE_CHARS of the message.
OPTIONAL: tuple[str, ...] = ("s3", "profile", "cw")
#: Characters of the finding's message the finding column tries to show before any
#: optional column gets room.
MESSAGE_CHARS = 40
#: When the required columns do not fit, these give way in this order, each down to its
#: floor (the finding code is the last thing cut: it is the reason the row is there). The
#: trail and the region share the squeeze, so neither is cut to a stub alone.
SQUEEZE: tuple[tuple[str, int], ...] = (
    ("trail", 10),
    ("region", 10),
    ("trail", 6),
    ("account", 8),
    ("region", 9),
)
#: Below this the finding column is cut even into the code (terminals under ~70 columns).
FINDING_FLOOR = 4
#: Columns of names cut in the middle when squeezed: "prod-kms-pending" and
#: "prod-kms-policy" stay apart as "prod…ding" and "prod…licy", not both "prod-kms…";
#: "ap-southeast-2" keeps its number as "ap-so…st-2".
MIDDLE_CUT: frozenset[str] = frozenset({"trail", "region"})


def cut_middle(text: str, width: int) -> str:
    """`text` in `width` cells, its middle replaced by an ellipsis when too long."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = width // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


#: Ends a trail cell of an organization trail: " org ×1000 (20 unreachable)". A trail name
#: has no spaces (CloudTrail allows letters, digits, `.`, `_`, `-`), and the mark is always
#: last, so the cell is split at its last occurrence.
ORG_SEP = " org ×"
_ORG_MARK = re.compile(r"(\d+)(?: \((\d+) unreachable\))?")
#: Characters of an organization trail's name kept before its mark takes a shorter form.
NAME_KEEP = 6


def org_marks(covered: int, unreachable: int) -> tuple[str, ...]:
    """The forms of an organization trail's mark, longest first: how many accounts it
    logs and how many of them trailtop cannot reach; the last keeps only the count."""
    if unreachable:
        return (
            f"org ×{covered} ({unreachable} unreachable)",
            f"org ×{covered} ({unreachable} unr.)",
            f"org×{covered} ({unreachable} unr)",
            f"org×{covered}",
        )
    return (f"org ×{covered}", f"org×{covered}")


def cut_trail(text: str, width: int) -> str:
    """A trail cell in `width` cells. An organization trail's mark outlives its name: the
    name is cut in the middle down to NAME_KEEP characters, then the mark takes its shorter
    forms; the narrowest cell keeps only the account count. Other names: `cut_middle`."""
    name, sep, mark = text.rpartition(ORG_SEP)
    found = _ORG_MARK.fullmatch(mark) if sep else None
    if found is None or len(text) <= width:
        return cut_middle(text, width)
    forms = org_marks(int(found[1]), int(found[2] or 0))
    keep = min(len(name), NAME_KEEP)
    for form in forms:
        room = width - 1 - len(form)
        if room >= keep:
            return cut_middle(name, room) + " " + form
    form = forms[-1]
    room = width - 1 - len(form)
    return cut_middle(name, room) + " " + form if room >= 2 else cut_middle(form, width)


def cut_cell(key: str, text: str, width: int) -> str:
    """A squeezed column's cell in `width` cells (see MIDDLE_CUT)."""
    return cut_trail(text, width) if key == "trail" else cut_middle(text, width)


@dataclass(frozen=True, slots=True)
class Measure:
    """The longest shown text per column (`widths`), and of the shown finding codes."""

    widths: Mapping[str, int]
    #: Longest code (with its marker) among the findings the rows show; 0 when none.
    code: int = 0


def column_widths(
    measure: Measure,
    available: int,
    preferred: Mapping[str, int],
) -> dict[str, int]:
    """Visible columns and their widths, for a table `available` cells wide.

    `preferred` is each column's natural width (content clamped to its label and cap, by
    the caller); `measure.widths["finding"]` is the longest whole finding text. The
    result holds only the columns to show; their widths plus one GAP each fill
    `available` exactly when it can be filled.
    """
    widths = {k: preferred[k] for k in REQUIRED if k != "finding"}
    code = measure.code
    full = measure.widths.get("finding", 0)
    widths["finding"] = max(code, 1)

    def total() -> int:
        return sum(w + GAP for w in widths.values())

    over = total() - available
    for key, floor in SQUEEZE:
        if over <= 0:
            break
        cut = min(over, max(widths[key] - floor, 0))
        widths[key] -= cut
        over -= cut
    if over > 0:
        widths["finding"] = max(widths["finding"] - over, FINDING_FLOOR)
    spare = max(available - total(), 0)
    want = min(full, code + 2 + MESSAGE_CHARS) if code else 0
    grow = min(spare, max(want - widths["finding"], 0))
    widths["finding"] += grow
    spare -= grow
    for key in OPTIONAL:
        need = preferred[key] + GAP
        if need <= spare:
            widths[key] = preferred[key]
            spare -= need
    widths["finding"] += spare
    return widths


# ---------------------------------------------------------------------------- bars


@dataclass(frozen=True, slots=True)
class Segment:
    """One item of a one-line bar: its forms, longest first; a last empty form means the
    item may be dropped. Priority 0 is the most important (shortened last)."""

    priority: int
    forms: tuple[Text, ...]


def segment(priority: int, *forms: Text | str, droppable: bool = False) -> Segment:
    texts = tuple(f if isinstance(f, Text) else Text(f) for f in forms)
    if droppable:
        texts = (*texts, Text(""))
    return Segment(priority, texts)


def fit_line(segments: Sequence[Segment], width: int, sep: str = "  ") -> Text:
    """Join `segments` in order on one line at most `width` cells wide.

    While too wide: first the droppable segments give way, least important first, through
    their shorter forms to nothing; then the others take their next shorter form in turns,
    least important first, so every item that must stay keeps as many words as it can.
    If even the shortest forms do not fit, the line is cut with an ellipsis.
    """
    chosen = [0] * len(segments)

    def parts() -> list[Text]:
        return [s.forms[i] for s, i in zip(segments, chosen, strict=True) if s.forms[i].plain]

    def length() -> int:
        shown = parts()
        return sum(p.cell_len for p in shown) + len(sep) * max(len(shown) - 1, 0)

    def can_shrink(i: int) -> bool:
        return chosen[i] < len(segments[i].forms) - 1

    order = sorted(range(len(segments)), key=lambda i: -segments[i].priority)
    droppable = [i for i in order if not segments[i].forms[-1].plain]
    kept = [i for i in order if segments[i].forms[-1].plain]
    for i in droppable:
        while length() > width and can_shrink(i):
            chosen[i] += 1
    while length() > width and any(can_shrink(i) for i in kept):
        for i in kept:
            if can_shrink(i):
                chosen[i] += 1
                if length() <= width:
                    break
    line = Text(sep).join(parts())
    line.no_wrap = True
    line.end = ""
    if line.cell_len > width:
        line.truncate(max(width, 1), overflow="ellipsis")
    return line
