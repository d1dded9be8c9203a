"""Rows that are not trail views: coverage gaps and unreachable targets; the table's layout.

Fake source (no engine): the engine's shapes are built by `tests.support.builders.coverage_gap` and
`unreachable_view`, which mirror `core.judge.evaluate.coverage_gaps` and `core.engine.sweep._placeholder`
(tests/tui/test_tui_engine.py checks the same rows against the real engine).
"""

from __future__ import annotations

import pytest

from core.model import State
from tests.support.builders import (
    coverage_gap,
    demo_views,
    finding,
    make_snapshot,
    make_view,
    unreachable_view,
)
from tests.support.screens import screen_text, statics_text
from tests.tui.test_tui import SIZE, demo_app, started, table, wait_until
from tui.rows import COLUMNS, FILL_COLUMN, FILL_MIN, coverage_views, fit_widths, is_coverage
from tui.screens.drilldown import DrilldownScreen
from tui.screens.overview import OverviewScreen

GAP_ID = "coverage|222222222222|ap-south-1"


def _app_with_gap_and_placeholder():  # type: ignore[no-untyped-def]
    views = [*demo_views(), unreachable_view()]
    snap = make_snapshot(views, sweep=42, coverage=[coverage_gap()])
    app, source = demo_app(views)
    source.initial = snap
    return app, source


def test_coverage_views_are_failing_rows_with_their_own_ids() -> None:
    snap = make_snapshot(demo_views(), coverage=[coverage_gap(), coverage_gap(region="sa-east-1")])
    rows = coverage_views(snap)
    assert [r.id for r in rows] == [GAP_ID, "coverage|222222222222|sa-east-1"]
    assert all(r.state is State.FAILING and r.trail.name == "(no trail)" for r in rows)
    assert all(is_coverage(r) and r.top_finding.code == "REGION_NOT_COVERED" for r in rows)  # type: ignore[union-attr]
    assert not {r.id for r in rows} & {v.id for v in snap.views}
    # Equal gaps from the next sweep are equal rows (so the table can skip them).
    assert coverage_views(snap) == rows


async def test_coverage_gap_is_a_failing_row_counted_in_the_header() -> None:
    app, _ = _app_with_gap_and_placeholder()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        t = table(app)
        assert GAP_ID in t.shown_ids()
        cells = t.shown_cells(GAP_ID)
        assert cells is not None
        text = {c.key: cell[0] for c, cell in zip(COLUMNS, cells, strict=True)}
        assert text["state"].strip() == "FAIL"
        assert text["trail"] == "(no trail)"
        assert text["region"] == "ap-south-1"
        assert text["s3"] == "-" and text["cw"] == "-"
        assert text["finding"].startswith("REGION_NOT_COVERED: No logging trail covers ap-south-1")
        # Worst first: it sorts among the failing rows, before every warning.
        ids = t.shown_ids()
        first_warn = next(i for i, r in enumerate(ids) if app.models[r].view.state is State.WARNING)
        assert ids.index(GAP_ID) < first_warn
        header = screen_text(app).splitlines()[0]
        assert "+1 uncovered region" in header
        assert "shown)" not in header  # every row is shown: views + the gap


async def test_coverage_row_filter_faults_jump_and_drilldown() -> None:
    app, _ = _app_with_gap_and_placeholder()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        t = table(app)
        screen = app.screen
        assert isinstance(screen, OverviewScreen)
        screen.set_filter("uncovered")
        assert t.shown_ids() == [GAP_ID]
        screen.set_filter("region_not_covered")
        assert t.shown_ids() == [GAP_ID]
        screen.set_filter("")
        await pilot.press("f")
        assert GAP_ID in t.shown_ids()
        await pilot.press("f")
        await pilot.press("colon")
        await pilot.press(*"ap-south-1", "enter")
        await wait_until(pilot, lambda: t.cursor_view_id == GAP_ID)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        text = statics_text(app.screen)
        for expected in (
            "222222222222", "ap-south-1", "no logging trail records this region",
            "No trail in this region", "REGION_NOT_COVERED", "[HIGH]",
            "No logging trail covers ap-south-1", "Create a multi-region trail",
        ):  # fmt: skip
            assert expected in text, expected
        assert "No successful GetTrailStatus" not in text
        assert " FAIL " in screen_text(app).splitlines()[0]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen))
        assert t.cursor_view_id == GAP_ID


async def test_gap_closed_removes_its_row_and_new_gap_alerts() -> None:
    app, source = _app_with_gap_and_placeholder()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        views = source.initial.views  # type: ignore[union-attr]
        source.push(make_snapshot(views, sweep=43, coverage=[]))
        await started(pilot, 2)
        assert GAP_ID not in table(app).shown_ids()
        assert "uncovered" not in screen_text(app).splitlines()[0]
        source.push(make_snapshot(views, sweep=44, coverage=[coverage_gap()]))
        await started(pilot, 3)
        assert GAP_ID in table(app).shown_ids()
        assert table(app).shown_cells(GAP_ID)[0][0].startswith("*FAIL")  # type: ignore[index]
        messages = [n.message for n in app._notifications]
        assert "222222222222 ap-south-1: no logging trail" in messages


async def test_unreachable_placeholder_renders_and_drills_down() -> None:
    app, _ = _app_with_gap_and_placeholder()
    placeholder = unreachable_view()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        t = table(app)
        cells = t.shown_cells(placeholder.id)
        assert cells is not None
        text = {c.key: cell[0] for c, cell in zip(COLUMNS, cells, strict=True)}
        assert text["state"].strip() == "UNKN"
        assert text["trail"] == "(unreachable)"
        assert text["s3"] == "?" and text["cw"] == "?"
        assert text["finding"].startswith("STATUS_UNAVAILABLE: Could not read the trail status")
        assert t.move_to(placeholder.id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        body = statics_text(app.screen)
        for expected in (
            "333333333333", "eu-west-1", "could not be read",
            "AccessDenied on DescribeTrails: not authorized",  # the reason, up front
            "STATUS_UNAVAILABLE", "No successful GetTrailStatus yet.",
        ):  # fmt: skip
            assert expected in body, expected
        assert "S3 bucket" not in body  # no empty trail configuration for a target never read
        assert " UNKN " in screen_text(app).splitlines()[0]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, OverviewScreen))
        assert t.cursor_view_id == placeholder.id


# ---------------------------------------------------------------------------- layout


def test_fit_widths_gives_the_rest_to_the_finding() -> None:
    content = {"state": 5, "account": 12, "profile": 9, "region": 14, "trail": 40}
    for width in (80, 120, 140, 200):
        w = fit_widths(content, width)
        total = sum(v + 2 for v in w.values())
        assert w[FILL_COLUMN] >= FILL_MIN
        if w[FILL_COLUMN] > FILL_MIN:
            assert total == width, (width, w)
    w = fit_widths(content, 140)
    assert w["account"] == 12 and w["region"] == 14
    assert w["trail"] == next(c.width for c in COLUMNS if c.key == "trail")  # capped
    assert w["state"] == len("State") + 2  # label and sort arrow fit


LONG = "The bucket policy of trailtop-logs lacks the s3:PutObject grant for this trail " * 2


def _long_finding_views():  # type: ignore[no-untyped-def]
    return [
        *demo_views(),
        make_view(
            "444444444444",
            "us-east-1",
            "long",
            findings=(finding("S3_POLICY_DENIES_CLOUDTRAIL", message=LONG),),
        ),
    ]


@pytest.mark.parametrize("size", [(140, 40), (200, 50)])
async def test_finding_column_takes_the_remaining_width(size: tuple[int, int]) -> None:
    app, _ = demo_app(_long_finding_views())
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        t = table(app)

        def used() -> int:
            return sum(c.width + 2 for c in t.columns.values()) + t.scrollbar_size_vertical

        widths = {k.value: c.width for k, c in t.columns.items()}
        assert used() == size[0], widths
        line = next(row for row in screen_text(app).splitlines() if "444444444444" in row)
        shown = line[line.index("S3_POLICY_DENIES_CLOUDTRAIL") :].rstrip()
        # The finding runs to the edge of the table (minus padding), ellipsised only there.
        assert len(shown) >= widths["finding"] - 1 > 50  # was 45 before the fit
        assert shown.endswith("…")
        # Shrinking the terminal recomputes the widths.
        await pilot.resize_terminal(120, 40)
        await wait_until(pilot, lambda: used() == 120)


async def test_80x24_still_fits_with_minimum_finding() -> None:
    app, _ = demo_app(_long_finding_views())
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        lines = screen_text(app).splitlines()
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        finding_col = next(c for k, c in table(app).columns.items() if k.value == FILL_COLUMN)
        assert finding_col.width == FILL_MIN
        assert "Filter" in lines[-1]
