"""Plain `core.model` builders and a fake SnapshotSource for the TUI tests (no engine, no AWS).

`FakeSource.push()` delivers from a separate thread, exactly like the real engine does.
`python -m tests.support.fakes FILE.svg` renders this fake estate; the README screenshot comes
from the real demo estate: `python docs/make_screenshot.py`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core.engine.protocols import EventCallback, SnapshotCallback
from core.fix.model import ApiCall, Plan
from core.model import (
    Channel,
    CoverageGap,
    Finding,
    Severity,
    Snapshot,
    State,
    TargetResult,
    TrailConfig,
    TrailView,
    ViewKey,
    worst_state,
)

T0 = datetime(2026, 11, 27, 18, 0, 0, tzinfo=UTC)
REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
    "ap-southeast-1", "ap-southeast-2", "ca-central-1", "sa-east-1", "ap-northeast-3",
)  # fmt: skip


def frozen_clock(at: datetime = T0):  # type: ignore[no-untyped-def]
    return lambda: at


@dataclass(frozen=True)
class FakeApplyResult:
    """Shaped like core.fix.apply.ApplyResult (the TUI duck-types it)."""

    plan_id: str
    result: str
    message: str
    completed: int = 0
    error: str | None = None
    audit_path: str | None = None

    @property
    def ok(self) -> bool:
        return self.result == "applied"


class FakeSource:
    """A SnapshotSource that emits what the test tells it to, from its own thread.

    It also has the optional remediation capability (`apply_plan`, like core.engine.monitor.Monitor):
    every call is recorded in `applies`; the outcome is `apply_outcome` (applied / failed /
    aborted / refused) with `apply_message`; a plan needing extra confirmation is refused
    without `confirm_extra`, as the engine does. When applied, `after_apply(plan_id)` (if
    set) gives the re-poll snapshot, delivered to the snapshot callback before `on_done`.
    `apply_gate` (an Event) holds the answer until set, so a test can see "applying…".
    """

    def __init__(self, initial: Snapshot | None = None) -> None:
        self.initial = initial
        self.on_snapshot: SnapshotCallback | None = None
        self.on_event: EventCallback | None = None
        self.refreshes: list[str | None] = []
        self.stopped = 0
        self.started = threading.Event()
        self.last: Snapshot | None = None
        self.applies: list[tuple[str, bool, Any]] = []
        self.apply_outcome = "applied"
        self.apply_message = ""
        self.apply_gate: threading.Event | None = None
        self.after_apply: Callable[[str], Snapshot | None] | None = None

    def apply_plan(
        self,
        plan_id: str,
        on_done: Callable[[Any, Snapshot | None], None],
        *,
        confirm_extra: bool = False,
        bindings: Any = None,
    ) -> None:
        self.applies.append((plan_id, confirm_extra, bindings))

        def run() -> None:
            if self.apply_gate is not None:
                self.apply_gate.wait(30)
            plan = self.last.plans.get(plan_id) if self.last is not None else None
            outcome, message = self.apply_outcome, self.apply_message
            if plan is None:
                outcome, message = "refused", f"no plan {plan_id} in the current sweep"
            elif plan.needs_extra_confirmation and not confirm_extra:
                outcome, message = "refused", "this plan needs extra confirmation"
            result = FakeApplyResult(plan_id, outcome, message or f"{outcome}: {plan_id}")
            snap = None
            if outcome == "applied" and self.after_apply is not None:
                snap = self.after_apply(plan_id)
                if snap is not None and self.on_snapshot is not None:
                    self.last = snap
                    self.on_snapshot(snap)
            on_done(result, snap)

        threading.Thread(target=run, name="fake-engine-apply", daemon=True).start()

    def start(self, on_snapshot: SnapshotCallback, on_event: EventCallback | None = None) -> None:
        self.on_snapshot, self.on_event = on_snapshot, on_event
        self.started.set()
        if self.initial is not None:
            self.push(self.initial)

    def push(self, snapshot: Snapshot) -> None:
        """Deliver a snapshot from another thread (returns once the callback returned)."""
        assert self.on_snapshot is not None, "source not started"
        self.last = snapshot
        t = threading.Thread(target=self.on_snapshot, args=(snapshot,), name="fake-engine")
        t.start()
        t.join()

    def event(self, phase: str, detail: str = "") -> None:
        assert self.on_event is not None
        t = threading.Thread(target=self.on_event, args=(phase, detail), name="fake-engine")
        t.start()
        t.join()

    def refresh(self, view_id: str | None = None) -> None:
        self.refreshes.append(view_id)

    def stop(self) -> None:
        self.stopped += 1


# ---------------------------------------------------------------------------- builders


def finding(
    code: str,
    severity: Severity = Severity.CRITICAL,
    channel: Channel = Channel.S3,
    message: str = "",
    evidence: dict[str, Any] | None = None,
    remediation: str = "",
    plan_ids: tuple[str, ...] = (),
) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        channel=channel,
        message=message or code.replace("_", " ").lower(),
        evidence=evidence or {},
        remediation=remediation,
        plan_ids=plan_ids,
    )


def make_view(
    account: str = "111111111111",
    region: str = "us-east-1",
    trail: str = "main",
    *,
    findings: Sequence[Finding] = (),
    alias: str | None = None,
    profile: str | None = "prod",
    multi_region: bool = False,
    home_region: str | None = None,
    org: bool = False,
    log_group: bool = True,
    now: datetime = T0,
    s3_age: float | None = 300.0,
    cw_age: float | None = 120.0,
    status: dict[str, Any] | None = None,
    stale: bool = False,
    state: State | None = None,
) -> TrailView:
    home = home_region or region
    arn = f"arn:aws:cloudtrail:{home}:{account}:trail/{trail}"
    cfg = TrailConfig(
        name=trail,
        arn=arn,
        home_region=home,
        multi_region=multi_region,
        organization_trail=org,
        s3_bucket=f"cloudtrail-{account}",
        s3_prefix="logs",
        kms_key_id=f"arn:aws:kms:{home}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        sns_topic_arn=None,
        log_group_arn=(
            f"arn:aws:logs:{home}:{account}:log-group:cloudtrail/{trail}:*" if log_group else None
        ),
        cw_role_arn=f"arn:aws:iam::{account}:role/CloudTrailToCloudWatch" if log_group else None,
        log_file_validation=True,
    )
    if status is None:
        status = {"IsLogging": True, "StartLoggingTime": now - timedelta(days=30)}
        if s3_age is not None:
            status["LatestDeliveryTime"] = now - timedelta(seconds=s3_age)
            status["LatestDigestDeliveryTime"] = now - timedelta(seconds=s3_age + 60)
        if log_group and cw_age is not None:
            status["LatestCloudWatchLogsDeliveryTime"] = now - timedelta(seconds=cw_age)
    fs = tuple(findings)
    return TrailView(
        key=ViewKey(account, region, arn),
        profile=profile,
        trail=cfg,
        status=status,
        findings=fs,
        state=state or worst_state(f.state for f in fs),
        account_alias=alias,
        status_at=now - (timedelta(minutes=12) if stale else timedelta(seconds=20)),
        status_sweep=1,
        stale=stale,
    )


def make_snapshot(
    views: Iterable[TrailView],
    *,
    sweep: int = 1,
    now: datetime = T0,
    changed: Iterable[str] = (),
    duration: float = 4.2,
    targets: Sequence[TargetResult] | None = None,
    coverage: Sequence[CoverageGap] = (),
    plans: Iterable[Plan] = (),
) -> Snapshot:
    vs = tuple(views)
    if targets is None:
        pairs = sorted({(v.profile, v.key.account_id, v.key.region) for v in vs}, key=str)
        targets = tuple(TargetResult(p, a, r, ok=True) for p, a, r in pairs)
    return Snapshot(
        sweep=sweep,
        generated_at=now,
        started_at=now - timedelta(seconds=duration),
        duration=duration,
        targets=tuple(targets),
        views=vs,
        coverage=tuple(coverage),
        changed=frozenset(changed),
        last_success_at=now - timedelta(seconds=duration) if sweep else None,
        plans={p.id: p for p in plans},
    )


HOSTILE_DIFF_LINE = '"Sid": "[/]x[@click=app.quit]q[/] \x1b[2J\x1b]52;c;ZXZpbA==\x07"'


def make_plan(
    view: TrailView,
    plan_id: str,
    code: str = "S3_POLICY_DENIES_CLOUDTRAIL",
    *,
    title: str = "",
    extra: str = "",
    parameters: tuple[str, ...] = (),
    hostile: bool = False,
    calls: Sequence[ApiCall] | None = None,
) -> Plan:
    """A `core.fix.plans.Plan` for `view` shaped like the engine's (bucket-policy merge)."""
    bucket = view.trail.s3_bucket or "bucket"
    sid = HOSTILE_DIFF_LINE if hostile else '"Sid": "AWSCloudTrailWrite"'
    before = '{\n  "Statement": [],\n  "Version": "2012-10-17"\n}'
    after = (
        '{\n  "Statement": [\n    {\n      "Action": "s3:PutObject",\n      '
        + sid
        + '\n    }\n  ],\n  "Version": "2012-10-17"\n}'
    )
    diff = "\n".join(
        [
            f"--- bucket {bucket} (current)",
            f"+++ bucket {bucket} (planned)",
            "@@ -1,4 +1,8 @@",
            " {",
            '-  "Statement": [],',
            '+  "Statement": [',
            "+    {",
            '+      "Action": "s3:PutObject",',
            "+      " + sid,
            "+    }",
            "+  ],",
            '   "Version": "2012-10-17"',
            " }",
        ]
    )
    if calls is None:
        params: dict[str, Any] = {"Bucket": bucket, "Policy": after.replace("\n", "")}
        if parameters:
            params = {"Name": view.trail.arn, "S3BucketName": "${" + parameters[0] + "}"}
        calls = (
            ApiCall(
                "cloudtrail" if parameters else "s3",
                "update_trail" if parameters else "put_bucket_policy",
                params,
                view.key.region,
            ),
        )
    return Plan(
        id=plan_id,
        code=code,
        title=title or f"Grant CloudTrail s3:PutObject on bucket {bucket}",
        account_id=view.key.account_id,
        region=view.key.region,
        target=bucket,
        calls=tuple(calls),
        before=before,
        after=after,
        diff=diff,
        risk="Adds statements only; existing statements are kept.",
        preconditions=(),
        view_id=view.id,
        fixes=(code, "S3_DELIVERY_ERROR"),
        needs_extra_confirmation=bool(extra),
        extra_confirmation_reason=extra,
        parameters=parameters,
        notes=("CloudTrail clears the delivery error on its next delivery.",),
    )


def breaking(view: TrailView, code: str = "S3_POLICY_DENIES_CLOUDTRAIL") -> TrailView:
    """The same view, now failing with `code` (and the raw S3 error CloudTrail reports)."""
    f = (
        finding(
            code,
            message="bucket policy does not grant s3:PutObject to this trail",
            evidence={"missing_statement": {"Effect": "Allow", "Action": "s3:PutObject"}},
            remediation="Add the CloudTrail statement to the bucket policy.",
            plan_ids=("fix-bucket-policy",),
        ),
        finding("S3_DELIVERY_ERROR", message="CloudTrail reports AccessDenied"),
    )
    status = dict(view.status or {})
    status["LatestDeliveryError"] = "AccessDenied"
    return replace(view, findings=f, state=State.FAILING, status=status)


def recovering(view: TrailView) -> TrailView:
    status = {k: v for k, v in (view.status or {}).items() if not k.endswith("Error")}
    return replace(view, findings=(), state=State.OK, status=status)


# ---------------------------------------------------------------------------- estates


def demo_views(now: datetime = T0) -> list[TrailView]:
    """A small estate like the sandbox's `demo`: a mix of healthy and broken trails."""
    views: list[TrailView] = []
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"):
        views.append(
            make_view("111111111111", region, "org-main", alias="acme-prod", profile="prod",
                      multi_region=True, home_region="us-east-1", now=now)
        )  # fmt: skip
    views[1] = breaking(views[1])
    views.append(
        make_view(
            "222222222222", "eu-west-1", "staging-trail", alias="acme-staging", profile="staging",
            now=now, s3_age=5400, cw_age=None,
            findings=(finding("KMS_KEY_DISABLED", channel=Channel.KMS,
                              message="KMS key 1234abcd is Disabled; CloudTrail cannot encrypt log files",
                              evidence={"KeyState": "Disabled"},
                              remediation="Enable the key (kms:EnableKey).", plan_ids=("enable-key",)),
                      finding("S3_DELIVERY_STALE", Severity.HIGH, message="no S3 delivery for 1h30m")),
        )
    )  # fmt: skip
    views.append(
        make_view(
            "222222222222", "us-east-1", "staging-trail", alias="acme-staging", profile="staging",
            now=now,
            findings=(finding("SNS_TOPIC_MISSING", Severity.MEDIUM, Channel.SNS,
                              message="SNS topic trail-notify no longer exists"),),
        )
    )  # fmt: skip
    views.append(
        make_view(
            "333333333333", "eu-central-1", "audit", alias=None, profile="security", now=now,
            status={}, s3_age=None,
            findings=(finding("STATUS_UNAVAILABLE", Severity.UNKNOWN, Channel.TRAIL,
                              message="GetTrailStatus: AccessDenied for role trailtop-read",
                              evidence={"error": "AccessDenied"}),),
        )
    )  # fmt: skip
    views.append(make_view("333333333333", "us-east-1", "audit", profile="security", now=now,
                           stale=True, log_group=False))  # fmt: skip
    views.append(
        make_view("444444444444", "us-east-1", "logs", alias="acme-sandbox", profile="sandbox",
                  now=now, log_group=False,
                  findings=(finding("LOG_FILE_VALIDATION_DISABLED", Severity.LOW, Channel.DIGEST),))
    )  # fmt: skip
    return views


def bulk_views(n: int, now: datetime = T0, seed: int = 7) -> list[TrailView]:
    """`n` deterministic views spread over accounts x 17 regions, ~10% not ok."""
    rng = random.Random(seed)
    views = []
    for i in range(n):
        account = f"{100000000000 + i // len(REGIONS):012d}"
        region = REGIONS[i % len(REGIONS)]
        roll = rng.random()
        fs: tuple[Finding, ...] = ()
        if roll < 0.04:
            fs = (finding("S3_BUCKET_MISSING", message="bucket is gone"),)
        elif roll < 0.07:
            fs = (finding("SNS_POLICY_DENIES_CLOUDTRAIL", Severity.MEDIUM, Channel.SNS),)
        elif roll < 0.09:
            fs = (finding("STATUS_UNAVAILABLE", Severity.UNKNOWN, Channel.TRAIL),)
        views.append(
            make_view(account, region, "org-main", alias=f"acct-{i // len(REGIONS):04d}",
                      profile=f"p{i % 5}", multi_region=True, home_region="us-east-1",
                      findings=fs, now=now, s3_age=rng.randint(10, 4000),
                      cw_age=rng.randint(10, 900))
        )  # fmt: skip
    return views


def mutate(
    views: list[TrailView], fraction: float, seed: int = 1
) -> tuple[list[TrailView], set[str]]:
    """Break or heal `fraction` of the views; returns the new list and the changed ids."""
    rng = random.Random(seed)
    out = list(views)
    changed: set[str] = set()
    for i in rng.sample(range(len(out)), max(1, int(len(out) * fraction))):
        v = out[i]
        out[i] = recovering(v) if v.state is State.FAILING else breaking(v)
        changed.add(v.id)
    return out, changed


def hostile_view(now: datetime = T0) -> TrailView:
    """Names and errors that try markup, actions, links, terminal escapes and bidi tricks."""
    evil = {
        "error": "[@click=app.quit]x[/]",
        "osc52": "\x1b]52;c;ZXZpbA==\x07",
        "clear": "\x1b[2J",
        "link": "[link=https://evil.example]click[/link]",
    }
    return make_view(
        "555555555555", "eu-west-1", "[/]", alias="[b]alias[/b]\u202eevil", profile="[red]p\x07",
        now=now,
        status={"IsLogging": True, "LatestDeliveryError": "[@click=app.quit]x[/]\x1b[2J",
                "LatestDeliveryTime": now - timedelta(seconds=30)},
        findings=(finding("S3_DELIVERY_ERROR", message="[@click=app.quit]x[/] \x1b[2J\u200f" + "A" * 5000,
                          evidence=evil, remediation="[link=https://evil.example]fix[/link]"),),
    )  # fmt: skip


def coverage_gap(
    account: str = "222222222222", region: str = "ap-south-1", profile: str | None = "prod"
) -> CoverageGap:
    """What the engine reports for an enabled region with no logging trail."""
    return CoverageGap(
        account,
        region,
        (
            finding(
                "REGION_NOT_COVERED",
                Severity.HIGH,
                Channel.COVERAGE,
                f"No logging trail covers {region} in account {account}.",
                {"account_id": account, "region": region},
                "Create a multi-region trail so every enabled region is recorded.",
            ),
        ),
        profile,
    )


def unreachable_view(
    account: str = "333333333333",
    region: str = "eu-west-1",
    reason: str = "AccessDenied on DescribeTrails: not authorized",
) -> TrailView:
    """The engine's placeholder for a target it could not read (see core.engine.sweep._placeholder)."""
    return TrailView(
        key=ViewKey(account, region, ""),
        profile="ops",
        trail=TrailConfig(name="(unreachable)", arn="", home_region=region),
        status=None,
        findings=(
            finding(
                "STATUS_UNAVAILABLE",
                Severity.UNKNOWN,
                Channel.TRAIL,
                f"Could not read the trail status: {reason}",
                {"reason": reason, "last_success": None},
                "Check the credentials and permissions for this account and region.",
            ),
        ),
        state=State.UNKNOWN,
    )


def screen_text(app: Any) -> str:
    """The current screen as plain text (what a user would read), from Textual's compositor."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=False,
        color_system=None, record=True, legacy_windows=False, safe_box=False,
    )  # fmt: skip
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text(styles=False)


def statics_text(screen: Any, width: int = 200) -> str:
    """Plain text of every Static on `screen`, including parts scrolled out of view."""
    import io

    from rich.console import Console
    from textual.widgets import Static

    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    for widget in screen.query(Static):
        content = widget.content
        console.print(content if not isinstance(content, str) else content, markup=False)
    return console.export_text(styles=False)


def write_screenshot(path: str) -> None:
    """Render the overview of the demo-like estate to an SVG with Textual's own exporter."""
    import asyncio

    from tui.app import TrailtopApp

    async def run() -> None:
        app = TrailtopApp(
            FakeSource(make_snapshot(demo_views(), sweep=42)),
            title_hint="demo",
            clock=frozen_clock(T0 + timedelta(seconds=3)),
        )
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause()
            svg = app.export_screenshot(title="trailtop")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(svg)

    asyncio.run(run())


if __name__ == "__main__":
    import sys

    write_screenshot(sys.argv[1] if len(sys.argv) > 1 else "fake-screenshot.svg")


# --------------------------------------------------------------------------- key latency
# Shared by tests/tui/test_tui.py and bench/tui_figures.py.


async def press_and_measure(app: Any, key: str, handled: Callable[[], bool]) -> float:
    """Latency of one key press as a terminal would deliver it (through the driver) until its
    action ran. Unlike `pilot.press`, this does not wait for the whole app to go idle first,
    so snapshot work queued ahead of the key counts in the latency."""
    import asyncio
    import time

    from textual import events

    event = events.Key(key, None)
    event.set_sender(app)
    t0 = time.perf_counter()
    app._driver.send_message(event)
    deadline = t0 + 10
    while not handled():
        if time.perf_counter() > deadline:
            raise TimeoutError("key press never took effect")
        await asyncio.sleep(0.001)  # poll the condition; not a synchronisation sleep
    return time.perf_counter() - t0


def count_actions(widget: object, *names: str) -> list[int]:
    """Wrap `action_<name>` on one widget instance to count how often key bindings ran it."""
    counter = [0]
    for name in names:
        original = getattr(widget, f"action_{name}")

        def wrapped(original: Callable[[], None] = original) -> None:
            original()
            counter[0] += 1

        setattr(widget, f"action_{name}", wrapped)
    return counter
