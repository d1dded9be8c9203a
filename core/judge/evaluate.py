"""Judging a trail view from its status: pure, `now` passed in, no I/O.

What each finding code means is in docs/findings.md. Two choices worth knowing:
- A view whose status could not be read *this sweep* is `unknown`, whatever it was before;
  its last known findings are kept after `STATUS_UNAVAILABLE` so the drill-down still
  shows them, but they no longer decide the state (we cannot see, so we do not claim).
- Posture findings (`LOG_FILE_VALIDATION_DISABLED`, `NOT_KMS_ENCRYPTED`) are properties of
  the trail, not of a region: they are reported once, on the trail's home-region view.
- A region with no API activity delivers no log file, so an old `LatestDeliveryTime` alone is
  not a failure. With log file validation on, CloudTrail delivers a digest file every hour
  even for an hour with no activity: a recent digest is a heartbeat, and the silence is
  `S3_DELIVERY_QUIET` (low). The silence stays `S3_DELIVERY_STALE` (high) when the heartbeat
  stopped too, when there never was a delivery, or when something on the delivery path is
  known to be wrong (a delivery error, or a root cause on the bucket or key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.codes import Code
from core.model import (
    SEVERITY_ORDER,
    Channel,
    CoverageGap,
    Finding,
    Severity,
    State,
    TrailConfig,
    ViewKey,
    worst_state,
)
from core.util.times import iso, parse_time

#: GetTrailStatus fields that AWS documents as "no longer in use": hints at most.
DEPRECATED_STATUS_FIELDS = frozenset(
    {
        "LatestDeliveryAttemptTime",
        "LatestNotificationAttemptTime",
        "LatestNotificationAttemptSucceeded",
        "LatestDeliveryAttemptSucceeded",
        "TimeLoggingStarted",
        "TimeLoggingStopped",
    }
)

#: Root-cause channels that can explain each raw status finding (`explained_by` links).
_EXPLAINS: dict[str, frozenset[Channel]] = {
    Code.S3_DELIVERY_ERROR: frozenset({Channel.S3, Channel.KMS}),
    Code.DIGEST_DELIVERY_ERROR: frozenset({Channel.S3, Channel.KMS}),
    Code.CLOUDWATCH_DELIVERY_ERROR: frozenset({Channel.CLOUDWATCH}),
    Code.CLOUDWATCH_DELIVERY_STALE: frozenset({Channel.CLOUDWATCH}),
    Code.S3_DELIVERY_STALE: frozenset({Channel.S3, Channel.KMS}),
    Code.SNS_NOTIFICATION_ERROR: frozenset({Channel.SNS}),
}

#: Status-derived codes. A root cause can explain those in `_EXPLAINS`; a quiet region is
#: never "explained": when a cause is present the silence is judged stale instead.
_STATUS_CODES = frozenset(_EXPLAINS) | {Code.S3_DELIVERY_QUIET}


@dataclass(frozen=True)
class Thresholds:
    s3_stale_seconds: float = 3600.0
    cloudwatch_stale_seconds: float = 1800.0
    #: Digest files come every hour, even for an hour without activity; 30 minutes more for
    #: a late one. A digest older than this means the heartbeat has stopped too.
    digest_stale_seconds: float = 5400.0


@dataclass(frozen=True)
class Judgement:
    findings: tuple[Finding, ...]
    state: State


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d"


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Worst first; a root cause ranks with the worst symptom it explains, just before it.

    So the top finding of a view whose bucket policy denies CloudTrail is the policy
    finding (the cause, with its evidence), not the bare `AccessDenied` it produces.
    """
    items = list(findings)
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    effective = {f.code: rank[f.severity] for f in items}
    for f in items:
        for cause in f.evidence.get("explained_by", ()) if f.code in _STATUS_CODES else ():
            if cause in effective:
                effective[cause] = min(effective[cause], rank[f.severity])
    return tuple(sorted(items, key=lambda f: (effective[f.code], f.code in _STATUS_CODES, f.code)))


def status_findings(
    trail: TrailConfig,
    status: Mapping[str, Any],
    now: datetime,
    thresholds: Thresholds,
    causes: Sequence[Finding] = (),
) -> list[Finding]:
    """Findings CloudTrail's own status supports. A missing error key means no error.

    `causes` are the view's root-cause findings: one on the bucket or key (not `ok`) means
    a silent S3 channel is not called quiet, whatever the digest heartbeat says.
    """
    out: list[Finding] = []
    is_logging = bool(status.get("IsLogging", False))
    started = parse_time(status.get("StartLoggingTime"))
    if not is_logging:
        stopped = parse_time(status.get("StopLoggingTime"))
        out.append(
            Finding(
                Code.LOGGING_STOPPED,
                Severity.CRITICAL,
                Channel.TRAIL,
                "Trail is not logging: no events are recorded for this region.",
                {"IsLogging": False, "StopLoggingTime": iso(stopped)},
                "Start logging (cloudtrail:StartLogging), then find who stopped it.",
            )
        )

    def error(field: str, code: Code, sev: Severity, chan: Channel, what: str, fix: str) -> None:
        raw = status.get(field)
        if raw:
            out.append(Finding(code, sev, chan, f"{what}: {raw}", {field: str(raw)}, fix))

    error(
        "LatestDeliveryError",
        Code.S3_DELIVERY_ERROR,
        Severity.CRITICAL,
        Channel.S3,
        "CloudTrail cannot deliver log files to S3",
        "Check the bucket exists, its policy grants cloudtrail.amazonaws.com s3:PutObject "
        "for this trail, and the KMS key (if any) is enabled and usable by CloudTrail.",
    )
    error(
        "LatestDigestDeliveryError",
        Code.DIGEST_DELIVERY_ERROR,
        Severity.HIGH,
        Channel.DIGEST,
        "CloudTrail cannot deliver digest files to S3",
        "Digest files share the log bucket and key: fix the S3/KMS cause first.",
    )
    error(
        "LatestCloudWatchLogsDeliveryError",
        Code.CLOUDWATCH_DELIVERY_ERROR,
        Severity.HIGH,
        Channel.CLOUDWATCH,
        "CloudTrail cannot deliver to CloudWatch Logs",
        "Check the log group exists and the delivery role trusts cloudtrail.amazonaws.com "
        "and allows logs:CreateLogStream and logs:PutLogEvents on it.",
    )
    error(
        "LatestNotificationError",
        Code.SNS_NOTIFICATION_ERROR,
        Severity.MEDIUM,
        Channel.SNS,
        "CloudTrail cannot publish to the SNS topic",
        "Check the topic exists and its policy grants cloudtrail.amazonaws.com SNS:Publish.",
    )

    if is_logging:
        logging_for = _age(now, started)
        silence = s3_silence(trail, status, now, thresholds, causes)
        if silence is not None:
            out.append(silence)
        if trail.log_group_arn:
            cw_last = parse_time(status.get("LatestCloudWatchLogsDeliveryTime"))
            cw_age = _age(now, cw_last)
            cw_grace = (
                logging_for is not None and logging_for <= thresholds.cloudwatch_stale_seconds
            )
            stale = (cw_age is None and not cw_grace) or (
                cw_age is not None and cw_age > thresholds.cloudwatch_stale_seconds
            )
            if stale and not _quiet_together(silence, status, cw_last, thresholds):
                out.append(
                    Finding(
                        Code.CLOUDWATCH_DELIVERY_STALE,
                        Severity.MEDIUM,
                        Channel.CLOUDWATCH,
                        "No delivery to CloudWatch Logs for "
                        + (human_age(cw_age) if cw_age is not None else "ever")
                        + f" (threshold {human_age(thresholds.cloudwatch_stale_seconds)}).",
                        {
                            "LatestCloudWatchLogsDeliveryTime": iso(cw_last),
                            "age_seconds": cw_age,
                            "threshold_seconds": thresholds.cloudwatch_stale_seconds,
                        },
                        "Check the log group and the CloudWatch Logs delivery role.",
                    )
                )
    return out


def _quiet_together(
    silence: Finding | None,
    status: Mapping[str, Any],
    cw_last: datetime | None,
    thresholds: Thresholds,
) -> bool:
    """A quiet region sends CloudWatch Logs nothing either: when the S3 channel is judged
    quiet and CloudWatch Logs stopped receiving at about the time the last log file was
    delivered, the silence is the same one, already reported as S3_DELIVERY_QUIET."""
    if silence is None or silence.code != Code.S3_DELIVERY_QUIET or cw_last is None:
        return False
    s3_last = parse_time(status.get("LatestDeliveryTime"))
    if s3_last is None:
        return False
    return abs((s3_last - cw_last).total_seconds()) <= thresholds.cloudwatch_stale_seconds


#: Why a silent S3 channel is or is not a quiet region, as `evidence.heartbeat` says it.
HEARTBEAT_FRESH = "fresh"  # validation on, a digest within digest_stale_seconds
HEARTBEAT_STALE = "stale"  # validation on, the last digest is older than that
HEARTBEAT_NEVER = "never"  # validation on, no digest ever delivered
HEARTBEAT_FAILING = "failing"  # validation on, LatestDigestDeliveryError is set
HEARTBEAT_OFF = "off"  # validation off: no heartbeat to read

#: What is at risk while log files are held back, per AWS's documented redelivery window.
_REDELIVERY = (
    "AWS retries delivery to a misconfigured or unreachable bucket for 30 days: fix the "
    "cause within that window and the held-back log files can still arrive; after it they "
    "are at risk."
)


def s3_silence(
    trail: TrailConfig,
    status: Mapping[str, Any],
    now: datetime,
    thresholds: Thresholds,
    causes: Sequence[Finding] = (),
) -> Finding | None:
    """`S3_DELIVERY_STALE`, `S3_DELIVERY_QUIET` or nothing, for a logging view.

    Silent = no log file for longer than `s3_stale_seconds` (or never, after logging that
    long). Quiet (low) when the digest heartbeat is fresh, or when there is no heartbeat
    (validation off) but log files did arrive before; stale (high) otherwise, and always
    when a delivery error or a root cause on the bucket or key is present.
    """
    threshold = thresholds.s3_stale_seconds
    started = parse_time(status.get("StartLoggingTime"))
    logging_for = _age(now, started)
    last = parse_time(status.get("LatestDeliveryTime"))
    age = _age(now, last)
    # A trail that started logging recently has not had a chance to deliver yet.
    grace = logging_for is not None and logging_for <= threshold
    if not ((age is None and not grace) or (age is not None and age > threshold)):
        return None

    digest_last = parse_time(status.get("LatestDigestDeliveryTime"))
    digest_age = _age(now, digest_last)
    digest_threshold = thresholds.digest_stale_seconds
    if not trail.log_file_validation:
        heartbeat = HEARTBEAT_OFF
    elif status.get("LatestDigestDeliveryError"):
        heartbeat = HEARTBEAT_FAILING
    elif digest_age is None:
        heartbeat = HEARTBEAT_NEVER
    elif digest_age > digest_threshold:
        heartbeat = HEARTBEAT_STALE
    else:
        heartbeat = HEARTBEAT_FRESH
    path = _EXPLAINS[Code.S3_DELIVERY_STALE]
    blocked = [
        c.code
        for c in causes
        if c.code not in _STATUS_CODES and c.channel in path and c.state is not State.OK
    ]
    delivery_error = bool(status.get("LatestDeliveryError"))
    evidence: dict[str, Any] = {
        "LatestDeliveryTime": iso(last),
        "age_seconds": age,
        "threshold_seconds": threshold,
        "StartLoggingTime": iso(started),
        "LogFileValidationEnabled": trail.log_file_validation,
        "heartbeat": heartbeat,
        "LatestDigestDeliveryTime": iso(digest_last),
        "digest_age_seconds": digest_age,
        "digest_threshold_seconds": digest_threshold,
    }
    if age is not None:
        silent_for = f"No log file delivered to S3 for {human_age(age)}"
    elif logging_for is not None:
        silent_for = f"No log file ever delivered to S3 in {human_age(logging_for)} of logging"
    else:
        silent_for = "No log file ever delivered to S3 (logging since an unknown time)"
    silent_for += f" (threshold {human_age(threshold)})"
    digest_seen = f"last digest {human_age(digest_age)} ago"

    quiet = not blocked and not delivery_error
    if quiet and heartbeat == HEARTBEAT_FRESH:
        return Finding(
            Code.S3_DELIVERY_QUIET,
            Severity.LOW,
            Channel.S3,
            f"{silent_for}, but the region delivered its hourly digest ({digest_seen}): "
            "likely no API activity here, not a stalled delivery.",
            evidence,
            "Nothing to fix if this region is meant to be idle. If it should have activity, "
            "check the trail's event selectors. trailtop reports S3_DELIVERY_STALE if the "
            "digest files stop too.",
        )
    if quiet and heartbeat == HEARTBEAT_OFF and age is not None:
        return Finding(
            Code.S3_DELIVERY_QUIET,
            Severity.LOW,
            Channel.S3,
            f"{silent_for}: without log file validation trailtop cannot tell a quiet "
            "region from a stalled delivery.",
            evidence,
            "Enable log file validation (cloudtrail:UpdateTrail --enable-log-file-validation): "
            "its hourly digest files arrive even when there is no activity, a heartbeat that "
            "tells a quiet region from a stalled delivery. If this region should have "
            "activity, check the bucket, its policy and the KMS key now.",
        )

    if delivery_error or blocked:
        why = (
            "; log delivery is failing"
            if delivery_error
            else "; a root cause on the bucket or key explains it"
        )
        if heartbeat == HEARTBEAT_FRESH:
            why += f" although digest files still arrive ({digest_seen})"
    elif heartbeat == HEARTBEAT_STALE:
        why = f", and the hourly digest stopped too ({digest_seen})"
    elif heartbeat == HEARTBEAT_NEVER:
        why = ", and no digest file was ever delivered although log file validation is on"
    elif heartbeat == HEARTBEAT_FAILING:
        why = ", and digest delivery is failing too"
    else:
        why = ""
    return Finding(
        Code.S3_DELIVERY_STALE,
        Severity.HIGH,
        Channel.S3,
        f"{silent_for}{why}.",
        evidence,
        "A delivery that times out sets no error, so age is the only sign: check the "
        "bucket, its policy and the KMS key. " + _REDELIVERY,
    )


def posture_findings(trail: TrailConfig, key: ViewKey, administers: bool = False) -> list[Finding]:
    """The trail's own settings, said once: by the owner's view in the home region (or a
    delegated administrator's, when that account reads the organization trail)."""
    if key.region != trail.home_region:
        return []
    if key.account_id != trail.owner_account and not administers:
        return []
    out: list[Finding] = []
    if not trail.log_file_validation:
        out.append(
            Finding(
                Code.LOG_FILE_VALIDATION_DISABLED,
                Severity.LOW,
                Channel.TRAIL,
                "Log file integrity validation is off: tampering with delivered logs goes unnoticed.",
                {"LogFileValidationEnabled": False},
                "Enable it: cloudtrail:UpdateTrail --enable-log-file-validation.",
            )
        )
    if not trail.kms_key_id:
        out.append(
            Finding(
                Code.NOT_KMS_ENCRYPTED,
                Severity.LOW,
                Channel.TRAIL,
                "Log files are encrypted with S3-managed keys only, not a KMS key.",
                {"KmsKeyId": None},
                "Consider SSE-KMS with a key whose policy allows CloudTrail.",
            )
        )
    return out


def managed_elsewhere(trail: TrailConfig, key: ViewKey) -> Finding | None:
    owner = trail.owner_account
    if trail.organization_trail and owner and owner != key.account_id:
        return Finding(
            Code.MANAGED_ELSEWHERE,
            Severity.INFO,
            Channel.TRAIL,
            f"Organization trail owned by account {owner}; its destinations are managed there.",
            {"owner_account": owner, "viewing_account": key.account_id},
            f"Diagnose and fix it from the management account {owner}, or from a CloudTrail "
            "delegated administrator trailtop reaches (it then reads the trail there).",
        )
    return None


def status_unavailable(reason: str, last_success: datetime | None, now: datetime) -> Finding:
    return Finding(
        Code.STATUS_UNAVAILABLE,
        Severity.UNKNOWN,
        Channel.TRAIL,
        f"Could not read the trail status: {reason}",
        {
            "reason": reason,
            "last_success": iso(last_success),
            "last_success_age_seconds": _age(now, last_success),
        },
        "Check the credentials and permissions (cloudtrail:GetTrailStatus) for this "
        "account and region, or wait for throttling/outage to pass.",
    )


def link_root_causes(findings: Sequence[Finding]) -> list[Finding]:
    """Attach the codes of root causes that explain each raw status finding."""
    causes = [f for f in findings if f.code not in _STATUS_CODES and f.channel in _ROOT_CHANNELS]
    out: list[Finding] = []
    for f in findings:
        chans = _EXPLAINS.get(f.code)
        if chans:
            explained = [c.code for c in causes if c.channel in chans and c.state is not State.OK]
            if explained:
                ev = dict(f.evidence)
                ev["explained_by"] = explained
                f = Finding(
                    f.code,
                    f.severity,
                    f.channel,
                    f.message,
                    ev,
                    f.remediation + " Root cause: " + ", ".join(explained) + ".",
                    f.plan_ids,
                    f.cause_event,
                )
        out.append(f)
    return out


_ROOT_CHANNELS = frozenset({Channel.S3, Channel.KMS, Channel.SNS, Channel.CLOUDWATCH})


def judge_view(
    trail: TrailConfig,
    key: ViewKey,
    status: Mapping[str, Any] | None,
    now: datetime,
    thresholds: Thresholds,
    *,
    status_error: str | None = None,
    last_success: datetime | None = None,
    diagnostics: Sequence[Finding] = (),
    administers: bool = False,
) -> Judgement:
    """The verdict for one view.

    `status` is the last successfully read status (may be from an earlier sweep when
    `status_error` says this sweep's read failed); `diagnostics` are root-cause findings
    from the destinations (core/aws/diagnose.py). `administers`: the viewing account is the
    CloudTrail delegated administrator that reads this organization trail, so it is judged
    like the management account's own view rather than MANAGED_ELSEWHERE.
    """
    findings: list[Finding] = []
    elsewhere = None if administers else managed_elsewhere(trail, key)
    if elsewhere:
        findings.append(elsewhere)
    if status is not None:
        findings.extend(status_findings(trail, status, now, thresholds, diagnostics))
    findings.extend(diagnostics)
    findings.extend(posture_findings(trail, key, administers))
    findings = link_root_causes(findings)

    if status_error is not None or status is None:
        reason = status_error or "status never read"
        ordered = (status_unavailable(reason, last_success, now), *sort_findings(findings))
        return Judgement(ordered, State.UNKNOWN)
    ordered = sort_findings(findings)
    return Judgement(ordered, worst_state(f.state for f in ordered))


def view_covers_region(
    status: Mapping[str, Any] | None, findings: Iterable[Finding]
) -> bool | None:
    """Whether a view's trail records management events in its region: it is logging there
    and its event selectors do not exclude every management event
    (TRAIL_NO_MANAGEMENT_EVENTS: "If the event doesn't match any event selector, the trail
    doesn't log the event", AWS PutEventSelectors). None when the status was never read.
    The coverage of an account-region (``coverage_gaps``) is known True when one view
    covers it."""
    if status is None:
        return None
    if not status.get("IsLogging"):
        return False
    return not any(f.code == Code.TRAIL_NO_MANAGEMENT_EVENTS for f in findings)


def coverage_gaps(
    enabled_regions: Mapping[str, Sequence[str]],
    logging_by_account_region: Mapping[tuple[str, str], bool | None],
    profiles: Mapping[str, str | None] | None = None,
) -> list[CoverageGap]:
    """REGION_NOT_COVERED for each enabled region where we *know* nothing is logging.

    `logging_by_account_region[(acct, region)]` is True when some trail view there is
    logging, False when every view read says not logging (or there is none), and None
    when we could not tell (a read failed): then no claim is made.
    """
    out: list[CoverageGap] = []
    for acct, regions in sorted(enabled_regions.items()):
        for region in regions:
            known = logging_by_account_region.get((acct, region), False)
            if known is False:
                out.append(
                    CoverageGap(
                        acct,
                        region,
                        (
                            Finding(
                                Code.REGION_NOT_COVERED,
                                Severity.HIGH,
                                Channel.COVERAGE,
                                f"No logging trail covers {region} in account {acct}.",
                                {"account_id": acct, "region": region},
                                "Create a multi-region trail (or make an existing one "
                                "multi-region) so every enabled region is recorded.",
                            ),
                        ),
                        (profiles or {}).get(acct),
                    )
                )
    return out
