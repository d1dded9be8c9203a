"""Plain `core.model` and `core.fix.model` data for tests, benches and pictures (no engine).

Views, snapshots and plans shaped like the engine's, plus small estates: `demo_views` (like
the sandbox's demo), `bulk_views` (thousands, deterministic), `org_snapshot` (an Organization
whose trail is read from the management account, members' own trails beside it) and
`hostile_view` (names and errors that try markup, actions and terminal escapes).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core.codes import Code
from core.fix.model import ApiCall, Plan
from core.model import (
    Channel,
    CoverageGap,
    Finding,
    OrgCoverage,
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


def finding(
    code: Code | str,
    severity: Severity = Severity.CRITICAL,
    channel: Channel = Channel.S3,
    message: str = "",
    evidence: dict[str, Any] | None = None,
    remediation: str = "",
    plan_ids: tuple[str, ...] = (),
) -> Finding:
    return Finding(
        code=Code(code),  # a misspelt code fails here, not deep in a test
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
    organization_trails: Sequence[OrgCoverage] = (),
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
        organization_trails=tuple(organization_trails),
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


# ---------------------------------------------------------------------------- organizations

ORG_ID = "o-a1b2c3d4e5"
#: Reasons an Organization member could not be reached, as the engine words them.
UNREACHABLE_REASONS = (
    "AccessDenied: not authorized to perform sts:AssumeRole on OrganizationAccountAccessRole",
    "ExpiredToken: the security token included in the request is expired",
    "connect timeout on endpoint URL: https://sts.amazonaws.com/",
)


def org_account(i: int) -> str:
    """The id of the Organization's `i`-th account (0 is the management account)."""
    return f"{100000000000 + i:012d}"


def org_coverage(
    accounts: int = 1000,
    unreachable: int = 20,
    *,
    trail: str = "org-audit",
    home_region: str = "us-east-1",
    names: dict[str, str] | None = None,
    reasons: dict[str, str] | None = None,
) -> OrgCoverage:
    """An organization trail's coverage: `accounts` accounts, `unreachable` of them (spread
    evenly, never the management account) not reached, each with a reason."""
    ids = tuple(org_account(i) for i in range(accounts))
    if reasons is None:
        # Spread evenly, off the members `org_snapshot` gives a trail of their own.
        step = max((accounts - 1) // max(unreachable, 1), 1)
        spots = [1 + k * step + ((1 + k * step) % 10 == 5) for k in range(unreachable)]
        picked = [ids[i] for i in spots if i < accounts]
        reasons = {
            a: UNREACHABLE_REASONS[k % len(UNREACHABLE_REASONS)] for k, a in enumerate(picked)
        }
    if names is None:
        names = {a: ("management" if i == 0 else f"member-{i:04d}") for i, a in enumerate(ids)}
    return OrgCoverage(
        trail_arn=f"arn:aws:cloudtrail:{home_region}:{ids[0]}:trail/{trail}",
        organization_id=ORG_ID,
        read_from=ids[0],
        accounts=ids,
        unreachable=reasons,
        names=names,
    )


def org_trail_views(
    coverage: OrgCoverage,
    regions: Sequence[str] = REGIONS,
    *,
    profile: str | None = "mgmt",
    now: datetime = T0,
) -> list[TrailView]:
    """The reader's views of an organization trail, one per region, sharing `coverage`."""
    account = coverage.read_from
    trail = coverage.trail_arn.rsplit("/", 1)[-1]
    home = coverage.trail_arn.split(":")[3]
    return [
        replace(
            make_view(
                account,
                region,
                trail,
                alias=coverage.names.get(account),
                profile=profile,
                multi_region=True,
                home_region=home,
                org=True,
                now=now,
            ),
            org_coverage=coverage,
        )  # fmt: skip
        for region in regions
    ]


def org_snapshot(
    accounts: int = 1000,
    unreachable: int = 20,
    *,
    regions: Sequence[str] = REGIONS,
    local_every: int = 10,
    failing: int = 3,
    warning: int = 2,
    sweep: int = 1,
    now: datetime = T0,
    coverage: OrgCoverage | None = None,
) -> Snapshot:
    """An Organization at scale, as the engine reports it once members' copies of the org
    trail are summarised: the org trail's views from the management account (one per region,
    one shared `OrgCoverage`), plus a multi-region trail of its own in every `local_every`-th
    reachable member (one view per region); the first `failing` of those are broken, the
    next `warning` warn. Unreachable members are targets in error."""
    cov = coverage or org_coverage(accounts, unreachable)
    views = org_trail_views(cov, regions, now=now)
    local = [
        a for i, a in enumerate(cov.accounts)
        if i and i % local_every == local_every // 2 and a not in cov.unreachable
    ]  # fmt: skip
    for n, account in enumerate(local):
        name = cov.names.get(account)
        for region in regions:
            v = make_view(account, region, f"local-{account[-4:]}", alias=name, profile="mgmt",
                          multi_region=True, home_region="us-east-1", now=now)  # fmt: skip
            if n < failing:
                v = breaking(v)
            elif n < failing + warning:
                f = finding("SNS_POLICY_DENIES_CLOUDTRAIL", Severity.MEDIUM, Channel.SNS)
                v = replace(v, findings=(f,), state=State.WARNING)
            views.append(v)
    home = regions[0]
    targets = tuple(
        TargetResult("mgmt", a, home, ok=a not in cov.unreachable,
                     error=cov.unreachable.get(a), account_alias=cov.names.get(a))
        for a in cov.accounts
    )  # fmt: skip
    return make_snapshot(views, sweep=sweep, now=now, targets=targets, organization_trails=(cov,))
