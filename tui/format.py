"""Human formatting of ages, durations and timestamps for a glanceable, fixed-width table."""

from __future__ import annotations

from datetime import UTC, datetime

NEVER = "never"
NONE = "-"


def fmt_seconds(seconds: float) -> str:
    """Compact age: 42s, 12m05s, 3h05m, 4d03h (at most 6 characters below 100 days)."""
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


def fmt_coarse(seconds: float) -> str:
    """One unit only (42s, 12m, 3h, 4d): for markers that must stay narrow."""
    s = int(max(seconds, 0))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def fmt_age(then: datetime | None, now: datetime) -> str:
    if then is None:
        return NEVER
    delta = (now - then).total_seconds()
    if delta < -1:
        return "+" + fmt_seconds(-delta)  # clock skew: a time in the future, shown as such
    return fmt_seconds(delta)


def fmt_since(then: datetime, now: datetime) -> str:
    """How long ago trailtop itself did something (a sweep): never in the future, so a
    wall clock stepped back (NTP, a laptop resumed) shows 0s, not a negative age."""
    return fmt_seconds(max((now - then).total_seconds(), 0.0))


def fmt_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    return fmt_seconds(seconds)


def fmt_time(dt: datetime | None) -> str:
    """ISO 8601 UTC to the second: the form of the JSON output and of AWS's own strings."""
    if dt is None:
        return NONE
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
