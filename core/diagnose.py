"""Destination diagnostics (issue 5): reads buckets, keys, topics and roles per sweep."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from core.model import Finding

if TYPE_CHECKING:
    from core.collect import Collector
    from core.monitor import ViewInput


class DestinationDiagnoser:
    def __init__(self, refresh_seconds: float) -> None:
        self.refresh_seconds = refresh_seconds
        self.calls = 0

    async def diagnose(
        self, collector: Collector, views: Sequence[ViewInput], now: datetime, force: bool
    ) -> dict[str, list[Finding]]:
        return {}
