"""The shared vocabulary: immutable values that flow from the engine to the UI and reports.

Everything here is plain data (frozen dataclasses) so a snapshot can be handed across
threads without locks and compared cheaply between sweeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal

from core.codes import Code
from core.util.arn import Arn, account_of, region_of
from core.util.times import iso


class State(StrEnum):
    FAILING = "failing"
    WARNING = "warning"
    UNKNOWN = "unknown"
    OK = "ok"


#: Worst first; the overview sorts by this order.
STATE_ORDER: tuple[State, ...] = (State.FAILING, State.WARNING, State.UNKNOWN, State.OK)


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"
    UNKNOWN = "unknown"


SEVERITY_ORDER: tuple[Severity, ...] = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.UNKNOWN,
    Severity.LOW,
    Severity.INFO,
)


def sso_login_command(profile: str) -> str:
    """What a human runs to renew a profile's IAM Identity Center session (trailtop cannot)."""
    return f"aws sso login --profile {profile}"


def severity_state(severity: Severity) -> State:
    """Critical and high fail, medium warns, unknown stays unknown; low and info are posture."""
    if severity in (Severity.CRITICAL, Severity.HIGH):
        return State.FAILING
    if severity is Severity.MEDIUM:
        return State.WARNING
    if severity is Severity.UNKNOWN:
        return State.UNKNOWN
    return State.OK


def worst_state(states: Any) -> State:
    seen = set(states)
    for s in STATE_ORDER:
        if s in seen:
            return s
    return State.OK


#: The error fields of `GetTrailStatus`, one per delivery channel (a missing key: no error).
STATUS_ERROR_FIELDS: tuple[str, ...] = (
    "LatestDeliveryError",
    "LatestDigestDeliveryError",
    "LatestCloudWatchLogsDeliveryError",
    "LatestNotificationError",
)


class Channel(StrEnum):
    S3 = "s3"
    DIGEST = "digest"
    CLOUDWATCH = "cloudwatch"
    SNS = "sns"
    KMS = "kms"
    TRAIL = "trail"
    COVERAGE = "coverage"


@dataclass(frozen=True)
class MuteMark:
    """Why a finding is muted and until when (core/mute.py): it stays visible, but it no
    longer decides its view's state, the exit status, alerts or notifications."""

    reason: str
    expires: datetime
    #: Where the mute came from: "config" or the mute file's path.
    source: str = "config"

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "expires": iso(self.expires), "source": self.source}


@dataclass(frozen=True)
class Finding:
    code: Code
    severity: Severity
    channel: Channel
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    remediation: str = ""
    #: Ids of remediation plans that address this finding (core/fix/), if any.
    plan_ids: tuple[str, ...] = ()
    #: The management event most likely to have caused it ("who broke it"), if known.
    cause_event: Mapping[str, Any] | None = None
    #: Set when a mute rule covers it: shown, but it does not count (core/mute.py).
    muted: MuteMark | None = None

    @property
    def state(self) -> State:
        return severity_state(self.severity)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity.value,
            "channel": self.channel.value,
            "message": self.message,
            "evidence": dict(self.evidence),
            "remediation": self.remediation,
        }
        if self.plan_ids:
            out["plans"] = list(self.plan_ids)
        if self.cause_event is not None:
            out["cause_event"] = dict(self.cause_event)
        if self.muted is not None:
            out["muted"] = self.muted.to_json()
        return out


@dataclass(frozen=True)
class TrailConfig:
    """One trail as `DescribeTrails` reports it (only the fields trailtop reasons about)."""

    name: str
    arn: str
    home_region: str
    multi_region: bool = False
    organization_trail: bool = False
    s3_bucket: str | None = None
    s3_prefix: str | None = None
    sns_topic_arn: str | None = None
    kms_key_id: str | None = None
    log_group_arn: str | None = None
    cw_role_arn: str | None = None
    log_file_validation: bool = False

    @property
    def owner_account(self) -> str:
        """The account that owns the trail (field 5 of its ARN)."""
        return account_of(self.arn)

    @classmethod
    def from_describe(cls, raw: Mapping[str, Any]) -> TrailConfig:
        arn = str(raw.get("TrailARN") or "")
        return cls(
            name=str(raw.get("Name") or Arn.parse(arn).leaf),
            arn=arn,
            home_region=str(raw.get("HomeRegion") or region_of(arn)),
            multi_region=bool(raw.get("IsMultiRegionTrail", False)),
            organization_trail=bool(raw.get("IsOrganizationTrail", False)),
            s3_bucket=raw.get("S3BucketName") or None,
            s3_prefix=raw.get("S3KeyPrefix") or None,
            sns_topic_arn=raw.get("SnsTopicARN") or None,
            kms_key_id=raw.get("KmsKeyId") or None,
            log_group_arn=raw.get("CloudWatchLogsLogGroupArn") or None,
            cw_role_arn=raw.get("CloudWatchLogsRoleArn") or None,
            log_file_validation=bool(raw.get("LogFileValidationEnabled", False)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "home_region": self.home_region,
            "multi_region": self.multi_region,
            "organization_trail": self.organization_trail,
            "s3_bucket": self.s3_bucket,
            "s3_prefix": self.s3_prefix,
            "sns_topic_arn": self.sns_topic_arn,
            "kms_key_id": self.kms_key_id,
            "log_group_arn": self.log_group_arn,
            "cw_role_arn": self.cw_role_arn,
            "log_file_validation": self.log_file_validation,
        }


@dataclass(frozen=True)
class ViewKey:
    """The unit of reasoning: one trail as seen from one account in one region."""

    account_id: str
    region: str
    trail_arn: str

    @cached_property
    def id(self) -> str:
        return f"{self.account_id}|{self.region}|{self.trail_arn}"


@dataclass(frozen=True)
class TargetResult:
    """One polled (profile, account, region) and whether it could be read."""

    profile: str | None
    account_id: str | None
    region: str
    ok: bool
    error: str | None = None
    account_alias: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "account_id": self.account_id,
            "region": self.region,
            "ok": self.ok,
            "error": self.error,
        }


#: How the reader of an organization trail reads it.
ReadAs = Literal["owner", "delegated_administrator"]


@dataclass(frozen=True)
class OrgCoverage:
    """The accounts an organization trail logs, and which of them trailtop cannot reach.

    An organization trail logs every account of its Organization. Its status is read once
    per region from the account that owns it, or from a CloudTrail delegated administrator
    when trailtop does not reach the owner, so the members' copies of it are summarised
    here rather than shown as one identical view per member and region.
    """

    trail_arn: str
    organization_id: str | None
    #: The account whose views of the trail carry its status (owner or administrator).
    read_from: str
    #: Every active account of the Organization, the reader included, sorted.
    accounts: tuple[str, ...]
    #: Accounts of the Organization trailtop could not reach, with the reason. They are
    #: still logged by the trail; only their own trails and settings are unknown.
    unreachable: Mapping[str, str] = field(default_factory=dict)
    #: Organization account names by id, where listed.
    names: Mapping[str, str] = field(default_factory=dict)
    #: The account that owns the trail (the Organization's management account).
    owner_account: str = ""

    @property
    def covered(self) -> int:
        return len(self.accounts)

    @property
    def read_as(self) -> ReadAs:
        """How the reader reads the trail: as its owner, or as a delegated administrator."""
        owner = self.owner_account or account_of(self.trail_arn)
        return "owner" if self.read_from == owner else "delegated_administrator"

    def summary_json(self) -> dict[str, Any]:
        return {
            "read_from": self.read_from,
            "read_as": self.read_as,
            "accounts": self.covered,
            "unreachable": len(self.unreachable),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "trail_arn": self.trail_arn,
            "organization_id": self.organization_id,
            "read_from": self.read_from,
            "read_as": self.read_as,
            "accounts": [
                {
                    "account_id": a,
                    "name": self.names.get(a),
                    "reachable": a not in self.unreachable,
                    "reason": self.unreachable.get(a),
                }
                for a in self.accounts
            ],
        }


@dataclass(frozen=True)
class TrailView:
    """A judged view: configuration, raw status, findings and the resulting state."""

    key: ViewKey
    profile: str | None
    trail: TrailConfig
    #: The raw `GetTrailStatus` answer (datetimes kept as datetimes), None if never read.
    status: Mapping[str, Any] | None
    findings: tuple[Finding, ...]
    state: State
    account_alias: str | None = None
    #: When `status` was read (engine clock).
    status_at: datetime | None = field(default=None, compare=False)
    #: Sweep number that last read `status` successfully.
    status_sweep: int = field(default=0, compare=False)
    #: True when the status is older than two sweeps (kept from an earlier sweep).
    stale: bool = False
    #: For an organization trail read from its owner (or administrator): the accounts it
    #: covers. The same object is shared by the trail's views in every region.
    org_coverage: OrgCoverage | None = field(default=None, compare=False)

    @cached_property
    def id(self) -> str:
        return self.key.id

    @property
    def account_label(self) -> str:
        return self.account_alias or self.key.account_id

    @property
    def top_finding(self) -> Finding | None:
        return self.findings[0] if self.findings else None


@dataclass(frozen=True)
class CoverageGap:
    account_id: str
    region: str
    findings: tuple[Finding, ...]
    profile: str | None = None


@dataclass(frozen=True)
class SweepStats:
    requests: int = 0
    describe_calls: int = 0
    status_calls: int = 0
    diagnostic_calls: int = 0
    errors: int = 0
    #: Attempts AWS answered with a throttling error (each retry counted).
    throttled: int = 0


@dataclass(frozen=True)
class Notice:
    """Something an operator must hear about once (not a state): an account no longer
    reached because it left the Organization, for example."""

    kind: str
    account_id: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "account_id": self.account_id, "message": self.message}


@dataclass(frozen=True)
class Snapshot:
    """Everything known after one sweep. Immutable: the UI may keep it as long as it likes."""

    sweep: int
    generated_at: datetime
    started_at: datetime
    duration: float
    targets: tuple[TargetResult, ...]
    views: tuple[TrailView, ...]
    coverage: tuple[CoverageGap, ...] = ()
    stats: SweepStats = SweepStats()
    #: View ids whose state, findings or status changed since the previous snapshot.
    changed: frozenset[str] = frozenset()
    #: View ids present in the previous snapshot but gone now.
    removed: frozenset[str] = frozenset()
    #: When the last sweep in which every target answered finished.
    last_success_at: datetime | None = None
    #: Organization id per account, where known (for org trails).
    org_ids: Mapping[str, str] = field(default_factory=dict)
    #: Remediation plans (core.fix.plans.Plan) by id; findings name theirs in `plan_ids`.
    plans: Mapping[str, Any] = field(default_factory=dict)
    #: Said once, in the snapshot of the sweep that noticed it.
    notices: tuple[Notice, ...] = ()
    #: Profiles whose IAM Identity Center (SSO) session is over: until someone runs
    #: `aws sso login --profile NAME`, what they reach is unknown. Said every sweep.
    sso_login_needed: tuple[str, ...] = ()
    #: Organization trails whose members' views are summarised (OrgCoverage), one each.
    organization_trails: tuple[OrgCoverage, ...] = ()
    #: Published during the first sweep once statuses are read, before destinations are
    #: diagnosed: rows with their status verdicts only. Alerts, exit statuses and change
    #: marks are made from complete snapshots.
    partial: bool = False

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in STATE_ORDER}
        for v in self.views:
            out[v.state.value] += 1
        return out

    @property
    def targets_in_error(self) -> int:
        return sum(1 for t in self.targets if not t.ok)

    @cached_property
    def by_id(self) -> Mapping[str, TrailView]:
        return {v.id: v for v in self.views}

    def view(self, view_id: str) -> TrailView | None:
        return self.by_id.get(view_id)
