"""Pilot tests: the remediation modal, the "Who broke it" line and the targets-in-error screen.

Fake source only (no engine, no AWS): `FakeSource.apply_plan` records every call and answers
with the outcome the test sets. Waiting is by condition (`wait_until`), never by sleeping.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Checkbox, Input, Static

from core.engine.monitor import Monitor
from core.engine.sweep import engine_from_settings
from core.model import TargetResult
from sandbox import Sandbox
from tests.support.builders import T0, demo_views, make_plan, make_snapshot, recovering
from tests.support.engine import aws_env, settings_for
from tests.support.fakes import FakeSource, frozen_clock
from tests.support.screens import screen_text, statics_text, widget_text
from tests.tui.test_tui import SIZE, demo_app, started, wait_until
from tests.tui.test_tui_engine import wait_for
from tui.app import TrailtopApp
from tui.dialogs.cause_event import CauseEventScreen
from tui.dialogs.copy import CopyScreen
from tui.dialogs.plan_picker import PlanPickerScreen
from tui.dialogs.remediation import RemediationScreen
from tui.screens.drilldown import DrilldownScreen, culprit_text
from tui.screens.targets import TargetsScreen

PLAN = "s3-policy-0badc0de"
EVIL = "[/] AccessDenied [@click=app.quit]x[/] \x1b[2J"


def broken_view():  # type: ignore[no-untyped-def]
    """The demo's S3-policy view (org-main in eu-west-1), its finding naming PLAN."""
    v = demo_views()[1]
    return replace(
        v, findings=tuple(replace(f, plan_ids=(PLAN,)) if f.plan_ids else f for f in v.findings)
    )


def fix_app(
    *plans_kw: dict[str, Any], enabled: bool = True, size=SIZE
) -> tuple[TrailtopApp, FakeSource, Any]:  # type: ignore[no-untyped-def]
    views = demo_views()
    v = broken_view()
    views[1] = v
    plans = [make_plan(v, PLAN, **(plans_kw[0] if plans_kw else {}))]
    for i, kw in enumerate(plans_kw[1:], 2):
        pid = f"{PLAN}-{i}"
        plans.append(make_plan(v, pid, **kw))
        v = replace(
            v,
            findings=(
                replace(v.findings[0], plan_ids=(*v.findings[0].plan_ids, pid)),
                *v.findings[1:],
            ),
        )
    views[1] = v
    source = FakeSource(make_snapshot(views, sweep=42, plans=plans))
    app = TrailtopApp(source, clock=frozen_clock(T0), remediation_enabled=enabled)
    return app, source, v


async def open_drill(pilot, app: TrailtopApp, view_id: str) -> DrilldownScreen:  # type: ignore[no-untyped-def]
    """Push the drill-down and wait until it has rendered its view."""
    app.open_drilldown(view_id)
    await wait_until(
        pilot,
        lambda: (
            isinstance(app.screen, DrilldownScreen)
            and app.screen.view_id == view_id
            and app.screen.view is not None
        ),
    )
    return app.screen  # type: ignore[return-value]


async def open_modal(pilot, app: TrailtopApp, view) -> RemediationScreen:  # type: ignore[no-untyped-def]
    await started(pilot)
    app.open_drilldown(view.id)
    await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
    await pilot.press("x")
    await wait_until(pilot, lambda: isinstance(app.screen, RemediationScreen))
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


async def type_name(pilot, modal: RemediationScreen, name: str) -> None:  # type: ignore[no-untyped-def]
    """Type as the operator does: the confirmation field has the keyboard from the start."""
    assert pilot.app.focused is modal.query_one("#fix-confirm"), pilot.app.focused
    await pilot.press(*name)


def status(modal: RemediationScreen) -> str:
    return str(modal.query_one("#fix-status", Static).content)


def fix_line(app: TrailtopApp) -> str:
    return str(app.screen.query_one("#dd-fix", Static).content)


# ---------------------------------------------------------------------------- the modal


async def test_modal_shows_the_plan_and_a_wrong_confirmation_says_why() -> None:
    app, source, view = fix_app()
    async with app.run_test(size=SIZE) as pilot:
        modal = await open_modal(pilot, app, view)
        text = statics_text(modal, width=400)
        plan = source.last.plans[PLAN]  # type: ignore[union-attr]
        for expected in (
            plan.title, PLAN, "trail org-main", "fixes: S3_POLICY_DENIES_CLOUDTRAIL",
            "CLI  aws s3api put-bucket-policy --region eu-west-1", "SDK  s3.put_bucket_policy(",
            "Risk: Adds statements only", "Note: CloudTrail clears", "--- bucket cloudtrail-111111111111 (current)",
            '+      "Action": "s3:PutObject",', '-  "Statement": [],', "WRITES ARMED",
            "To apply: type the trail name org-main, then Enter. Esc cancels.",
        ):  # fmt: skip
            assert expected in text, expected
        # + and - lines are coloured by style (Text spans), not by markup.
        diff = next(
            p for p in modal.query_one("#fix-plan", Static).content.renderables if "@@" in str(p)
        )  # type: ignore[union-attr]
        styles = {str(diff)[s.start : s.end][:1]: s.style for s in diff.spans}
        assert styles["+"] != styles["-"] and styles["+"] and styles["-"]
        # The field has the keyboard; the footer offers only what works here.
        assert app.focused is modal.query_one("#fix-confirm", Input)
        footer = screen_text(app).splitlines()[-1]
        assert "esc Cancel" in footer and "Quit" not in footer and "Fix" not in footer
        assert modal.query_one("#fix-apply", Button).disabled
        await pilot.press("enter")  # nothing typed: says so, writes nothing, stays open
        await wait_until(pilot, lambda: "Nothing typed yet: type org-main" in status(modal))
        assert isinstance(app.screen, RemediationScreen)
        await type_name(pilot, modal, "org-mai")
        assert "Nothing typed" not in status(modal)  # typing clears the complaint
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: "'org-mai' is not the trail name: type org-main exactly." in status(modal),
        )
        assert isinstance(app.screen, RemediationScreen) and modal.record is None
        assert modal.query_one("#fix-apply", Button).disabled
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        assert source.applies == []
        assert app.fix_records == {}


def after_apply(view, clears: bool):  # type: ignore[no-untyped-def]
    """The engine's re-poll after applying: the view recovered, or still reports the finding."""

    def after(_: str):  # type: ignore[no-untyped-def]
        views = demo_views()
        if clears:  # fixed, and CloudTrail delivered since
            healed = recovering(view)
            views[1] = replace(healed, status={**healed.status, "LatestDeliveryTime": T0})  # type: ignore[dict-item]
        else:
            views[1] = view
        return make_snapshot(views, sweep=43, plans=[])

    return after


@pytest.mark.parametrize(
    ("clears", "expect_drill"),
    [
        (True, "S3_POLICY_DENIES_CLOUDTRAIL, S3_DELIVERY_ERROR cleared"),
        (False, "S3_POLICY_DENIES_CLOUDTRAIL, S3_DELIVERY_ERROR still reported (CloudTrail "
                "clears delivery errors on its next delivery)"),
    ],
    ids=["cleared", "still-reported"],
)  # fmt: skip
async def test_typed_name_applies_once_and_drilldown_reports_the_repoll(
    clears: bool, expect_drill: str
) -> None:
    app, source, view = fix_app()
    source.apply_message = "applied 1 call; audit line written"
    source.apply_gate = threading.Event()
    source.after_apply = after_apply(view, clears)
    async with app.run_test(size=SIZE) as pilot:
        modal = await open_modal(pilot, app, view)
        await type_name(pilot, modal, "org-main")
        assert not modal.query_one("#fix-apply", Button).disabled
        await pilot.press("enter")
        await wait_until(pilot, lambda: "applying…" in status(modal))
        assert source.applies == [(PLAN, False, None)]
        assert modal.query_one("#fix-confirm", Input).disabled
        assert modal.query_one("#fix-apply", Button).disabled
        assert app.focused is modal.query_one("#fix-cancel", Button)
        await pilot.press("escape")  # the apply goes on; the drill-down follows it
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        assert "applying…" in fix_line(app)
        source.apply_gate.set()
        await wait_until(pilot, lambda: not app.fix_records[view.id].pending)
        assert app.snapshot is not None and app.snapshot.sweep == 43  # the re-poll is shown
        await wait_until(pilot, lambda: expect_drill in fix_line(app))
        assert "Fix applied 0s ago" in fix_line(app)
        assert ("S3 delivery resumed" in fix_line(app)) == clears
        toast = [n for n in app._notifications if "Fix applied" in n.title]
        assert toast and not toast[0].markup and toast[0].message == "1 call; audit line written"
        verdict = widget_text(app.screen.query_one("#dd-verdict", Static), 300)
        assert ("S3_POLICY_DENIES_CLOUDTRAIL" in verdict) != clears
        assert ("Delivering: nothing wrong found." in verdict) == clears
        assert source.applies == [(PLAN, False, None)]  # exactly once


async def test_failed_aborted_refused_are_shown_literally() -> None:
    app, source, view = fix_app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await open_drill(pilot, app, view.id)
        cases = [
            ("failed", EVIL, "[/] AccessDenied [@click=app.quit]x[/] \\x1b[2J"),
            ("aborted", "bucket policy changed since the plan was made", "bucket policy changed"),
            ("refused", "remediation is disabled", "remediation is disabled"),
        ]
        for n, (outcome, message, shown) in enumerate(cases, 1):
            source.apply_outcome, source.apply_message = outcome, message
            await pilot.press("x")
            await wait_until(pilot, lambda: isinstance(app.screen, RemediationScreen))
            modal: RemediationScreen = app.screen  # type: ignore[assignment]
            # The same Input, filled without eight key round-trips (typing is tested above).
            modal.query_one("#fix-confirm", Input).insert_text_at_cursor("org-main")
            apply = modal.query_one("#fix-apply", Button)
            await wait_until(pilot, lambda b=apply: not b.disabled)
            await pilot.click("#fix-apply")
            want = f"{outcome.capitalize()}: {shown}"
            await wait_until(pilot, lambda m=modal, w=want: w in status(m))
            assert len(source.applies) == n
            toast = [t for t in app._notifications if f"Fix {outcome}" in t.title]
            assert toast and not toast[-1].markup and message.split("\x1b")[0] in toast[-1].message
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
            want = f"Fix {outcome} 0s ago: {shown}"
            await wait_until(pilot, lambda w=want: w in fix_line(app))
            assert "\x1b" not in fix_line(app)
        assert app.is_running


async def test_extra_confirmation_needs_the_checkbox() -> None:
    reason = "An explicit Deny blocks CloudTrail; this narrows it to exclude the trail"
    app, source, view = fix_app({"extra": reason})
    source.apply_message = "applied 1 call(s)"
    async with app.run_test(size=SIZE) as pilot:
        modal = await open_modal(pilot, app, view)
        text = statics_text(modal, width=400)
        assert "NEEDS EXTRA CONFIRMATION" in text and reason in text
        await type_name(pilot, modal, "org-main")
        await pilot.press("enter")  # the name alone is not enough
        await pilot.pause()
        assert source.applies == [] and modal.record is None
        assert modal.query_one("#fix-apply", Button).disabled
        assert "Tab to the box, Space to tick it" in status(modal)
        assert "extra confirmation is still needed" in status(modal)
        await pilot.press("tab")  # to the checkbox
        assert app.focused is modal.query_one("#fix-extra", Checkbox)
        await pilot.press("space")
        assert modal.query_one("#fix-extra", Checkbox).value
        await wait_until(pilot, lambda: not modal.query_one("#fix-apply", Button).disabled)
        assert app.focused is modal.query_one("#fix-apply", Button)  # Enter applies, not untick
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(source.applies) == 1)
        assert source.applies == [(PLAN, True, None)]
        # The outcome is said once (the engine's message starts with it too).
        await wait_until(pilot, lambda: "Applied: 1 call(s)" in status(modal))
        assert "applied" not in status(modal).split("\n")[0].lower().replace("applied:", "", 1)


async def test_remediation_disabled_read_only_hostile_diff_literal_and_copy() -> None:
    app, source, view = fix_app({"hostile": True}, enabled=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await open_drill(pilot, app, view.id)
        assert app.screen.check_action("fix", ()) is None  # greyed in the Footer
        modal = await open_modal(pilot, app, view)
        text = statics_text(modal, width=400)
        assert "remediation disabled: set remediation.enabled or --allow-remediation" in text
        assert "put-bucket-policy" in text and '"Action": "s3:PutObject"' in text
        # The diff carries untrusted policy text: shown literally, controls made visible.
        assert '+      "Sid": "[/]x[@click=app.quit]q[/] \\x1b[2J\\x1b]52;c;ZXZpbA==\\x07"' in text
        assert "\x1b" not in text and "\x07" not in text
        modal.query_one("#fix-body").scroll_end(animate=False)
        await pilot.pause()
        assert "\x1b" not in screen_text(app) and app.is_running
        # Nothing to type into, nothing to press but Close (focused: Enter closes).
        assert not modal.query("#fix-confirm") and not modal.query("#fix-apply")
        assert app.focused is modal.query_one("#fix-cancel", Button)
        assert "Nothing can be applied from here" in status(modal) and "read-only" in text
        modal.apply()  # even a direct call cannot get past the checks
        plan = source.last.plans[PLAN]  # type: ignore[union-attr]
        assert app.start_fix(plan, view.id, confirm_extra=False) is None
        await pilot.press("enter")  # Close
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        assert source.applies == []
        # Read-only, the plan still travels: copy the ARN and the command (OSC 52).
        assert "c Copy" in screen_text(app).splitlines()[-1]
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, CopyScreen))
        listed = screen_text(app)
        for what in ("trail ARN: arn:aws:cloudtrail:", f"plan id: {PLAN}", "command: trailtop fix",
                     "AWS CLI: aws s3api put-bucket-policy"):  # fmt: skip
            assert what in listed, what
        await pilot.press("enter")  # the first entry: the trail ARN
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        assert app.clipboard == view.trail.arn
        assert any(n.title == "Copied trail ARN" for n in app._notifications)
        await pilot.press("c", "down", "down", "enter")
        await wait_until(pilot, lambda: app.clipboard.startswith("trailtop fix"))
        assert app.clipboard == f"trailtop fix {PLAN} --allow-remediation"


async def test_several_plans_picker_unbound_parameter_and_80x24() -> None:
    app, source, view = fix_app(
        {"extra": "An explicit Deny blocks CloudTrail"},
        {"parameters": ("bucket",), "title": "Second plan: point the trail at another bucket"},
        size=(80, 24),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await open_drill(pilot, app, view.id)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanPickerScreen))
        assert "Second plan" in screen_text(app)
        await pilot.press("enter")  # the first plan: it needs the extra step
        await wait_until(pilot, lambda: isinstance(app.screen, RemediationScreen))
        assert app.screen.plan.id == PLAN  # type: ignore[attr-defined]
        lines = screen_text(app).splitlines()
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        shown = "\n".join(lines)
        for needed in ("Cancel", "Apply", "type the trail name", "I have read the warning",
                       "Tab to the box", "WRITES ARMED"):  # fmt: skip
            assert needed in shown, needed
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanPickerScreen))
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RemediationScreen))
        modal: RemediationScreen = app.screen  # type: ignore[assignment]
        assert modal.plan.id == f"{PLAN}-2"
        assert f"trailtop fix {PLAN}-2 --set bucket=..." in status(modal)
        assert not modal.query("#fix-confirm")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, PlanPickerScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        assert source.applies == []


# ---------------------------------------------------------------------------- who broke it


def cause(before: bool = False, confidence: str = "high") -> dict[str, Any]:
    record = {
        "eventName": "PutBucketPolicy",
        "eventTime": "2026-11-27T17:50:00Z",
        "userIdentity": {"arn": "arn:aws:iam::111111111111:role/ci-deployer"},
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "[@click=app.quit]boto3[/]\x1b]52;c;ZXZpbA==\x07",
        "requestParameters": {"bucketName": "cloudtrail-111111111111", "policy": "[/]"},
    }
    return {
        "event_name": "PutBucketPolicy",
        "event_time": "2026-11-27T17:50:00Z",
        "actor": "arn:aws:iam::111111111111:role/ci-deployer",
        "caller_arn": "arn:aws:sts::111111111111:assumed-role/ci-deployer/s",
        "source_ip": "203.0.113.9",
        "user_agent": record["userAgent"],
        "timing": "3 minutes after the last good delivery"
        if not before
        else "9 minutes before the last good delivery",
        "before_last_delivery": before,
        "confidence": confidence,
        "summary": "PutBucketPolicy by arn:aws:iam::111111111111:role/ci-deployer at 2026-11-27T17:50:00Z",
        "event": record,
    }


def culprit_app(ce: dict[str, Any] | None) -> tuple[TrailtopApp, Any]:
    views = demo_views()
    v = views[1]
    if ce is not None:
        v = replace(v, findings=(replace(v.findings[0], cause_event=ce), *v.findings[1:]))
    views[1] = v
    app, _ = demo_app(views)
    return app, v


@pytest.mark.parametrize("weak", ["before", "low", None])
def test_culprit_line_dimmed_and_labelled_when_weak(weak: str | None) -> None:
    ce = cause(before=weak == "before", confidence="low" if weak == "low" else "high")
    t = culprit_text(ce, T0)
    assert ("(before a good delivery)" in t.plain) == (weak == "before")
    assert ("(low confidence)" in t.plain) == (weak == "low")
    assert (str(t.style) == "dim") == (weak is not None)
    assert "\x1b" not in t.plain and "[@click=app.quit]boto3[/]" in t.plain


async def test_who_broke_it_line_and_full_event() -> None:
    app, view = culprit_app(cause())
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await open_drill(pilot, app, view.id)
        text = statics_text(app.screen, width=400)
        for expected in (
            "Who broke it: PutBucketPolicy by arn:aws:iam::111111111111:role/ci-deployer",
            "at 2026-11-27T17:50:00Z (10m00s ago)", "source IP 203.0.113.9",
            "user agent [@click=app.quit]boto3[/]\\x1b]52;c;ZXZpbA==\\x07",
        ):  # fmt: skip
            assert expected in text, expected
        assert "3 minutes after the last good delivery; confidence high" in text
        assert "(before a good delivery)" not in text and "(low confidence)" not in text
        assert "\x1b" not in text
        assert app.screen.check_action("cause_event", ()) is True
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, CauseEventScreen))
        event_text = statics_text(app.screen, width=400)
        assert '"eventName": "PutBucketPolicy"' in event_text
        assert '"policy": "[/]"' in event_text and '"sourceIPAddress": "203.0.113.9"' in event_text
        assert "\\u001b]52" in event_text and "\x1b" not in event_text
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DrilldownScreen))
        assert app.is_running


# ---------------------------------------------------------------------------- targets in error


async def test_targets_in_error_screen() -> None:
    size = (80, 24)
    views = demo_views()
    targets = (
        TargetResult("prod", "111111111111", "us-east-1", ok=True),
        TargetResult("staging", "222222222222", "eu-west-1", ok=False,
                     error="ExpiredToken: the security token included in the request is expired"),
        TargetResult("[red]evil", None, "ap-south-1", ok=False, error=EVIL),
    )  # fmt: skip
    source = FakeSource(make_snapshot(views, sweep=42, targets=targets))
    app = TrailtopApp(source, clock=frozen_clock(T0))
    async with app.run_test(size=size) as pilot:
        await started(pilot)
        assert "2/3 targets in error" in screen_text(app)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TargetsScreen))
        text = statics_text(app.screen, width=400)
        assert "2 of 3 targets could not be read in sweep #42" in text
        assert "ExpiredToken: the security token included in the request is expired" in text
        assert "[/] AccessDenied [@click=app.quit]x[/] \\x1b[2J" in text
        assert "staging" in text and "222222222222" in text and "eu-west-1" in text
        assert "[red]evil" in text and "ap-south-1" in text
        assert "us-east-1" not in text  # only targets in error
        shown = screen_text(app).splitlines()
        assert len(shown) == size[1] and all(len(line) <= size[0] for line in shown)
        assert "ExpiredToken" in "\n".join(shown)
        # Live: the next sweep recovers, the open screen says so.
        source.push(make_snapshot(views, sweep=43, now=T0 + timedelta(seconds=60)))
        await wait_until(
            pilot, lambda: "Every target answered in sweep #43" in statics_text(app.screen)
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TargetsScreen))
        # From the drill-down too (an app-wide key).
        await open_drill(pilot, app, views[0].id)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TargetsScreen))


async def test_fix_and_culprit_keys_explain_when_there_is_nothing() -> None:
    views = demo_views()
    app, _ = demo_app(views, remediation_enabled=True)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await open_drill(pilot, app, views[0].id)  # healthy: no plans, no culprit
        assert "Who broke it" not in statics_text(app.screen)
        assert app.screen.check_action("cause_event", ()) is None
        await pilot.press("e")
        await wait_until(
            pilot, lambda: any("No culprit event" in n.message for n in app._notifications)
        )
        assert isinstance(app.screen, DrilldownScreen)
        await pilot.press("x")
        await wait_until(
            pilot, lambda: any("no remediation plan" in n.message for n in app._notifications)
        )
        assert isinstance(app.screen, DrilldownScreen)
        # A view whose plan is not in the snapshot (fixed meanwhile): said, nothing opened.
        await open_drill(pilot, app, views[1].id)
        await pilot.press("x")
        await wait_until(
            pilot,
            lambda: any(
                "No plan of this view is in the current sweep" in n.message
                for n in app._notifications
            ),
        )
        assert isinstance(app.screen, DrilldownScreen)


class ReadOnlySource:
    """A SnapshotSource that cannot apply plans (not a RemediatingSource)."""

    def __init__(self, inner: FakeSource) -> None:
        self.inner = inner

    def start(self, on_snapshot: Any, on_event: Any = None) -> None:
        self.inner.start(on_snapshot, on_event)

    def refresh(self, view_id: str | None = None) -> None:
        self.inner.refresh(view_id)

    def stop(self) -> None:
        self.inner.stop()


async def test_source_that_cannot_apply_refuses_and_the_dialog_stays_usable() -> None:
    _, source, view = fix_app()
    app = TrailtopApp(ReadOnlySource(source), clock=frozen_clock(T0), remediation_enabled=True)
    async with app.run_test(size=SIZE) as pilot:
        modal = await open_modal(pilot, app, view)
        await type_name(pilot, modal, "org-main")
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: any("cannot apply plans" in n.message for n in app._notifications)
        )
        await wait_until(pilot, lambda: not modal.asked)
        assert modal.record is None and app.fix_records == {} and source.applies == []
        assert isinstance(app.screen, RemediationScreen) and modal.ready()
        assert not modal.query_one("#fix-apply", Button).disabled


# ---------------------------------------------------------------------------- the real engine

#: Only the prod account's us-west-2: the sweep is small, the trail is `prod-stopped`.
PROD_ONLY = {
    "profiles": ["demo-prod"],
    "regions": ["us-west-2"],
    "assume_roles": [],
    "organization": {"enabled": False},
}


async def test_engine_fix_from_the_modal_starts_logging(
    sandbox_factory: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """Drill into `prod-stopped`, x, type the name, confirm: the engine applies, audits and
    re-polls at once (the poll interval is far longer than the test); the finding is gone."""
    t0 = time.perf_counter()
    sb = sandbox_factory("demo", delivery_interval=1.0)
    audit = tmp_path / "a.jsonl"
    settings = settings_for(
        sb,
        aws=PROD_ONLY,
        remediation={"enabled": True, "audit_log": str(audit)},
        poll={"interval_seconds": 3600, "diagnose_refresh_seconds": 0},
    )
    with aws_env(sb):
        monitor = Monitor(engine_from_settings(settings))
        app = TrailtopApp(monitor, remediation_enabled=True)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: app.snapshot is not None, 60, "the first sweep")
                t1 = time.perf_counter()
                snap = app.snapshot
                assert snap is not None
                view = next(v for v in snap.views if v.trail.name == "prod-stopped")
                assert any(f.code == "LOGGING_STOPPED" for f in view.findings)
                plan_id = next(p for f in view.findings for p in f.plan_ids)
                assert plan_id.startswith("trail-start-logging-")
                first_sweep = snap.sweep
                await open_drill(pilot, app, view.id)
                await pilot.press("x")
                await wait_for(
                    pilot, lambda: isinstance(app.screen, RemediationScreen), 10, "the modal"
                )
                modal: RemediationScreen = app.screen  # type: ignore[assignment]
                assert modal.plan.id == plan_id
                assert "start_logging" in statics_text(modal, 300)
                await type_name(pilot, modal, "prod-stopped")
                await pilot.press("enter")
                rec = app.fix_records[view.id]
                await wait_for(pilot, lambda: not rec.pending, 60, "the apply")
                assert rec.result == "applied", rec.message
                await wait_for(pilot, lambda: "Applied" in status(modal), 10, "the result")
                await pilot.press("escape")
                await wait_for(
                    pilot,
                    lambda: "LOGGING_STOPPED cleared" in fix_line(app),
                    30,
                    "the re-poll to clear the finding",
                )
                now = app.snapshot
                assert now is not None and now.sweep == first_sweep + 1  # re-polled at once
                after = now.view(view.id)
                assert after is not None and after.status and after.status.get("IsLogging")
                assert "LOGGING_STOPPED" not in {f.code for f in after.findings}
                lines = audit.read_text().splitlines()
                assert len(lines) == 1
                entry = json.loads(lines[0])
                assert entry["result"] == "applied" and entry["plan"]["id"] == plan_id
                print(
                    f"\n[engine fix] sandbox+first sweep {t1 - t0:.1f}s, "
                    f"fix to cleared {time.perf_counter() - t1:.1f}s"
                )
        finally:
            monitor.stop()
