"""Mutes (core/mute.py): matching, state without the muted findings, exit status, expiry on
an injected clock (reported once), the mute file, and the [mute] settings."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.codes import Code
from core.model import Channel, Severity, State, TrailView
from core.mute import (
    Mute,
    MuteBook,
    add_mute,
    apply_mutes,
    load_mute_file,
    mute_for,
    save_mute_file,
)
from core.report import EXIT_FAILING, EXIT_OK, EXIT_UNKNOWN, exit_code, snapshot_json, to_table
from core.settings import ConfigError, Settings, load_settings
from tests.support.builders import (
    T0,
    coverage_gap,
    finding,
    make_snapshot,
    make_view,
    unreachable_view,
)

LATER = T0 + timedelta(days=30)


def kms_view(
    account: str = "111111111111", region: str = "eu-west-1", trail: str = "prod"
) -> TrailView:
    return make_view(
        account,
        region,
        trail,
        alias="acme-prod",
        findings=(
            finding("KMS_KEY_DISABLED", channel=Channel.KMS),
            finding("S3_DELIVERY_STALE", Severity.HIGH),
            finding("SNS_TOPIC_MISSING", Severity.MEDIUM, Channel.SNS),
        ),
    )


def mute(code: str = "*", **kw: object) -> Mute:
    fields: dict[str, object] = {"reason": "accepted", "expires": LATER, **kw}
    return Mute(code=code, **fields)  # type: ignore[arg-type]


# -- matching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "hit"),
    [
        (mute("KMS_*"), True),
        (mute("KMS_KEY_DISABLED", account="111111111111"), True),
        (mute("KMS_KEY_DISABLED", account="acme-*"), True),  # by alias
        (mute("KMS_KEY_DISABLED", account="2*"), False),
        (mute("KMS_KEY_DISABLED", region="eu-*"), True),
        (mute("KMS_KEY_DISABLED", region="us-*"), False),
        (mute("KMS_KEY_DISABLED", trail="pro?"), True),  # by name
        (mute("KMS_KEY_DISABLED", trail="arn:aws:cloudtrail:*:trail/prod"), True),  # by ARN
        (mute("KMS_KEY_DISABLED", trail="staging"), False),
        (mute("kms_key_disabled"), False),  # codes are case-sensitive
    ],
)
def test_a_mute_matches_by_every_pattern(rule: Mute, hit: bool) -> None:
    v = kms_view()
    muted = apply_mutes([v], [], [rule], T0).views[0]
    kms = next(f for f in muted.findings if f.code == Code.KMS_KEY_DISABLED)
    assert (kms.muted is not None) is hit


def test_the_tuis_mute_matches_exactly_one_finding_of_one_view() -> None:
    v = kms_view(trail="odd[name]*")
    other = kms_view(trail="odd-other")
    m = mute_for(v, v.findings[0], "known", LATER, "file")
    a, b = apply_mutes([v, other], [], [m], T0).views
    assert [f.code for f in a.findings if f.muted] == [Code.KMS_KEY_DISABLED]
    assert all(f.muted is None for f in b.findings)


# -- what muting changes ----------------------------------------------------------------------


def test_muted_findings_stay_but_the_state_comes_from_the_others() -> None:
    v = kms_view()
    assert v.state is State.FAILING
    out = apply_mutes([v], [], [mute("KMS_KEY_DISABLED"), mute("S3_DELIVERY_STALE")], T0)
    w = out.views[0]
    assert w.state is State.WARNING  # SNS_TOPIC_MISSING (medium) is left
    assert [f.code for f in w.findings] == [
        Code.SNS_TOPIC_MISSING,  # the top finding is one that counts
        Code.KMS_KEY_DISABLED,
        Code.S3_DELIVERY_STALE,
    ]
    doc = snapshot_json(make_snapshot([w]))
    muted = [f for f in doc["views"][0]["findings"] if "muted" in f]
    assert muted[0]["muted"] == {
        "reason": "accepted",
        "expires": "2026-12-27T18:00:00Z",
        "source": "config",
    }
    assert doc["summary"]["muted"] == 2 and doc["summary"]["warning"] == 1


def test_nothing_muted_leaves_the_view_as_it_was() -> None:
    v = kms_view()
    assert apply_mutes([v], [], [mute("NOPE")], T0).views[0] is v


def test_applying_again_replaces_the_marks() -> None:
    v = kms_view()
    once = apply_mutes([v], [], [mute("KMS_KEY_DISABLED")], T0).views
    again = apply_mutes(once, [], [], T0).views[0]
    assert all(f.muted is None for f in again.findings)
    assert again.state is State.FAILING


def test_an_unreadable_view_stays_unknown_unless_its_status_finding_is_muted() -> None:
    v = replace(
        unreachable_view(),
        findings=(*unreachable_view().findings, finding("KMS_KEY_DISABLED", channel=Channel.KMS)),
    )
    kept = apply_mutes([v], [], [mute("KMS_KEY_DISABLED")], T0).views[0]
    assert kept.state is State.UNKNOWN
    gone = apply_mutes([v], [], [mute("STATUS_UNAVAILABLE")], T0).views[0]
    assert gone.state is State.FAILING  # what was read still counts


def test_exit_status_drops_from_1_to_0_when_every_failing_finding_is_muted() -> None:
    views = [kms_view(), make_view("222222222222", "us-east-1", "ok-trail")]
    gap = coverage_gap()
    before = make_snapshot(views, coverage=[gap])
    assert exit_code(before) == EXIT_FAILING
    rules = [mute("KMS_KEY_DISABLED"), mute("S3_DELIVERY_STALE"), mute("SNS_*")]
    half = apply_mutes(views, [gap], rules, T0)
    assert exit_code(make_snapshot(half.views, coverage=half.coverage)) == EXIT_FAILING  # gap
    rules.append(mute("REGION_NOT_COVERED", account="222222222222", region="ap-south-1"))
    out = apply_mutes(views, [gap], rules, T0)
    snap = make_snapshot(out.views, coverage=out.coverage)
    assert exit_code(snap) == EXIT_OK
    assert snap.counts()["failing"] == 0
    table = to_table(snap)
    assert "[MUTED until 2026-12-27T18:00:00Z: accepted] KMS_KEY_DISABLED" in table
    assert "muted 4" in table.splitlines()[0]


def test_muting_an_unreadable_target_does_not_claim_it_was_read() -> None:
    out = apply_mutes([unreachable_view()], [], [mute("STATUS_UNAVAILABLE")], T0)
    snap = make_snapshot(out.views)
    snap = replace(snap, targets=(replace(snap.targets[0], ok=False, error="AccessDenied"),))
    assert exit_code(snap) == EXIT_UNKNOWN


# -- expiry, on an injected clock -------------------------------------------------------------


def test_an_expired_mute_counts_again_and_is_reported_once() -> None:
    expires = T0 + timedelta(hours=1)
    book = MuteBook(config=[mute("KMS_KEY_DISABLED", expires=expires, reason="ticket 7")])
    views = [kms_view(), kms_view(region="us-east-1")]

    before, _, said = book.apply(views, [], T0)
    assert all(v.findings[-1].muted is not None for v in before) and said == []

    at_expiry, _, said = book.apply(views, [], expires)
    assert all(f.muted is None for v in at_expiry for f in v.findings)
    assert [(n.kind, n.account_id) for n in said] == [("mute-expired", "111111111111")]
    assert "ticket 7" in said[0].message and "KMS_KEY_DISABLED" in said[0].message

    _, _, said_again = book.apply(views, [], expires + timedelta(minutes=5))
    assert said_again == []


def test_an_expired_mute_that_covers_nothing_is_not_reported() -> None:
    book = MuteBook(config=[mute("CLOUDWATCH_*", expires=T0 - timedelta(days=1))])
    assert book.apply([kms_view()], [], T0)[2] == []


# -- the mute file -----------------------------------------------------------------------------


def test_the_mute_file_round_trips_hostile_text(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "mutes.toml"
    reason = 'say "no"\\ \x1b[2J\u202e\n[[rules]]'
    v = kms_view(trail='t"r\\a[i]l')
    m = mute_for(v, v.findings[0], reason, LATER, str(path))
    assert add_mute(path, m) == [m]
    second = mute("S3_*", region="eu-*")
    add_mute(path, second)
    loaded = load_mute_file(path)
    assert loaded == [m, replace(second, source=str(path))]
    assert apply_mutes([v], [], loaded, T0).views[0].findings[-1].muted is not None


def test_a_missing_mute_file_is_no_mutes_and_a_broken_one_names_itself(tmp_path: Path) -> None:
    assert load_mute_file(tmp_path / "none.toml") == []
    bad = tmp_path / "mutes.toml"
    bad.write_text('[[rules]]\ncode = "X"\nexpires = 2027-01-01\n')  # no reason
    with pytest.raises(ConfigError, match=r"mutes\.toml.*reason"):
        load_mute_file(bad)
    bad.write_text("[[rules]\n")
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_mute_file(bad)


def test_the_book_merges_config_and_file_and_rereads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mutes.toml"
    book = MuteBook(config=[mute("SNS_*")], path=path)
    book.refresh(strict=True)
    assert [m.code for m in book.mutes] == ["SNS_*"]
    save_mute_file(path, [mute("KMS_*")])
    views, _, _ = book.apply([kms_view()], [], T0)
    assert {f.code for f in views[0].findings if f.muted} == {
        Code.SNS_TOPIC_MISSING,
        Code.KMS_KEY_DISABLED,
    }
    path.write_text("not toml [")
    os.utime(path, ns=(1, 1))  # a different stamp, whatever the clock's resolution
    book.refresh()  # a broken edit while running: the mutes read before still apply
    assert [m.code for m in book.mutes] == ["SNS_*", "KMS_*"]
    with pytest.raises(ConfigError):
        MuteBook(path=path).refresh(strict=True)


# -- settings ----------------------------------------------------------------------------------


def test_mute_rules_in_the_config_dates_are_midnight_utc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k in list(os.environ):
        if k.startswith("TRAILTOP_"):
            monkeypatch.delenv(k)
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[mute]\nfile = ""\n'
        '[[mute.rules]]\ncode = "LOGGING_STOPPED"\ntrail = "sandbox-*"\n'
        'reason = "off on purpose"\nexpires = 2027-01-01\n'
        '[[mute.rules]]\ncode = "KMS_*"\nreason = "r"\nexpires = 2027-01-01T12:30:00\n'
    )
    settings, _ = load_settings(str(cfg))
    first, second = settings.mute.rules
    assert first.expires == datetime(2027, 1, 1, tzinfo=UTC)
    assert (first.account, first.region) == ("*", "*")
    assert second.expires == datetime(2027, 1, 1, 12, 30, tzinfo=UTC)
    book = MuteBook.from_settings(settings)
    assert book.path is None and [m.code for m in book.mutes] == ["LOGGING_STOPPED", "KMS_*"]


def test_a_mute_rule_without_reason_or_expiry_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k in list(os.environ):
        if k.startswith("TRAILTOP_"):
            monkeypatch.delenv(k)
    cfg = tmp_path / "config.toml"
    cfg.write_text('[[mute.rules]]\ncode = "LOGGING_STOPPED"\nreason = "x"\n')
    with pytest.raises(ConfigError, match="expires"):
        load_settings(str(cfg))
    monkeypatch.setenv("TRAILTOP_MUTE__RULES", json.dumps([{"code": "X", "expires": "2027-01-01"}]))
    with pytest.raises(ConfigError, match="reason"):
        load_settings(None, {"mute": {"file": ""}})


def test_the_default_mute_file_is_under_the_users_config() -> None:
    assert Settings().mute.file == "~/.config/trailtop/mutes.toml"
