"""Policy merging (core/fix/merge.py): additions only, Sids kept unique, a Deny narrowed, never deleted."""

from __future__ import annotations

import json
from typing import Any

from core.fix.merge import exclude_trail, merge_statements
from tests.unit.fix_cases import (
    ACL_STMT,
    ARN,
    CT,
    SSE_DENY,
    WRITE_STMT,
    doc,
)


def test_sid_collision_twice() -> None:
    taken = {"Sid": "A", "Effect": "Allow", "Principal": CT, "Action": "s3:x", "Resource": "*"}
    taken2 = dict(taken, Sid="ATrailtop", Action="s3:y")
    merged, added = merge_statements(
        doc(taken, taken2), [dict(taken, Action="s3:z"), dict(taken, Action="s3:w")]
    )
    assert [s["Sid"] for s in added] == ["ATrailtop2", "ATrailtop3"]
    assert merged["Statement"][-2:] == [taken, taken2]


def test_merge_skips_an_identical_statement_and_keeps_other_keys() -> None:
    text = json.dumps({"Version": "2012-10-17", "Id": "keep-me", "Statement": ACL_STMT})
    merged, added = merge_statements(text, [ACL_STMT, WRITE_STMT])
    assert [s["Sid"] for s in added] == ["AWSCloudTrailWrite20150319"]
    assert merged["Id"] == "keep-me"
    assert merged["Statement"] == [WRITE_STMT, ACL_STMT]


def test_exclude_trail_extends_an_existing_arn_not_equals() -> None:
    st: dict[str, Any] = {
        **SSE_DENY,
        "Condition": {"ArnNotEquals": {"aws:SourceArn": "arn:aws:x:::a"}},
    }
    out = exclude_trail(st, ARN)
    assert out["Condition"]["ArnNotEquals"]["aws:SourceArn"] == ["arn:aws:x:::a", ARN]
    assert st["Condition"]["ArnNotEquals"]["aws:SourceArn"] == "arn:aws:x:::a"  # not mutated
