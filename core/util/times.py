"""Times: one parser for every timestamp shape AWS and fixtures produce, one ISO formatter.

botocore hands datetimes (aware), LookupEvents records carry ISO strings, JSON fixtures
carry ISO strings with ``Z``, and some APIs answer epoch seconds. Everything inside trailtop
is an aware UTC datetime; everything it writes out is ``YYYY-MM-DDTHH:MM:SSZ``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_time(value: Any) -> datetime | None:
    """A datetime (naive = UTC), an ISO 8601 string, or epoch seconds -> aware UTC; else None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return None


@overload
def iso(dt: datetime) -> str: ...
@overload
def iso(dt: None) -> None: ...
@overload
def iso(dt: datetime | None) -> str | None: ...


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 UTC to the second (the JSON contract's time format); None stays None."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
