"""The headless table, plan listing and debug-log summary: one strict sanitiser, whole
findings when piped, fitted ones on a terminal."""

from __future__ import annotations

import json

import pytest

from core.model import TargetResult
from core.report import (
    FINDING_MIN_WIDTH,
    plan_listing,
    sweep_log_lines,
    to_json_text,
    to_table,
)
from core.util import text
from tests.support.builders import (
    finding,
    make_plan,
    make_snapshot,
    make_view,
    unreachable_view,
)

#: Characters that draw nothing or reorder text: each must reach a terminal as an escape.
INVISIBLE = ["\u200b", "\u200d", "\u2028", "\u2029", "\ufeff", "\u202e", "\u00ad", "\U000e0041"]


def test_the_table_uses_the_tuis_sanitiser() -> None:
    import tui.safe

    assert tui.safe.plain is text.plain  # one sanitiser for every output


@pytest.mark.parametrize("char", INVISIBLE)
def test_invisible_and_separator_characters_are_escaped_everywhere(char: str) -> None:
    view = make_view(
        trail=f"main{char}x",
        alias=f"prod{char}",
        findings=(finding("S3_DELIVERY_ERROR", message=f"denied{char}by policy"),),
    )
    snap = make_snapshot([view])
    table = to_table(snap)
    assert char not in table
    code = ord(char)
    escape = f"\\x{code:02x}" if code < 0x100 else (
        f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    )  # fmt: skip
    assert f"main{escape}x" in table and f"denied{escape}by policy" in table
    # JSON keeps the same string, escaped so a terminal showing it sees no raw character.
    out = to_json_text(snap)
    assert char not in out
    assert json.loads(out)["views"][0]["trail_name"] == f"main{char}x"
    assert char not in "\n".join(sweep_log_lines(snap))


def test_piped_the_table_writes_every_finding_whole() -> None:
    long = "The bucket policy denies CloudTrail: " + "statement DenyAll " * 20 + "END"
    snap = make_snapshot([make_view(findings=(finding("S3_DELIVERY_ERROR", message=long),))])
    piped = to_table(snap)
    assert long + "\n" in piped
    narrow = to_table(snap, width=120)
    row = next(line for line in narrow.splitlines() if "S3_DELIVERY_ERROR" in line)
    assert len(row) == 120 and row.endswith(text.ELLIPSIS)
    tiny = to_table(snap, width=20)  # never narrower than the minimum
    row = next(line for line in tiny.splitlines() if "S3_DELIVERY_ERROR" in line)
    assert len(row.split("  ")[-1]) == FINDING_MIN_WIDTH


def test_unreachable_reasons_are_whole_when_piped() -> None:
    reason = "credential_process failed (boom); fix the profile's command: " + "x" * 300
    snap = make_snapshot(
        [unreachable_view(reason=reason)],
        targets=[TargetResult("ops", None, "eu-west-1", ok=False, error=reason)],
    )
    assert reason in to_table(snap)


def test_plan_listing_has_ids_and_titles_sorted() -> None:
    view = make_view()
    plans = {
        p.id: p
        for p in (
            make_plan(view, "s3-policy-2", title="Second\u200b plan"),
            make_plan(view, "kms-enable-1", title="Enable the key"),
        )
    }
    lines = plan_listing(plans).splitlines()
    assert [line.split()[0] for line in lines] == ["kms-enable-1", "s3-policy-2"]
    assert lines[0].endswith("Enable the key") and "Second\\u200b plan" in lines[1]
    assert "none" in plan_listing({})


def test_sweep_log_lines_name_targets_errors_and_faults() -> None:
    bad = make_view(trail="broken", findings=(finding("S3_BUCKET_MISSING", message="gone"),))
    good = make_view(trail="fine")
    snap = make_snapshot(
        [bad, good],
        targets=[
            TargetResult("prod", "111111111111", "us-east-1", ok=True),
            TargetResult("ops", None, "eu-west-1", ok=False, error="assume role failed: denied"),
        ],
    )
    lines = sweep_log_lines(snap)
    assert lines[0].startswith("sweep 1: 2 views (failing 1")
    assert "target profile prod account 111111111111 region us-east-1: ok" in lines
    assert (
        "target profile ops account ? region eu-west-1: ERROR assume role failed: denied" in lines
    )
    assert any("trail/broken failing: S3_BUCKET_MISSING: gone" in line for line in lines)
    assert not any("trail/fine" in line for line in lines)  # ok views are counted, not listed
