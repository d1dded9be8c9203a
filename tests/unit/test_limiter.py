"""The limiter that bounds calls in flight: a call cancelled while it waits for a slot
never starts, and is closed (no "coroutine was never awaited" left for the collector)."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from core.aws.collect import Limiter


async def test_a_call_cancelled_while_waiting_is_closed_and_never_started() -> None:
    limiter = Limiter(1)
    gate = asyncio.Event()
    started: list[str] = []

    async def hold() -> None:
        await gate.wait()

    async def call() -> None:
        started.append("call")

    first = asyncio.create_task(limiter.run(hold()))
    while limiter._sem is None or not limiter._sem.locked():
        await asyncio.sleep(0)  # until the first call holds the only slot
    waiting = call()
    second = asyncio.create_task(limiter.run(waiting))
    await asyncio.sleep(0)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    assert inspect.getcoroutinestate(waiting) == inspect.CORO_CLOSED
    assert started == []
    gate.set()
    await first
    assert not limiter._sem.locked(), "the slot is given back"
