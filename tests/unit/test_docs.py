"""The documentation stays true to the code, and the code cites nothing a clone lacks.

- docs/findings.md has one section per finding code, with the severity, channels, state
  and evidence keys the engine really produces (judged on synthetic views, no I/O) and the
  management events the culprit rules match.
- docs/json-contract.md names every key the JSON report writes, and its schema version.
- README.md and docs/ point only at files inside the repository.
- No comment or docstring in the Python tree cites a tracker number or a note kept outside
  the repository: a clone has neither, so the reason must be written out where it matters.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.codes import Code
from core.fix.model import ApiCall, Plan, Precondition
from core.judge.cause_rules import event_names_for
from core.judge.culprit import cause_event
from core.judge.evaluate import Thresholds, coverage_gaps, judge_view, status_unavailable
from core.judge.facts import Destinations, Fact
from core.judge.rootcause import root_causes
from core.model import (
    Channel,
    CoverageGap,
    Finding,
    Severity,
    Snapshot,
    SweepStats,
    TargetResult,
    TrailConfig,
    TrailView,
    ViewKey,
    severity_state,
)
from core.report import (
    EXIT_FAILING,
    EXIT_OK,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    SCHEMA_VERSION,
    snapshot_json,
)

ROOT = Path(__file__).resolve().parents[2]
FINDINGS_MD = ROOT / "docs" / "findings.md"
CONTRACT_MD = ROOT / "docs" / "json-contract.md"
PY_FOLDERS = ("core", "tui", "sandbox", "bench", "tests")

#: Citations a clone cannot follow: a tracker number, or a note kept outside the repository.
OUTSIDE_NOTES = ("DESIGN" + ".md", "../" + "shared", "NOTES" + ".md", "AWS-FACTS" + ".md")
TRACKER_NUMBER = re.compile(r"\bissues?\s*#?\d+", re.IGNORECASE)

ACCT, OTHER, REGION = "111111111111", "222222222222", "us-east-1"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


# -- docs/findings.md ---------------------------------------------------------------------


@dataclass
class Section:
    code: str
    lines: list[str] = field(default_factory=list)

    def values(self, label: str) -> list[str]:
        """The backticked values on the `- **Label:** ...` line (empty if there is none)."""
        pattern = re.compile(rf"^\s*[-*]\s*\*\*{re.escape(label)}:\*\*(.*)$")
        for i, line in enumerate(self.lines):
            m = pattern.match(line)
            if m:
                # A bullet may wrap: take its continuation lines too.
                text = m.group(1)
                for more in self.lines[i + 1 :]:
                    if not more.startswith("  ") or more.lstrip().startswith(("-", "*")):
                        break
                    text += " " + more.strip()
                return re.findall(r"`([^`]+)`", text)
        return []


def findings_sections() -> dict[str, Section]:
    sections: dict[str, Section] = {}
    current: Section | None = None
    for line in FINDINGS_MD.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*$", line)
        if heading:
            current = None
            if heading.group(1) == "###":
                current = sections.setdefault(heading.group(2), Section(heading.group(2)))
            continue
        if current is not None:
            current.lines.append(line)
    return sections


def _trail(**changes: Any) -> TrailConfig:
    base: dict[str, Any] = {
        "name": "t",
        "arn": f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/t",
        "home_region": REGION,
        "s3_bucket": "b",
        "kms_key_id": f"arn:aws:kms:{REGION}:{ACCT}:key/k",
        "sns_topic_arn": f"arn:aws:sns:{REGION}:{ACCT}:topic",
        "log_group_arn": f"arn:aws:logs:{REGION}:{ACCT}:log-group:g:*",
        "cw_role_arn": f"arn:aws:iam::{ACCT}:role/r",
    }
    base.update(changes)
    return TrailConfig(**base)


_DENY_ALL = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "NoOne", "Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}
    ],
}
_UNDECIDABLE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "*",
            "Resource": "*",
            "Condition": {"NoSuchOperator": {"aws:SourceArn": "x"}},
        }
    ],
}


def _readable(policy: Any, key_state: str) -> Destinations:
    meta = {
        "KeyState": key_state,
        "Arn": f"arn:aws:kms:{REGION}:{ACCT}:key/k",
        "DeletionDate": NOW + timedelta(days=7),
    }
    return Destinations(
        bucket=Fact("bucket", "b", True, data={"policy": policy}),
        key=Fact("key", "k", True, data={"metadata": meta, "policy": policy}),
        topic=Fact("topic", "topic", True, data={"policy": policy}),
        log_group=Fact("log_group", "g", True),
        role=Fact(
            "role", "r", True, data={"trust": policy, "policies": [policy] if policy else []}
        ),
    )


def engine_findings() -> list[Finding]:
    """Findings the pure engine emits for synthetic views covering every code."""
    trail, th = _trail(), Thresholds()
    key = ViewKey(ACCT, REGION, trail.arn)
    broken = {
        "IsLogging": False,
        "LatestDeliveryError": "AccessDenied",
        "LatestDigestDeliveryError": "AccessDenied",
        "LatestCloudWatchLogsDeliveryError": "AccessDeniedException",
        "LatestNotificationError": "AuthorizationError",
    }
    silent = {"IsLogging": True, "StartLoggingTime": NOW - timedelta(days=3)}
    out: list[Finding] = []
    for policy, state in (
        (None, "Disabled"),
        (_DENY_ALL, "PendingDeletion"),
        (_UNDECIDABLE, "PendingImport"),
    ):
        causes = root_causes(trail, key, _readable(policy, state), NOW)
        for status in (broken, silent):
            out += judge_view(trail, key, status, NOW, th, diagnostics=causes).findings
    missing = Destinations(
        bucket=Fact("bucket", "b", False, "NoSuchBucket"),
        key=Fact("key", "k", False, "NotFoundException"),
        topic=Fact("topic", "topic", False, "NotFound"),
        log_group=Fact("log_group", "g", False),
        role=Fact("role", "r", False, "NoSuchEntity"),
    )
    unreadable = Destinations(
        bucket=Fact("bucket", "b", None, "AccessDenied"),
        key=Fact("key", "k", None, "AccessDeniedException"),
        topic=Fact("topic", "topic", None, "AuthorizationError"),
        log_group=Fact("log_group", "g", None, "AccessDeniedException"),
        role=Fact("role", "r", None, "AccessDenied"),
    )
    foreign = Destinations(
        bucket=Fact("bucket", "b", None, "AccessDenied", foreign=True),
        key=Fact("key", "k", None, "AccessDeniedException", foreign=True),
        topic=Fact("topic", "topic", None, "AuthorizationError", foreign=True),
    )
    taken = Destinations(
        bucket=Fact(
            "bucket",
            "b",
            None,
            "AccessDenied",
            data={"unowned": True, "former_owner": OTHER, "delivery_error": "NoSuchBucket"},
        )
    )
    for dest in (missing, unreadable, foreign, taken):
        out += judge_view(
            trail, key, broken, NOW, th, diagnostics=root_causes(trail, key, dest, NOW)
        ).findings
    payer = Destinations(
        bucket=Fact(
            "bucket", "b", True, data={"policy": None, "payer": "Requester", "region": "eu-west-1"}
        )
    )
    out += judge_view(
        trail, key, broken, NOW, th, diagnostics=root_causes(trail, key, payer, NOW)
    ).findings
    # A KMS-encrypted topic: an AWS managed key, a key policy denying, one not granting.
    for key_data in (
        {"kms_key": "alias/aws/sns"},
        {"kms_key": "k", "key_policy": _DENY_ALL},
        {"kms_key": "k", "key_policy": None},
    ):
        encrypted = Destinations(
            topic=Fact("topic", "topic", True, data={"policy": None, **key_data})
        )
        out += judge_view(
            trail, key, broken, NOW, th, diagnostics=root_causes(trail, key, encrypted, NOW)
        ).findings
    # A KMS-encrypted log group: a key policy denying, one not granting, a key pending
    # deletion, a key gone.
    group_key = {"Arn": f"arn:aws:kms:{REGION}:{ACCT}:key/g", "KeyId": "g"}
    for group_data in (
        {"key_metadata": {**group_key, "KeyState": "Enabled"}, "key_policy": _DENY_ALL},
        {"key_metadata": {**group_key, "KeyState": "Enabled"}, "key_policy": None},
        {"key_metadata": {**group_key, "KeyState": "PendingDeletion", "DeletionDate": NOW}},
        {"key_missing": "NotFoundException"},
    ):
        group = Fact("log_group", "g", True, data={"kms_key": group_key["Arn"], **group_data})
        out += judge_view(
            trail,
            key,
            broken,
            NOW,
            th,
            diagnostics=root_causes(trail, key, Destinations(log_group=group), NOW),
        ).findings
    # Event selectors that log no management events.
    no_management = Fact(
        "selectors",
        trail.arn,
        True,
        data={"EventSelectors": [{"IncludeManagementEvents": False}], "AdvancedEventSelectors": []},
    )
    out += judge_view(
        trail,
        key,
        silent,
        NOW,
        th,
        diagnostics=root_causes(trail, key, Destinations(selectors=no_management), NOW),
    ).findings
    plain = _trail(kms_key_id=None)
    out += judge_view(plain, ViewKey(ACCT, REGION, plain.arn), silent, NOW, th).findings
    sse_kms = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k", "BucketKeyEnabled": True}
    default_kms = Destinations(
        bucket=Fact("bucket", "b", True, data={"policy": None, "default_encryption": sse_kms})
    )
    plain_key = ViewKey(ACCT, REGION, plain.arn)
    out += judge_view(
        plain,
        plain_key,
        silent,
        NOW,
        th,
        diagnostics=root_causes(plain, plain_key, default_kms, NOW),
    ).findings
    # A quiet region: no log file for hours; with and without the digest heartbeat.
    quiet = {
        **silent,
        "LatestDeliveryTime": NOW - timedelta(hours=3),
        "LatestDigestDeliveryTime": NOW - timedelta(minutes=20),
    }
    for validated in (True, False):
        t = _trail(log_file_validation=validated)
        out += judge_view(t, ViewKey(ACCT, REGION, t.arn), quiet, NOW, th).findings
    org = _trail(organization_trail=True, arn=f"arn:aws:cloudtrail:{REGION}:{OTHER}:trail/org")
    out += judge_view(
        org, ViewKey(ACCT, REGION, org.arn), None, NOW, th, status_error="ThrottlingException"
    ).findings
    out.append(status_unavailable("ExpiredToken", None, NOW))
    out += [f for gap in coverage_gaps({ACCT: [REGION]}, {}) for f in gap.findings]
    return out


@dataclass
class Emitted:
    severities: set[str] = field(default_factory=set)
    channels: set[str] = field(default_factory=set)
    evidence: set[str] = field(default_factory=set)


def emitted() -> dict[str, Emitted]:
    out: dict[str, Emitted] = {}
    for f in engine_findings():
        e = out.setdefault(f.code, Emitted())
        e.severities.add(f.severity.value)
        e.channels.add(f.channel.value)
        e.evidence.update(f.evidence)
    return out


def test_findings_doc_has_one_section_per_code() -> None:
    documented = set(findings_sections())
    codes = {c.value for c in Code}
    assert documented - codes == set(), "### headings in docs/findings.md that are not codes"
    assert codes - documented == set(), "codes without a ### section in docs/findings.md"


@pytest.mark.parametrize("code", [c.value for c in Code])
def test_findings_doc_section_is_well_formed(code: str) -> None:
    section = findings_sections().get(code)
    assert section is not None, f"docs/findings.md has no '### {code}'"
    severities = section.values("Severity")
    channels = section.values("Channel")
    states = section.values("State")
    assert len(severities) == 1 and severities[0] in {s.value for s in Severity}, severities
    assert channels and set(channels) <= {c.value for c in Channel}, channels
    assert states == [severity_state(Severity(severities[0])).value], states
    assert section.values("AWS documentation") or any(
        "https://docs.aws.amazon.com/" in line for line in section.lines
    ), f"{code}: no AWS documentation page"


def test_synthetic_views_cover_every_code() -> None:
    # A new code needs a case in engine_findings() so its section is checked below.
    assert {c.value for c in Code} - set(emitted()) == set()


@pytest.mark.parametrize("code", [c.value for c in Code])
def test_findings_doc_matches_what_the_engine_emits(code: str) -> None:
    section = findings_sections()[code]
    got = emitted()[code]
    assert got.severities == set(section.values("Severity")), "severity"
    assert got.channels <= set(section.values("Channel")), "an emitted channel is not documented"
    assert got.evidence <= set(section.values("Evidence")), "an evidence key is not documented"


@pytest.mark.parametrize("code", [c.value for c in Code])
def test_findings_doc_names_the_events_that_can_cause_it(code: str) -> None:
    documented = set(findings_sections()[code].values("Who broke it"))
    assert set(event_names_for(code)) <= documented


# -- docs/json-contract.md ------------------------------------------------------------------


def small_snapshot() -> Snapshot:
    """One view with a finding that has a plan and a culprit, one target, one coverage gap."""
    trail = _trail(sns_topic_arn=None, log_group_arn=None, cw_role_arn=None)
    key = ViewKey(ACCT, REGION, trail.arn)
    status = {"IsLogging": False, "StopLoggingTime": NOW - timedelta(hours=1)}
    record = {
        "eventName": "StopLogging",
        "eventTime": "2026-01-01T11:00:00Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventID": "e-1",
        "awsRegion": REGION,
        "recipientAccountId": ACCT,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCT}:user/alice"},
        "requestParameters": {"name": trail.arn},
        "resources": [{"ARN": trail.arn}],
    }
    culprit = cause_event(Code.LOGGING_STOPPED, trail, status, [record])
    assert culprit is not None
    call = ApiCall("cloudtrail", "start_logging", {"Name": trail.arn}, REGION)
    read = ApiCall("cloudtrail", "get_trail_status", {"Name": trail.arn}, REGION)
    plan = Plan(
        id="trail-start-logging-0000beef",
        code=Code.LOGGING_STOPPED,
        title="Start logging",
        account_id=ACCT,
        region=REGION,
        target=trail.arn,
        calls=(call,),
        before='{\n  "IsLogging": false\n}',
        after='{\n  "IsLogging": true\n}',
        diff="-false\n+true",
        risk="Resumes recording.",
        preconditions=(
            Precondition(read, "trail_logging", '{"IsLogging": false}', "still stopped"),
        ),
        view_id=key.id,
        fixes=(Code.LOGGING_STOPPED,),
    )
    finding = Finding(
        Code.LOGGING_STOPPED,
        Severity.CRITICAL,
        Channel.TRAIL,
        "Trail is not logging.",
        {"IsLogging": False, "StopLoggingTime": "2026-01-01T11:00:00Z"},
        "Start logging.",
        plan_ids=(plan.id,),
        cause_event=culprit,
    )
    view = TrailView(
        key=key,
        profile="prod",
        trail=trail,
        status=status,
        findings=(finding,),
        state=finding.state,
        account_alias="prod-alias",
        status_at=NOW,
        status_sweep=1,
    )
    gap = CoverageGap(
        ACCT, "eu-west-1", tuple(coverage_gaps({ACCT: ["eu-west-1"]}, {})[0].findings), "prod"
    )
    return Snapshot(
        sweep=1,
        generated_at=NOW,
        started_at=NOW - timedelta(seconds=2),
        duration=2.0,
        targets=(
            TargetResult("prod", ACCT, REGION, True),
            TargetResult("prod", ACCT, "eu-west-1", False, "AccessDenied"),
        ),
        views=(view,),
        coverage=(gap,),
        stats=SweepStats(requests=5, describe_calls=2, status_calls=1, diagnostic_calls=2),
        plans={plan.id: plan},
    )


def _keys_by_place(doc: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(place, key) for every key of the contract's fixed-shape objects."""
    yield from (("top level", k) for k in doc)
    for name in ("summary", "sweep"):
        yield from ((name, k) for k in doc[name])
    yield from (("targets[]", k) for t in doc["targets"] for k in t)
    for v in doc["views"]:
        yield from (("views[]", k) for k in v)
        yield from (("views[].trail", k) for k in v["trail"])
        for f in v["findings"]:
            yield from (("findings[]", k) for k in f)
            yield from (("cause_event", k) for k in f.get("cause_event") or {})
    for p in doc["plans"].values():
        yield from (("plans", k) for k in p)
        for c in p["calls"]:
            yield from (("plans[].calls[]", k) for k in c)
        for pre in p["preconditions"]:
            yield from (("plans[].preconditions[]", k) for k in pre)
            yield from (("plans[].preconditions[].read", k) for k in pre["read"])
    for g in doc["coverage"]:
        yield from (("coverage[]", k) for k in g)
    for o in doc["organization_trails"]:
        yield from (("organization_trails[]", k) for k in o)
        for a in o["accounts"]:
            yield from (("organization_trails[].accounts[]", k) for k in a)


def test_json_contract_names_every_key_the_report_writes() -> None:
    doc = snapshot_json(small_snapshot())
    text = CONTRACT_MD.read_text(encoding="utf-8")
    assert set(doc) == {
        "schema_version",
        "generated_at",
        "summary",
        "sweep",
        "targets",
        "notices",
        "sso_login_needed",
        "trailtop_version",
        "views",
        "organization_trails",
        "plans",
        "coverage",
    }, "top-level keys changed: update docs/json-contract.md and this list"
    missing = sorted({f"{place}: {k}" for place, k in _keys_by_place(doc) if f"`{k}`" not in text})
    assert missing == [], "keys the JSON report writes but docs/json-contract.md does not name"


def test_json_contract_states_the_schema_version() -> None:
    text = CONTRACT_MD.read_text(encoding="utf-8")
    assert snapshot_json(small_snapshot())["schema_version"] == SCHEMA_VERSION
    assert f'"schema_version": {SCHEMA_VERSION}' in text
    assert f"today `{SCHEMA_VERSION}`" in text


def test_json_contract_lists_the_exit_codes() -> None:
    text = CONTRACT_MD.read_text(encoding="utf-8")
    section = text.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\|\s*`(\d+)`\s*\|", section, re.MULTILINE))
    assert rows == {str(c) for c in (EXIT_OK, EXIT_FAILING, EXIT_USAGE, EXIT_UNKNOWN)}


# -- no citations a clone cannot follow ---------------------------------------------------------


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*") if p.is_file())]


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_cite_nothing_outside_the_repository(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not text")
    hits = [
        f"{n}: {line.strip()}"
        for n, line in enumerate(text.splitlines(), 1)
        if any(note in line for note in OUTSIDE_NOTES)
    ]
    assert hits == []


def comments_and_docstrings(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every comment and every bare string statement (docstrings)."""
    source = path.read_text(encoding="utf-8")
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            yield tok.start[0], tok.string
    for node in ast.walk(ast.parse(source, str(path))):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for offset, line in enumerate(node.value.value.splitlines()):
                yield node.lineno + offset, line


def python_files() -> list[Path]:
    return [
        p
        for folder in PY_FOLDERS
        for p in sorted((ROOT / folder).rglob("*.py"))
        if "__pycache__" not in p.parts
    ]


def test_there_are_python_files_to_check() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in python_files()}
    assert {"core/model.py", "tui/cli.py", "sandbox/estate.py", "tests/unit/test_docs.py"} <= names


@pytest.mark.parametrize("path", python_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_comments_cite_no_tracker_number_or_outside_note(path: Path) -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {text.strip()}"
        for n, text in comments_and_docstrings(path)
        if TRACKER_NUMBER.search(text) or any(note in text for note in OUTSIDE_NOTES)
    ]
    assert hits == [], "write the reason out instead of citing it"


def test_json_contract_names_every_key_of_an_organization_trail() -> None:
    from tests.support.builders import org_snapshot

    doc = snapshot_json(
        org_snapshot(accounts=30, unreachable=3, regions=("us-east-1", "eu-west-1"))
    )
    text = CONTRACT_MD.read_text(encoding="utf-8")
    orgs = doc["organization_trails"]
    assert len(orgs) == 1 and len(orgs[0]["accounts"]) == 30
    assert sum(1 for a in orgs[0]["accounts"] if not a["reachable"]) == 3
    carriers = [v for v in doc["views"] if v["organization_coverage"]]
    assert {v["region"] for v in carriers} == {"us-east-1", "eu-west-1"}
    assert carriers[0]["organization_coverage"] == {
        "read_from": orgs[0]["read_from"],
        "read_as": "owner",
        "accounts": 30,
        "unreachable": 3,
    }
    keys = {k for o in orgs for k in o} | {k for a in orgs[0]["accounts"] for k in a}
    keys |= set(carriers[0]["organization_coverage"])
    missing = sorted(k for k in keys if f"`{k}`" not in text and f"`{k}[]`" not in text)
    assert missing == [], "organization keys the report writes but the contract does not name"
