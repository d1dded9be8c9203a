"""What an organization trail's drill-down says about the accounts it logs: a line for the
verdict, a summary, the unreachable accounts with their reasons, then every reachable one
(a thousand lines: drawn by `tui/widgets/lines.py`, below everything else).

Account ids, names and reasons come from AWS: plain text through `tui.safe.plain`.
"""

from __future__ import annotations

import textwrap

from rich.style import Style
from rich.text import Text

from core.model import OrgCoverage
from tui.safe import plain
from tui.widgets.lines import Line

#: Characters of an Organization account name shown (names are untrusted, and one per line).
ORG_NAME_MAX = 64


def org_summary(cov: OrgCoverage) -> Text:
    """One line for the verdict: what an organization trail logs, and where the rest is."""
    t = Text(style="dim")
    t.append(f"Organization trail: logs {cov.covered} accounts")
    if cov.unreachable:
        t.append(f", {len(cov.unreachable)} unreachable")
    t.append(" (Coverage, below)")
    return t


#: Width the reason of an unreachable account is wrapped to (fits an 80-column terminal).
REASON_WIDTH = 74


def coverage_renderable(cov: OrgCoverage, unreachable_style: Style | None = None) -> Text:
    """Who the trail is read from and how many accounts it logs, reachable or not; the
    accounts themselves follow (`unreachable_lines` here, `reachable_lines` at the end)."""
    u = len(cov.unreachable)
    t = Text()
    t.append(f"Logs {cov.covered} accounts", "bold")
    if cov.organization_id:
        t.append(" of " + plain(cov.organization_id, max_len=40))
    t.append(", read from " + _org_account(cov, cov.read_from))
    if cov.read_as == "delegated_administrator":
        t.append(" (CloudTrail delegated administrator; the owner is not reached)")
    t.append(f"\n{cov.covered - u} reachable (listed at the end), ")
    t.append(f"{u} unreachable", (unreachable_style or Style(bold=True)) if u else Style(dim=True))
    if u:
        t.append(
            "\nUnreachable: the trail still logs them; their own trails and settings are unknown.",
            "dim",
        )
    return t


def unreachable_lines(cov: OrgCoverage, account_style: Style | None = None) -> list[Line]:
    """Each unreachable account (id and name), then its reason wrapped below it."""
    bold = account_style or Style(bold=True)
    plain_style = Style()
    out: list[Line] = []
    for account in sorted(cov.unreachable):
        out.append(("  " + _org_account(cov, account), bold))
        reason = plain(cov.unreachable[account], max_len=400) or "-"
        for part in textwrap.wrap(reason, REASON_WIDTH) or [reason]:
            out.append(("    " + part, plain_style))
    return out


def reachable_lines(cov: OrgCoverage) -> list[Line]:
    """The reachable accounts an organization trail logs, one per line (id, then name)."""
    style = Style()
    return [("  " + _org_account(cov, a), style) for a in cov.accounts if a not in cov.unreachable]


def _org_account(cov: OrgCoverage, account: str) -> str:
    name = cov.names.get(account)
    text = plain(account, max_len=20)
    return text + ("  " + plain(name, max_len=ORG_NAME_MAX) if name else "")
