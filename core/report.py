"""Headless output: the JSON contract (docs/json-contract.md), a plain table, exit codes.

Strings from AWS are untrusted: JSON escapes them by construction; the table and every
message go through core.util.text.plain, the same strict sanitiser as the TUI, so a
hostile trail name can neither drive the terminal nor hide in invisible characters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from core.model import Finding, Snapshot, State, TrailView, sso_login_command
from core.util.text import ELLIPSIS, JSON_RAW, plain
from core.util.times import iso

if TYPE_CHECKING:
    from core.fix.model import Plan

EXIT_OK = 0
EXIT_FAILING = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3

#: The JSON contract's version (docs/json-contract.md): bumped on any breaking change
#: (a field removed, renamed or given another meaning); additions do not bump it.
SCHEMA_VERSION = 2


@cache
def tool_version() -> str:
    """The installed trailtop's version (`trailtop_version` in JSON, OCSF's product)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trailtop")
    except PackageNotFoundError:
        return "unknown"


def muted_count(snap: Snapshot) -> int:
    """Findings shown but not counted (core/mute.py), in views and coverage."""
    return sum(1 for v in snap.views for f in v.findings if f.muted is not None) + sum(
        1 for g in snap.coverage for f in g.findings if f.muted is not None
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


#: JSON-ready data (datetimes as the contract's times), for the other output formats.
jsonable = _jsonable


def view_json(v: TrailView) -> dict[str, Any]:
    return {
        "account_id": v.key.account_id,
        "account_alias": v.account_alias,
        "profile": v.profile,
        "region": v.key.region,
        "trail_name": v.trail.name,
        "trail_arn": v.trail.arn,
        "home_region": v.trail.home_region,
        "multi_region": v.trail.multi_region,
        "organization_trail": v.trail.organization_trail,
        "state": v.state.value,
        "stale": v.stale,
        "status_read_at": iso(v.status_at),
        "status": _jsonable(dict(v.status)) if v.status is not None else None,
        "trail": v.trail.to_json(),
        "findings": [_jsonable(f.to_json()) for f in v.findings],
        "organization_coverage": v.org_coverage.summary_json() if v.org_coverage else None,
    }


def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    counts = snap.counts()
    return {
        "schema_version": SCHEMA_VERSION,
        "trailtop_version": tool_version(),
        "generated_at": iso(snap.generated_at),
        "summary": {"views": len(snap.views), **counts, "muted": muted_count(snap)},
        "sweep": {
            "number": snap.sweep,
            "duration_seconds": round(snap.duration, 3),
            "requests": snap.stats.requests,
            "describe_calls": snap.stats.describe_calls,
            "status_calls": snap.stats.status_calls,
            "diagnostic_calls": snap.stats.diagnostic_calls,
            "targets_in_error": snap.targets_in_error,
        },
        "targets": [t.to_json() for t in snap.targets],
        "notices": [n.to_json() for n in snap.notices],
        "sso_login_needed": [
            {"profile": p, "command": sso_login_command(p)} for p in snap.sso_login_needed
        ],
        "views": [view_json(v) for v in _ordered(snap.views)],
        "organization_trails": [c.to_json() for c in snap.organization_trails],
        "plans": {pid: _jsonable(plan.to_json()) for pid, plan in sorted(snap.plans.items())},
        "coverage": [
            {
                "account_id": g.account_id,
                "profile": g.profile,
                "region": g.region,
                "findings": [_jsonable(f.to_json()) for f in g.findings],
            }
            for g in snap.coverage
        ],
    }


def _ordered(views: tuple[TrailView, ...]) -> list[TrailView]:
    rank = {State.FAILING: 0, State.WARNING: 1, State.UNKNOWN: 2, State.OK: 3}
    return sorted(
        views, key=lambda v: (rank[v.state], v.key.account_id, v.key.region, v.trail.name)
    )


def exit_code(snap: Snapshot) -> int:
    """0 nothing failing or unknown; 1 something failing; 3 nothing failing but unknown.
    Muted findings do not count: a view's state already leaves them out (core/mute.py)."""
    states = {v.state for v in snap.views}
    coverage_failing = any(
        f.state is State.FAILING and f.muted is None for g in snap.coverage for f in g.findings
    )
    if State.FAILING in states or coverage_failing:
        return EXIT_FAILING
    if State.UNKNOWN in states or any(not t.ok for t in snap.targets):
        return EXIT_UNKNOWN
    return EXIT_OK


def to_json_text(snap: Snapshot) -> str:
    return json.dumps(snapshot_json(snap), indent=2, ensure_ascii=False).translate(JSON_RAW)


def to_ocsf_text(snap: Snapshot) -> str:
    """`--format ocsf`: OCSF Detection Findings (core/ocsf.py, loaded only when asked)."""
    from core.ocsf import to_ocsf_text as ocsf

    return ocsf(snap)


def printable(text: object, limit: int | None = None) -> str:
    """One line of untrusted text for a terminal (see core.util.text.plain)."""
    return plain(text, max_len=limit)


def printable_block(text: object) -> str:
    """Multi-line untrusted text for a terminal: newlines kept, every other control escaped."""
    return plain(text, multiline=True)


#: The table's finding column is never narrower than this, even on a narrow terminal.
FINDING_MIN_WIDTH = 40


def to_table(snap: Snapshot, now: datetime | None = None, width: int | None = None) -> str:
    """The verdict as a plain table. ``width`` (a terminal's columns) shortens the finding
    column to fit; without it (piped, redirected) every finding is written whole."""
    from core.judge.evaluate import human_age
    from core.util.times import parse_time

    now = now or snap.generated_at
    c = snap.counts()
    lines = [
        f"trailtop  sweep {snap.sweep}  {iso(snap.generated_at)}  views {len(snap.views)}  "
        f"failing {c['failing']}  warning {c['warning']}  unknown {c['unknown']}  ok {c['ok']}  "
        f"targets in error {snap.targets_in_error}"
        + (f"  muted {muted}" if (muted := muted_count(snap)) else ""),
        "",
    ]
    header = ("STATE", "ACCOUNT", "PROFILE", "REGION", "TRAIL", "S3 AGE", "TOP FINDING")
    rows: list[tuple[str, ...]] = [header]
    findings: list[str] = []
    for v in _ordered(snap.views):
        last = parse_time((v.status or {}).get("LatestDeliveryTime"))
        age = human_age((now - last).total_seconds()) if last else "never"
        top = v.top_finding
        findings.append(printable(_finding_cell(top, v.findings)))
        rows.append(
            (
                v.state.value.upper() + ("*" if v.stale else ""),
                printable(v.account_label, 24),
                printable(v.profile or "-", 16),
                printable(v.key.region, 16),
                printable(v.trail.name, 32),
                age if v.status else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    room = None if width is None else max(width - sum(w + 2 for w in widths), FINDING_MIN_WIDTH)
    for r, finding in zip(rows, [header[-1], *findings], strict=True):
        if room is not None and len(finding) > room:
            finding = finding[: room - 1] + ELLIPSIS
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(len(widths))) + "  " + finding)
    for g in snap.coverage:
        for f in g.findings:
            lines.append(
                f"COVERAGE  {printable(g.account_id)}  {printable(g.region)}  "
                f"{printable(_muted_prefix(f))}{f.code}: {printable(f.message)}"
            )
    for t in snap.targets:
        if not t.ok:
            lines.append(
                f"UNREACHABLE  {printable(t.profile or 'default')}  {printable(t.account_id or '?')}  "
                f"{printable(t.region)}  {printable(t.error or '')}"
            )
    return "\n".join(lines) + "\n"


def _muted_prefix(f: Finding) -> str:
    m = f.muted
    return "" if m is None else f"[MUTED until {iso(m.expires)}: {m.reason}] "


def _finding_cell(top: Finding | None, findings: tuple[Finding, ...]) -> str:
    """The top finding (muted ones come last, so it is muted only when all are), marked
    when muted, and how many others are muted."""
    if top is None:
        return "-"
    others = sum(1 for f in findings[1:] if f.muted is not None)
    more = f" (+{others} muted)" if others else ""
    return f"{_muted_prefix(top)}{top.code}: {top.message}{more}"


def plan_listing(plans: Mapping[str, Plan]) -> str:
    """Plan ids with what each does, one per line (where `trailtop fix` is told an id)."""
    if not plans:
        return "  (none: nothing in this sweep has a plan)"
    wide = max(len(printable(pid)) for pid in plans)
    return "\n".join(
        f"  {printable(pid).ljust(wide)}  {printable(plans[pid].title, 160)}"
        for pid in sorted(plans)
    )


def sweep_log_lines(snap: Snapshot) -> list[str]:
    """What a debug log keeps of one sweep: counts, every target (and why one failed), and
    each view that is not ok with its top finding. Sanitised; never credentials."""
    c = snap.counts()
    out = [
        f"sweep {snap.sweep}: {len(snap.views)} views (failing {c['failing']}, warning "
        f"{c['warning']}, unknown {c['unknown']}, ok {c['ok']}) in {snap.duration:.2f}s, "
        f"{snap.stats.requests} requests, {snap.targets_in_error} targets in error"
    ]
    for t in snap.targets:
        where = (
            f"profile {printable(t.profile or 'default')} account "
            f"{printable(t.account_id or '?')} region {printable(t.region)}"
        )
        out.append(f"target {where}: " + ("ok" if t.ok else f"ERROR {printable(t.error or '')}"))
    for n in snap.notices:
        out.append(f"notice {n.kind} account {printable(n.account_id)}: {printable(n.message)}")
    for v in _ordered(snap.views):
        if v.state is State.OK:
            continue
        top = v.top_finding
        out.append(
            f"view {printable(v.id)} {v.state.value}: "
            + (printable(f"{top.code}: {top.message}", 300) if top else "-")
        )
    return out
