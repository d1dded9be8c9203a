"""Layout snapshots (pytest-textual-snapshot): overview, drill-down, help at 120x40.

Deterministic: frozen clock, fixed data, first snapshot only (no toasts, no highlights).
SVGs live in tests/tui/snapshots/. Update after an intended change with
`pytest tests/tui/test_tui_snapshots.py --snapshot-update` and review the SVG diff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_textual_snapshot
from textual.pilot import Pilot

from tests.support.builders import T0, demo_views, make_snapshot
from tests.support.fakes import FakeSource, frozen_clock
from tui.app import TrailtopApp
from tui.widgets.view_table import ViewTable

SIZE = (120, 40)
SNAPSHOT_DIR = Path(__file__).parent / "snapshots"


class _Extension(pytest_textual_snapshot.SVGImageExtension):
    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        return str(SNAPSHOT_DIR)


@pytest.fixture(autouse=True)
def _snapshots_in_tests_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", _Extension)


def make_app() -> TrailtopApp:
    source = FakeSource(make_snapshot(demo_views(), sweep=42))
    return TrailtopApp(source, title_hint="demo", clock=frozen_clock(T0))


async def _ready(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, TrailtopApp)
    while app.snapshots_applied < 1:
        await pilot.pause()


async def _on_kms_row(pilot: Pilot) -> None:
    await _ready(pilot)
    app = pilot.app
    assert isinstance(app, TrailtopApp)
    table = app.query_one(ViewTable)
    target = next(
        rid for rid in table.shown_ids() if app.models[rid].view.key.account_id == "222222222222"
    )
    table.move_to(target)
    await pilot.pause()


def test_snapshot_overview(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_ready)


def test_snapshot_drilldown(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_on_kms_row, press=["enter"])


def test_snapshot_help(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_ready, press=["question_mark"])
