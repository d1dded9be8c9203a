"""The parts of a sweep that are not the engine's state: its named phases and their timer,
the rows of targets that could not be read, and what counts as a view having changed.
"""

from __future__ import annotations

import time
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.codes import Code
from core.judge.evaluate import status_unavailable
from core.model import (
    STATUS_ERROR_FIELDS,
    Channel,
    Finding,
    Severity,
    Snapshot,
    State,
    TrailConfig,
    TrailView,
    ViewKey,
)


class SweepPhase(StrEnum):
    """The phases of one sweep, in order (debug log lines and timings name them)."""

    RESOLVE = "resolve"
    DESCRIBE = "describe"
    STATUS = "status"
    DIAGNOSE = "diagnose"
    JUDGE = "judge"
    CULPRITS = "culprits"
    ASSEMBLE = "assemble"


class PhaseTimer:
    """Times the phases of one sweep for the debug log."""

    def __init__(self, sweep: int) -> None:
        self.sweep = sweep
        self.seconds: dict[SweepPhase, float] = {}

    def __call__(self, phase: SweepPhase) -> PhaseTimer:
        self._phase = phase
        return self

    def __enter__(self) -> None:
        self._t0 = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.seconds[self._phase] = time.perf_counter() - self._t0

    def summary(self) -> str:
        return " ".join(f"{p.value}={s * 1000:.0f}ms" for p, s in self.seconds.items())


def diagnostics_failed(reason: str) -> Finding:
    return Finding(
        Code.DIAGNOSTICS_INCOMPLETE,
        Severity.INFO,
        Channel.TRAIL,
        f"Destinations could not be diagnosed: {reason}",
        {"reason": reason},
        "See the reason; the status-derived findings still apply.",
    )


def placeholder(
    profile: str | None,
    account_id: str | None,
    region: str,
    reason: str,
    alias: str | None,
    now: datetime,
) -> TrailView:
    """A row for a target that could not be read at all: unknown, with its reason."""
    label = account_id or f"profile:{profile or 'default'}"
    return TrailView(
        key=ViewKey(label, region, ""),
        profile=profile,
        trail=TrailConfig(name="(unreachable)", arn="", home_region=region),
        status=None,
        findings=(status_unavailable(reason, None, now),),
        state=State.UNKNOWN,
        account_alias=alias,
    )


def change_signature(v: TrailView) -> tuple[Any, ...]:
    """What makes a view 'changed' between sweeps (read times excluded on purpose)."""
    st = v.status or {}
    return (
        v.state,
        tuple(f.code for f in v.findings),
        st.get("IsLogging"),
        *(st.get(f) for f in STATUS_ERROR_FIELDS),
        v.stale,
        tuple((f.cause_event or {}).get("event_id") for f in v.findings),
        tuple(f.muted for f in v.findings),
    )


def changed(prev: Snapshot | None, views: list[TrailView]) -> frozenset[str]:
    if prev is None:
        return frozenset()
    before = {v.id: change_signature(v) for v in prev.views}
    return frozenset(v.id for v in views if before.get(v.id) != change_signature(v))
