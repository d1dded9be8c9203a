"""Rows that are not trail views: coverage gaps and unreachable targets; the table's layout.

Fake source (no engine): the engine's shapes are built by `tests.support.builders.coverage_gap` and
`unreachable_view`, which mirror `core.judge.evaluate.coverage_gaps` and `core.engine.sweep_parts.placeholder`
(tests/tui/test_tui_engine.py checks the same rows against the real engine).
"""

from __future__ import annotations

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
from tui.rows import COLUMNS, coverage_views, is_coverage
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


LONG = "The bucket policy of trailtop-logs lacks the s3:PutObject grant for this trail " * 2
LONGEST_CODE = "CLOUDWATCH_ROLE_PERMISSIONS_MISSING"


def _long_finding_views():  # type: ignore[no-untyped-def]
    return [
        *demo_views(),
        make_view(
            "444444444444",
            "us-east-1",
            "long",
            findings=(finding("S3_POLICY_DENIES_CLOUDTRAIL", message=LONG),),
        ),
        make_view(
            "555555555555",
            "ap-southeast-2",
            "sec-cw-perms",
            findings=(
                finding(LONGEST_CODE, message="The CloudWatch Logs role lacks logs:PutLogEvents"),
            ),
        ),
    ]


async def test_columns_follow_the_width() -> None:
    """80 columns: state, account, region, trail and every whole code, one-line bars with
    r and t in the footer; wider: the message, then the optional columns."""
    app, _ = demo_app(_long_finding_views())
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        t = table(app)

        def shown_columns() -> list[str]:
            return [str(k.value) for k in t.columns]

        def used() -> int:
            return sum(c.width for c in t.columns.values()) + t.styles.scrollbar_size_vertical

        lines = screen_text(app).splitlines()
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        assert shown_columns() == ["state", "account", "region", "trail", "finding"]
        assert used() == 80
        assert "FAIL 4" in lines[0] and lines[1].split()[:2] == ["State", "Account"]
        for code in (LONGEST_CODE, "S3_POLICY_DENIES_CLOUDTRAIL", "STATUS_UNAVAILABLE"):
            assert any(f"{code}:" in line or f"{code}…" in line for line in lines), code
        assert "r Refresh" in lines[-1] and "t Targets" in lines[-1] and "Filter" in lines[-1]
        assert "sweep #42" in lines[-2]  # the status line

        def message_shown(width: int) -> str:
            line = next(row for row in screen_text(app).splitlines() if "444444444444" in row)
            return line[line.index("S3_POLICY_DENIES_CLOUDTRAIL: ") :][29:width].rstrip()

        # 120: the message has the room (the longest code plus 40 characters is more than
        # is left), so the optional columns stay out and the finding runs to the edge.
        await pilot.resize_terminal(120, 40)
        await wait_until(pilot, lambda: used() == 120)
        assert shown_columns() == ["state", "account", "region", "trail", "finding"]
        finding_width = t.columns["finding"].width  # type: ignore[index]
        assert len(message_shown(200)) >= finding_width - 1 - 29 - 1 > 30
        # 200: 40 characters of message for every code, then every column.
        await pilot.resize_terminal(200, 40)
        await wait_until(pilot, lambda: len(shown_columns()) == len(COLUMNS))
        assert used() == 200 and len(message_shown(200)) >= 40
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: "profile" not in shown_columns())
        assert t.cursor_view_id is not None
