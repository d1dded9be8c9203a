"""Pure rules of the TUI's layout and wording (no app): which columns fit a width, how a
one-line bar gives way, what a row shows for a filter, how the status panel and a fix's
outcome read."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from rich.console import Console, RenderableType

from tests.support.builders import T0, demo_views, make_plan, make_view
from tui.layout import (
    GAP,
    MESSAGE_CHARS,
    OPTIONAL,
    REQUIRED,
    Measure,
    column_widths,
    cut_middle,
    fit_line,
    segment,
)
from tui.remediation import outcome_words
from tui.rows import (
    COLUMNS,
    MATCH_MARK,
    build_model,
    code_width,
    matches,
    preferred_widths,
    row_cells,
    shown_finding,
)
from tui.screens.drilldown import verdict_renderable
from tui.screens.trail_text import status_renderable

#: The demo estate's longest shown texts (12-digit accounts, ap-southeast-2, ...).
DEMO = {"state": 5, "account": 12, "profile": 9, "region": 14, "trail": 17, "finding": 140}


def layout(width: int, code: int = 35, **content: int) -> dict[str, int]:
    measured = {**DEMO, **content}
    return column_widths(Measure(measured, code + 1), width, preferred_widths(measured))


def used(widths: dict[str, int]) -> int:
    return sum(w + GAP for w in widths.values())


@pytest.mark.parametrize("width", [79, 99, 119, 159, 199])
def test_required_columns_and_whole_codes_at_every_width(width: int) -> None:
    w = layout(width)
    assert set(REQUIRED) <= set(w)
    assert w["finding"] >= 35 + 1  # the longest code, whole, then its ellipsis
    assert used(w) == width  # the finding fills the rest
    assert w["account"] == 12  # never cut to make room
    assert w["region"] >= 10 and w["trail"] >= 10  # cut in the middle, never to a stub


def test_at_80_columns_the_trail_gives_way_and_the_optional_columns_stay_out() -> None:
    w = layout(79)
    assert list(w) == ["state", "account", "region", "trail", "finding"]
    assert (
        w["trail"] >= 10 and w["region"] >= 10 and w["trail"] + w["region"] == 79 - 5 - 12 - 36 - 5
    )
    # A long account name is cut only once the trail is down to its floor.
    w = layout(79, account=24)
    assert w["trail"] == 6 and w["account"] < 24 and w["finding"] == 36


def test_the_message_has_room_before_any_optional_column() -> None:
    for width in range(80, 240):
        for code in (16, 27, 35):
            w = layout(width, code)
            if any(k in w for k in OPTIONAL):
                assert w["finding"] >= code + 1 + 2 + MESSAGE_CHARS, (width, code, w)
    # The message gets what the required columns leave: with 12-digit accounts, 14-character
    # regions and 17-character trail names, 27 characters at 100 columns for a 16-character
    # code, 40 and more from 120; wide terminals show every column.
    assert layout(99, 16)["finding"] - 17 - 2 == 27
    assert layout(119, 16)["finding"] - 17 - 2 >= MESSAGE_CHARS
    assert set(layout(199)) == {c.key for c in COLUMNS}


def test_short_findings_leave_room_to_the_optional_columns() -> None:
    w = layout(119, code=16, finding=40)
    assert set(w) == {c.key for c in COLUMNS} and used(w) == 119


def test_code_width_counts_the_ellipsis_only_when_a_message_follows() -> None:
    assert code_width("KMS_KEY_DISABLED: the key is disabled") == len("KMS_KEY_DISABLED") + 1
    assert code_width("+KMS_KEY_DISABLED") == len("+KMS_KEY_DISABLED")
    assert code_width("") == 0


def test_fit_line_shortens_then_drops_the_least_important_first() -> None:
    segs = [
        segment(5, "trailtop demo estate", "trailtop", droppable=True),
        segment(0, "FAIL 13  WARN 2  UNKN 0  OK 16", "FAIL 13 WARN 2 UNKN 0 OK 16"),
        segment(1, " WRITES ARMED ", "ARMED"),
        segment(2, "⟳ sweeping: 3 of 16 targets", "⟳ 3 of 16 targets", "⟳"),
        segment(3, "2/16 targets in error (t)", "2/16 in error (t)", "2 err"),
    ]
    wide = fit_line(segs, 200).plain
    assert wide.startswith("trailtop demo estate  FAIL 13") and wide.endswith("in error (t)")
    at80 = fit_line(segs, 78).plain
    assert len(at80) <= 78
    for part in ("FAIL 13", "ARMED", "3 of 16 targets", "2/16 in error (t)"):
        assert part in at80, at80
    assert "trailtop" not in at80  # the title went first
    at40 = fit_line(segs, 40).plain
    assert len(at40) <= 40 and at40.startswith("FAIL 13 WARN 2 UNKN 0 OK 16")
    assert "ARMED" in at40  # armed writes outrank progress and errors
    assert len(fit_line(segs, 10).plain) <= 10  # cut with an ellipsis, never wrapped


# ---------------------------------------------------------------------------- filter


def test_a_filter_that_matches_another_finding_shows_it_marked() -> None:
    v = demo_views()[4]  # staging-trail eu-west-1: KMS_KEY_DISABLED, then S3_DELIVERY_STALE
    m = build_model(v)
    assert shown_finding(v, "")[0] is v.top_finding
    assert shown_finding(v, "kms") == (v.top_finding, False)
    stale, marked = shown_finding(v, "stale")
    assert stale is v.findings[1] and marked
    assert matches(m, "stale", False)
    cell = row_cells(m, T0, query="stale")[-1][0]
    assert cell.startswith(MATCH_MARK + "S3_DELIVERY_STALE: ")
    assert row_cells(m, T0, query="eu-west")[-1][0].startswith("KMS_KEY_DISABLED")
    # A row that does not carry the code is not listed at all.
    assert not matches(build_model(demo_views()[0]), "kms", False)


# ---------------------------------------------------------------------------- drill-down


def render(r: RenderableType, width: int = 120) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    console.print(r)
    return console.export_text(styles=False)


def test_status_panel_reads_times_one_way_and_flags_as_words() -> None:
    status = {
        "IsLogging": True,
        "LatestDeliveryTime": T0 - timedelta(minutes=5),
        "TimeLoggingStarted": "2026-10-28T18:00:00Z",  # GetTrailStatus sends some as strings
        "LatestDeliveryAttemptSucceeded": "2026-11-27T17:55:00Z",
        "LatestDeliveryError": "",
    }
    text = render(status_renderable(make_view(status=status), T0))
    assert "True" not in text and "IsLogging" in text and "yes" in text
    assert "2026-11-27T17:55:00Z  5m00s ago" in text
    assert "2026-10-28T18:00:00Z  30d00h ago" in text
    assert "2026-11-27T17:55:00Z  5m00s ago" in text.split("LatestDeliveryAttemptSucceeded")[1]
    assert "2026-11-27 17:55" not in text  # no second format


def test_verdict_leads_with_the_cause_the_culprit_and_the_fix_key() -> None:
    v = demo_views()[1]
    plans = {
        "fix-bucket-policy": make_plan(
            v, "fix-bucket-policy", title="Grant CloudTrail s3:PutObject"
        )
    }
    text = render(
        verdict_renderable(
            v, plan_ids=["fix-bucket-policy"], plans=plans, remediation_enabled=False, now=T0
        ),
        80,
    )
    lines = text.splitlines()
    assert lines[0].startswith("Root cause: [CRITICAL] S3_POLICY_DENIES_CLOUDTRAIL")
    assert "Who broke it: not known" in text
    assert "Fix: x reviews plan fix-bucket-policy: Grant CloudTrail s3:PutObject" in text
    assert "read-only: remediation is off" in text
    assert text.index("Fix:") < text.index("Evidence:")  # the key before the long part
    ok = render(
        verdict_renderable(demo_views()[0], plan_ids=[], plans={}, remediation_enabled=True, now=T0)
    )
    assert ok.startswith("Delivering: nothing wrong found.") and "last S3 delivery 5m00s ago" in ok
    unknown = demo_views()[6]
    cannot = render(
        verdict_renderable(unknown, plan_ids=[], plans={}, remediation_enabled=True, now=T0)
    )
    assert cannot.startswith("Cannot tell: [UNKNOWN] STATUS_UNAVAILABLE")
    assert "Who broke it" not in cannot


@pytest.mark.parametrize(
    ("result", "message", "words"),
    [
        ("applied", "applied 1 call(s)", ("Applied", "1 call(s)")),
        ("failed", "AccessDenied: no", ("Failed", "AccessDenied: no")),
        ("refused", "refused: remediation is disabled", ("Refused", "remediation is disabled")),
        ("aborted", "", ("Aborted", "")),
    ],
)
def test_a_fix_outcome_is_said_once(result: str, message: str, words: tuple[str, str]) -> None:
    assert outcome_words(result, message) == words


def test_names_are_cut_in_the_middle_so_look_alikes_stay_apart() -> None:
    names = ("prod-kms-pending", "prod-kms-policy", "prod-kms-disabled")
    assert len({cut_middle(n, 9) for n in names}) == 3
    assert cut_middle("prod-kms-pending", 9) == "prod…ding"
    assert cut_middle("ap-southeast-2", 10) == "ap-so…st-2"
    assert cut_middle("audit", 9) == "audit" and len(cut_middle("x" * 40, 7)) == 7
