"""Pure helpers of the TUI: literal text, age formats, row diffing, alert phrasing."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text

from core.model import State
from core.util.times import parse_time
from tests.support.builders import T0, breaking, bulk_views, demo_views, make_view, recovering
from tui.alerts import build_alerts, transitions
from tui.format import fmt_age, fmt_coarse, fmt_duration, fmt_seconds, fmt_since
from tui.rows import (
    COLUMN_KEYS,
    build_models,
    jump_matches,
    matches,
    row_cells,
    sort_key,
)
from tui.safe import plain, safe_text


def test_plain_neutralises_controls_and_bidi() -> None:
    s = plain("a\x1b[2Jb\x07c\x9bd\u202ee\nf\tg")
    assert "\x1b" not in s and "\x07" not in s and "\x9b" not in s and "\u202e" not in s
    assert s == "a\\x1b[2Jb\\x07c\\x9bd\\u202ee\\x0af\\x09g"
    assert plain("x\ny\x1b", multiline=True) == "x\ny\\x1b"
    assert plain(None) == "" and plain(42) == "42"


def test_plain_truncates_long_strings() -> None:
    s = plain("A" * 5000, max_len=40)
    assert len(s) == 40 and s.endswith("…")
    assert plain("short", max_len=40) == "short"


def test_safe_text_is_literal() -> None:
    t = safe_text("[@click=app.quit]x[/] [link=https://e.example]y[/link]")
    assert isinstance(t, Text)
    assert t.plain == "[@click=app.quit]x[/] [link=https://e.example]y[/link]"
    assert not t.spans  # nothing was parsed into styles, links or actions


def test_age_formats() -> None:
    assert fmt_seconds(42) == "42s"
    assert fmt_seconds(725) == "12m05s"
    assert fmt_seconds(3 * 3600 + 300) == "3h05m"
    assert fmt_seconds(4 * 86400 + 3 * 3600) == "4d03h"
    assert fmt_age(None, T0) == "never"
    assert fmt_age(T0 + timedelta(seconds=30), T0) == "+30s"  # skew is shown, not hidden
    # trailtop's own times after the wall clock stepped back an hour: never negative.
    assert fmt_since(T0 + timedelta(hours=1), T0) == "0s"
    assert fmt_since(T0 - timedelta(seconds=90), T0) == "1m30s"
    assert fmt_coarse(725) == "12m" and fmt_coarse(5) == "5s"
    assert fmt_duration(4.25) == "4.2s"
    assert parse_time("2026-11-27T18:00:00Z") == T0
    assert parse_time("garbage") is None and parse_time(None) is None


def test_row_cells_words_not_only_colours() -> None:
    cells = {
        k: c
        for k, c in zip(
            COLUMN_KEYS, row_cells(build_models(demo_views())[demo_views()[1].id], T0), strict=True
        )
    }
    assert cells["state"][0].strip() == "FAIL"
    assert cells["s3"][0] == "5m00s"
    assert cells["finding"][0].startswith("S3_POLICY_DENIES_CLOUDTRAIL: ")
    stale = make_view(stale=True)
    assert "~12m" in row_cells(build_models([stale])[stale.id], T0)[0][0]


def test_filter_and_jump_matching() -> None:
    models = build_models(demo_views())
    hits = [m for m in models.values() if matches(m, "KMS_KEY_disabled", False)]
    assert [m.view.key.account_id for m in hits] == ["222222222222"]
    assert all(m.view.state is not State.OK for m in models.values() if matches(m, "", True))
    assert any(jump_matches(m, "acme-prod") for m in models.values())
    assert any(jump_matches(m, "eu-cen") for m in models.values())
    assert not any(jump_matches(m, "") for m in models.values())


def test_models_reused_when_view_unchanged() -> None:
    views = bulk_views(50)
    first = build_models(views)
    changed = breaking(views[3])
    second = build_models([changed if v is views[3] else v for v in views], first)
    assert second[views[0].id] is first[views[0].id]
    assert second[views[3].id] is not first[views[3].id]


def test_sort_keys_order_worst_first_and_by_age() -> None:
    models = build_models(demo_views())
    ordered = sorted(models.values(), key=lambda m: sort_key(m, None))
    states = [m.view.state for m in ordered]
    assert states[0] is State.FAILING and states[-1] is State.OK
    by_s3 = sorted(models.values(), key=lambda m: sort_key(m, "s3"))
    assert by_s3[0].s3_time is None  # never delivered sorts as the oldest


def test_alerts_first_snapshot_silent_and_aggregated() -> None:
    views = demo_views()
    assert transitions(None, views) == ([], [])
    before = {v.id: v.state for v in views}
    ok = [v for v in views if v.state is State.OK]
    failed, recovered = transitions(before, [breaking(ok[0])])
    assert [v.id for v in failed] == [ok[0].id] and not recovered
    alerts = build_alerts([breaking(v) for v in ok], [recovering(views[1])])
    assert [a.title for a in alerts] == [f"{len(ok)} views turned failing", "Trail recovered"]
    assert "… and" in alerts[0].message or len(ok) <= 3
