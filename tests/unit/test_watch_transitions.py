"""Transitions between snapshots and the message each one sends (pure: plain data in)."""

from __future__ import annotations

import json
from dataclasses import replace

from core.model import State, TargetResult
from core.watch.transitions import Kind, Tracker, message
from tests.support.builders import (
    breaking,
    make_snapshot,
    make_view,
    recovering,
    unreachable_view,
)

CULPRIT = {
    "event_name": "PutBucketPolicy",
    "actor": "arn:aws:iam::111111111111:role/ci-deployer",
    "summary": "PutBucketPolicy by ci-deployer",
    "access_key_id": "ASIAEXAMPLEKEY000001",
    "source_ip": "203.0.113.9",
    "event": {"requestParameters": {"policy": "..."}},
}


def kinds(tracker: Tracker, *snaps: object) -> list[list[tuple[str, str]]]:
    return [[(t.kind.value, t.subject) for t in tracker.update(s)] for s in snaps]  # type: ignore[arg-type]


def test_a_view_turns_failing_once_and_recovers_once() -> None:
    ok = make_view()
    bad = breaking(ok)
    snaps = [
        make_snapshot([ok], sweep=1),
        make_snapshot([bad], sweep=2),
        make_snapshot([bad], sweep=3),
        make_snapshot([recovering(bad)], sweep=4),
        make_snapshot([recovering(bad)], sweep=5),
    ]
    assert kinds(Tracker(), *snaps) == [
        [],
        [("failing", ok.id)],
        [],
        [("recovered", ok.id)],
        [],
    ]


def test_unknown_in_between_is_neither_a_recovery_nor_a_second_failure() -> None:
    bad = breaking(make_view())
    unknown = replace(bad, state=State.UNKNOWN)
    snaps = [make_snapshot([bad], sweep=n) for n in (1,)] + [
        make_snapshot([unknown], sweep=2),
        make_snapshot([bad], sweep=3),
        make_snapshot([unknown], sweep=4),
        make_snapshot([recovering(bad)], sweep=5),
    ]
    out = kinds(Tracker(), *snaps)
    assert out == [[("failing", bad.id)], [], [], [], [("recovered", bad.id)]]


def test_what_fails_at_start_is_announced_only_when_asked() -> None:
    bad = breaking(make_view())
    assert kinds(Tracker(on_start=True), make_snapshot([bad])) == [[("failing", bad.id)]]
    quiet = Tracker(on_start=False)
    assert kinds(quiet, make_snapshot([bad]), make_snapshot([recovering(bad)], sweep=2)) == [
        [],
        [("recovered", bad.id)],
    ]


def test_targets_unreachable_and_back_and_placeholders_are_not_views() -> None:
    ok = make_view()
    gone = TargetResult("prod", "111111111111", "us-east-1", ok=False, error="AccessDenied")
    back = replace(gone, ok=True, error=None)
    tracker = Tracker()
    out = kinds(
        tracker,
        make_snapshot([ok], sweep=1),
        make_snapshot([unreachable_view()], sweep=2, targets=[gone]),
        make_snapshot([unreachable_view()], sweep=3, targets=[gone]),
        make_snapshot([ok], sweep=4, targets=[back]),
    )
    key = "prod|111111111111|us-east-1"
    assert out == [[], [("unreachable", key)], [], [("reachable", key)]]


def test_message_carries_root_cause_culprit_and_plan_never_credentials() -> None:
    bad = breaking(make_view(alias="prod"))
    cause = replace(bad.findings[0], cause_event=CULPRIT)
    bad = replace(bad, findings=(cause, *bad.findings[1:]))
    (t,) = Tracker().update(make_snapshot([bad], sweep=7))
    body = message(t)
    assert body["kind"] == Kind.FAILING
    assert body["root_cause"]["code"] == cause.code
    assert body["plan_ids"] == list(cause.plan_ids)
    assert body["culprit"]["event_name"] == "PutBucketPolicy"
    raw = json.dumps(body)
    for secret in ("ASIAEXAMPLEKEY000001", "203.0.113.9", "requestParameters"):
        assert secret not in raw
    assert cause.plan_ids[0] in body["text"] and str(cause.code) in body["text"]
    assert "PutBucketPolicy by ci-deployer" in body["text"]


def test_message_id_is_stable_per_transition_and_differs_between_them() -> None:
    bad = breaking(make_view())
    a = Tracker().update(make_snapshot([bad], sweep=3))[0]
    b = Tracker().update(make_snapshot([bad], sweep=3))[0]
    c = Tracker().update(make_snapshot([bad], sweep=4))[0]
    assert a.id == b.id != c.id


def test_hostile_strings_are_sanitised_and_slack_markup_escaped() -> None:
    bad = breaking(make_view(trail="t<!channel>"))
    evil = replace(bad.findings[0], message="\x1b[2J<!here> & done\u202e")
    bad = replace(bad, findings=(evil,))
    (t,) = Tracker().update(make_snapshot([bad]))
    body = message(t)
    assert "\x1b" not in json.dumps(body, ensure_ascii=False)
    assert "\u202e" not in json.dumps(body, ensure_ascii=False)
    assert "<!here>" not in body["text"] and "&lt;!here&gt;" in body["text"]
    assert "<!channel>" not in body["text"]
