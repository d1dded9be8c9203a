"""Waiting in Pilot tests: by polling a condition on the app's own loop, never by sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot


async def wait_until(
    pilot: Pilot[Any],
    cond: Callable[[], bool],
    timeout: float = 10.0,
    what: str = "the condition",
    step: float | None = None,
) -> None:
    """Return once `cond()` holds; fail after `timeout` seconds. `step`: seconds between
    polls (None: after each round of the app's messages)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await pilot.pause(step)


async def wait_for(pilot: Pilot[Any], cond: Callable[[], bool], timeout: float, what: str) -> None:
    """`wait_until` for what the real engine does (sweeps, fixes): polled every 50 ms."""
    await wait_until(pilot, cond, timeout, what, step=0.05)
