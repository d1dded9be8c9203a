"""Layout snapshots (pytest-textual-snapshot) at 80x24 and 120x40: the overview, the
drill-down (root cause on the first screen), the fix modal armed and read-only, the
targets in error; the help at 120x40.

Deterministic: frozen clock, fixed data, first snapshot only (no toasts, no highlights).
SVGs live in tests/tui/snapshots/. Update after an intended change with
`pytest tests/tui/test_tui_snapshots.py --snapshot-update` and review the SVG diff.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_textual_snapshot
from textual.pilot import Pilot
from textual.widgets import Input

from core.model import TargetResult
from tests.support.builders import T0, demo_views, make_plan, make_snapshot
from tests.support.fakes import FakeSource, frozen_clock
from tui.app import TrailtopApp

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
PLAN = "s3-policy-0badc0de"
CULPRIT = {
    "event_name": "PutBucketPolicy",
    "event_time": "2026-11-27T17:50:00Z",
    "actor": "arn:aws:iam::111111111111:role/ci-deployer",
    "source_ip": "203.0.113.9",
    "user_agent": "aws-cli/2.15.0",
    "timing": "3 minutes after the last good delivery",
    "before_last_delivery": False,
    "confidence": "high",
}


class _Extension(pytest_textual_snapshot.SVGImageExtension):
    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        return str(SNAPSHOT_DIR)


@pytest.fixture(autouse=True)
def _snapshots_in_tests_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", _Extension)


def make_app(*, armed: bool = False) -> TrailtopApp:
    """The builders' demo estate; its S3-policy view has a plan and a culprit; one target
    could not be read."""
    views = demo_views()
    v = views[1]
    top = replace(v.findings[0], plan_ids=(PLAN,), cause_event=CULPRIT)
    views[1] = replace(v, findings=(top, *v.findings[1:]))
    targets = (
        TargetResult("prod", "111111111111", "us-east-1", ok=True),
        TargetResult("staging", "222222222222", "eu-west-1", ok=True),
        TargetResult("security", "333333333333", "eu-central-1", ok=False,
                     error="AccessDenied: not authorized to perform sts:AssumeRole"),
    )  # fmt: skip
    snapshot = make_snapshot(views, sweep=42, targets=targets, plans=[make_plan(views[1], PLAN)])
    return TrailtopApp(
        FakeSource(snapshot),
        title_hint="demo",
        clock=frozen_clock(T0),
        remediation_enabled=armed,
    )


async def _ready(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, TrailtopApp)
    while app.snapshots_applied < 1:
        await pilot.pause()


async def _drill(pilot: Pilot) -> None:
    """Into the S3-policy view (the second failing row)."""
    await _ready(pilot)
    app = pilot.app
    assert isinstance(app, TrailtopApp)
    rid = next(
        r for r, m in app.models.items() if m.view.findings[:1] and m.view.findings[0].plan_ids
    )
    app.open_drilldown(rid)
    await pilot.pause()


def _then(*keys: str) -> Callable[[Pilot], Awaitable[None]]:
    async def run(pilot: Pilot) -> None:
        await _drill(pilot)
        await pilot.press(*keys)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor is a coin toss in a picture
        await pilot.pause()

    return run


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_overview(snap_compare: Any, size: str) -> None:
    assert snap_compare(make_app(armed=True), terminal_size=SIZES[size], run_before=_ready)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_drilldown(snap_compare: Any, size: str) -> None:
    assert snap_compare(make_app(), terminal_size=SIZES[size], run_before=_drill)


@pytest.mark.parametrize("armed", [True, False], ids=["armed", "read-only"])
@pytest.mark.parametrize("size", SIZES)
def test_snapshot_fix_modal(snap_compare: Any, size: str, armed: bool) -> None:
    app = make_app(armed=armed)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_then("x"))


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_targets(snap_compare: Any, size: str) -> None:
    assert snap_compare(make_app(), terminal_size=SIZES[size], run_before=_ready, press=["t"])


def test_snapshot_help(snap_compare: Any) -> None:
    assert snap_compare(
        make_app(), terminal_size=SIZES["120x40"], run_before=_ready, press=["question_mark"]
    )
