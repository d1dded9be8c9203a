"""Headless output: the JSON contract of DESIGN.md section 4, a plain table, exit codes.

Strings from AWS are untrusted: JSON escapes them by construction; the table neutralises
control characters so a hostile trail name cannot drive the terminal.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from core.judge.evaluate import iso
from core.model import Snapshot, State, TrailView

EXIT_OK = 0
EXIT_FAILING = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


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
    }


def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    counts = snap.counts()
    return {
        "generated_at": iso(snap.generated_at),
        "summary": {"views": len(snap.views), **counts},
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
        "views": [view_json(v) for v in _ordered(snap.views)],
        "plans": {
            pid: _jsonable(plan.to_json())
            for pid, plan in sorted(snap.plans.items())
            if hasattr(plan, "to_json")
        },
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
    """0 nothing failing or unknown; 1 something failing; 3 nothing failing but unknown."""
    states = {v.state for v in snap.views}
    coverage_failing = any(f.state is State.FAILING for g in snap.coverage for f in g.findings)
    if State.FAILING in states or coverage_failing:
        return EXIT_FAILING
    if State.UNKNOWN in states or any(not t.ok for t in snap.targets):
        return EXIT_UNKNOWN
    return EXIT_OK


#: What `json.dumps(ensure_ascii=False)` leaves raw although a terminal may obey it: DEL, C1
#: controls (0x9b is CSI), line separators and bidi/invisible marks. Escaped as \uXXXX, which
#: is still the same JSON string.
_JSON_RAW = {
    c: f"\\u{c:04x}"
    for c in (
        0x7F,
        *range(0x80, 0xA0),
        0x061C,
        *range(0x200B, 0x2010),
        *range(0x2028, 0x202F),
        *range(0x2060, 0x2070),
        0xFEFF,
    )
}


def to_json_text(snap: Snapshot) -> str:
    return json.dumps(snapshot_json(snap), indent=2, ensure_ascii=False).translate(_JSON_RAW)


_CTRL = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]}
_CTRL.pop(0x20, None)


def printable(text: object, limit: int | None = None) -> str:
    """Neutralise C0/C1 controls (ESC, BEL, CR, ...) so a terminal shows them, not obeys them."""
    s = str(text).translate(_CTRL)
    # Bidirectional overrides can reorder what an operator reads; show them as escapes too.
    s = s.translate(
        {
            c: f"\\u{c:04x}"
            for c in (
                0x202A,
                0x202B,
                0x202C,
                0x202D,
                0x202E,
                0x2066,
                0x2067,
                0x2068,
                0x2069,
                0x200E,
                0x200F,
            )
        }
    )
    if limit is not None and len(s) > limit:
        s = s[: max(0, limit - 1)] + "…"
    return s


def printable_block(text: object) -> str:
    """`printable` for multi-line text: keeps newlines and tabs, neutralises the rest."""
    return "\n".join(printable(line.replace("\t", "    ")) for line in str(text).split("\n"))


def to_table(snap: Snapshot, now: datetime | None = None) -> str:
    from core.judge.evaluate import as_datetime, human_age

    now = now or snap.generated_at
    c = snap.counts()
    lines = [
        f"trailtop  sweep {snap.sweep}  {iso(snap.generated_at)}  views {len(snap.views)}  "
        f"failing {c['failing']}  warning {c['warning']}  unknown {c['unknown']}  ok {c['ok']}  "
        f"targets in error {snap.targets_in_error}",
        "",
    ]
    header = ("STATE", "ACCOUNT", "PROFILE", "REGION", "TRAIL", "S3 AGE", "TOP FINDING")
    rows: list[tuple[str, ...]] = [header]
    for v in _ordered(snap.views):
        last = as_datetime((v.status or {}).get("LatestDeliveryTime"))
        age = human_age((now - last).total_seconds()) if last else "never"
        top = v.top_finding
        rows.append(
            (
                v.state.value.upper() + ("*" if v.stale else ""),
                printable(v.account_label, 24),
                printable(v.profile or "-", 16),
                printable(v.key.region, 16),
                printable(v.trail.name, 32),
                age if v.status else "-",
                printable(f"{top.code}: {top.message}" if top else "-", 90),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    for r in rows:
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(len(widths))) + "  " + r[-1])
    for g in snap.coverage:
        for f in g.findings:
            lines.append(
                f"COVERAGE  {printable(g.account_id)}  {printable(g.region)}  {f.code}: {printable(f.message)}"
            )
    for t in snap.targets:
        if not t.ok:
            lines.append(
                f"UNREACHABLE  {printable(t.profile or 'default')}  {printable(t.account_id or '?')}  "
                f"{printable(t.region)}  {printable(t.error or '', 200)}"
            )
    return "\n".join(lines) + "\n"
