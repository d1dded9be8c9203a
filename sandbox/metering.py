"""Counts and a time-stamped log of requests, so tests and benches can measure a client.

Counting happens at the server: a LookupEvents limiter, a diagnostics cache or a sweep's
call budget is proven by what actually arrived, not by what the client believes it sent.
Connections are counted too, so a client's reuse of kept-alive sockets is measured the same
way: fewer connections than requests.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

Key = tuple[str, str, str, str]  # service, operation, account, region


class RequestMeter:
    """Per (service, operation, account, region) counts plus a bounded arrival log."""

    def __init__(self, log_size: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[Key] = Counter()
        self._log: deque[tuple[float, Key, int]] = deque(maxlen=log_size)
        self._used = 0  # connections that carried at least one AWS call since the reset
        self._open = 0  # connections open now (any request, control ones too)

    def connection_opened(self) -> None:
        with self._lock:
            self._open += 1

    def connection_closed(self) -> None:
        with self._lock:
            self._open -= 1

    def connection_used(self) -> None:
        """A connection carried its first AWS call (control requests do not count)."""
        with self._lock:
            self._used += 1

    def connections(self) -> dict[str, int]:
        with self._lock:
            return {"connections": self._used, "open_connections": self._open}

    def record(self, key: Key, status: int = 0) -> None:
        with self._lock:
            self._counts[key] += 1
            self._log.append((time.time(), key, status))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._log.clear()
            self._used = 0

    def counts(self, **filters: str | None) -> dict[str, Any]:
        """Counts matching the filters (service/operation/account/region), with a total, and
        the connections (not filtered: one connection may carry calls of several kinds)."""
        names = ("service", "operation", "account", "region")
        with self._lock:
            items = list(self._counts.items())
        rows = [
            dict(zip(names, key, strict=True), count=count)
            for key, count in items
            if all(filters.get(n) in (None, key[i]) for i, n in enumerate(names))
        ]
        return {"total": sum(r["count"] for r in rows), "counts": rows, **self.connections()}

    def log(self, since: float = 0.0, **filters: str | None) -> list[dict[str, Any]]:
        """Arrivals (epoch ``t``) matching the filters, oldest first."""
        names = ("service", "operation", "account", "region")
        with self._lock:
            entries = list(self._log)
        return [
            {"t": t, **dict(zip(names, key, strict=True)), "status": status}
            for t, key, status in entries
            if t >= since and all(filters.get(n) in (None, key[i]) for i, n in enumerate(names))
        ]
