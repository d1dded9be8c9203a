"""A view's configuration and its raw GetTrailStatus answer, as tables: the part of the
drill-down below the verdict. Every value from AWS is shown literally (`tui.safe`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from core.model import TrailView
from core.util.times import parse_time
from tui.format import fmt_age, fmt_time
from tui.rows import is_coverage, is_unreachable
from tui.safe import safe_text

#: GetTrailStatus fields in a useful reading order; unknown extra fields follow.
STATUS_FIELDS = (
    "IsLogging",
    "LatestDeliveryTime",
    "LatestDeliveryError",
    "LatestDigestDeliveryTime",
    "LatestDigestDeliveryError",
    "LatestCloudWatchLogsDeliveryTime",
    "LatestCloudWatchLogsDeliveryError",
    "LatestNotificationTime",
    "LatestNotificationError",
    "StartLoggingTime",
    "StopLoggingTime",
)
#: A string GetTrailStatus uses for a time (e.g. TimeLoggingStarted, LatestDeliveryAttemptTime).
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _kv_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def _yes_no(value: bool) -> Text:
    return Text("yes" if value else "no")


def _value(value: Any) -> Text:
    if value is None or value == "":
        return Text("-", style="dim")
    if isinstance(value, bool):
        return _yes_no(value)
    return safe_text(value, max_len=600)


def _as_time(value: Any) -> datetime | None:
    """A status value that is a time: a datetime, or a string in ISO form (several
    GetTrailStatus fields are strings), so every time reads the same way."""
    if isinstance(value, datetime):
        return parse_time(value)
    if isinstance(value, str) and _ISO_TIME.match(value):
        return parse_time(value)
    return None


def _account_text(view: TrailView) -> Text:
    return _value(
        f"{view.key.account_id}" + (f" ({view.account_alias})" if view.account_alias else "")
    )


def _reason(view: TrailView) -> Any:
    for f in view.findings:
        if "reason" in f.evidence:
            return f.evidence["reason"]
    return view.top_finding.message if view.top_finding else None


def _place_table(view: TrailView) -> Table:
    """Account, profile and region: the whole configuration of a row without a trail."""
    table = _kv_table()
    table.add_row("Account", _account_text(view))
    table.add_row("Profile", _value(view.profile))
    table.add_row("Region", _value(view.key.region))
    return table


def config_renderable(view: TrailView) -> RenderableType:
    if is_coverage(view):
        table = _place_table(view)
        table.add_row("Trail", Text("none: no logging trail records this region", style="bold"))
        return table
    if is_unreachable(view):
        table = _place_table(view)
        table.add_row("Trails", Text("unknown: this target could not be read", style="bold"))
        table.add_row("Reason", _value(_reason(view)))
        return table
    t = view.trail
    table = _kv_table()
    rows: list[tuple[str, Text]] = [
        ("Trail", _value(t.name)),
        ("ARN", _value(t.arn)),
        ("Account", _account_text(view)),
        ("Profile", _value(view.profile)),
        ("Region (view)", _value(view.key.region)),
        ("Home region", _value(t.home_region)),
        ("Multi-region", _yes_no(t.multi_region)),
        ("Organization trail", _yes_no(t.organization_trail)),
        ("S3 bucket", _value(t.s3_bucket)),
        ("S3 prefix", _value(t.s3_prefix)),
        ("KMS key", _value(t.kms_key_id)),
        ("SNS topic", _value(t.sns_topic_arn)),
        ("Log group", _value(t.log_group_arn)),
        ("CloudWatch role", _value(t.cw_role_arn)),
        ("Log file validation", _yes_no(t.log_file_validation)),
    ]
    for k, v in rows:
        table.add_row(k, v)
    return table


def status_renderable(view: TrailView, now: datetime) -> RenderableType:
    """Every GetTrailStatus field: times as `fmt_time` plus their age, flags as yes/no."""
    status: Mapping[str, Any] = view.status or {}
    if is_coverage(view):
        return Text("No trail in this region, so there is no status to read.", style="italic")
    if not status:
        return Text("No successful GetTrailStatus yet.", style="italic")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_column(no_wrap=True, style="dim")
    keys = [k for k in STATUS_FIELDS if k in status] + sorted(
        k for k in status if k not in STATUS_FIELDS
    )
    for key in keys:
        raw = status[key]
        dt = _as_time(raw)
        if dt is not None:
            table.add_row(safe_text(key), Text(fmt_time(dt)), Text(fmt_age(dt, now) + " ago"))
        else:
            table.add_row(safe_text(key), _value(raw), Text(""))
    seen = (
        f"read {fmt_age(view.status_at, now)} ago, sweep #{view.status_sweep}"
        if view.status_at
        else ""
    )
    stale = "  STALE (older than two sweeps)" if view.stale else ""
    return Group(table, Text(seen + stale, style="dim italic"))
