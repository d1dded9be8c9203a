"""Pure evaluation: plain data shaped like real DescribeTrails / GetTrailStatus answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.codes import Code
from core.judge.evaluate import Judgement, Thresholds, coverage_gaps, judge_view
from core.model import Channel, Finding, Severity, State, TrailConfig, ViewKey

NOW = datetime(2026, 11, 27, 18, 0, 0, tzinfo=UTC)
TH = Thresholds(s3_stale_seconds=3600, cloudwatch_stale_seconds=1800)
ACCT = "111111111111"
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/main"

# A DescribeTrails entry as AWS returns it (multi-region, validation on, KMS).
DESCRIBE = {
    "Name": "main",
    "S3BucketName": "org-trail-logs",
    "S3KeyPrefix": "prod",
    "IncludeGlobalServiceEvents": True,
    "IsMultiRegionTrail": True,
    "HomeRegion": "us-east-1",
    "TrailARN": ARN,
    "LogFileValidationEnabled": True,
    "KmsKeyId": f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "HasCustomEventSelectors": False,
    "HasInsightSelectors": False,
    "IsOrganizationTrail": False,
}


def trail(**changes: object) -> TrailConfig:
    return TrailConfig.from_describe({**DESCRIBE, **changes})


def healthy_status(**changes: object) -> dict[str, object]:
    """GetTrailStatus of a healthy trail: no error keys at all."""
    st: dict[str, object] = {
        "IsLogging": True,
        "LatestDeliveryTime": NOW - timedelta(minutes=4),
        "LatestDigestDeliveryTime": NOW - timedelta(minutes=30),
        "StartLoggingTime": NOW - timedelta(days=40),
        "LatestDeliveryAttemptTime": "2026-11-27T17:56:00Z",
        "LatestNotificationAttemptTime": "",
        "LatestNotificationAttemptSucceeded": "",
        "LatestDeliveryAttemptSucceeded": "2026-11-27T17:56:00Z",
        "TimeLoggingStarted": "2026-10-18T18:00:00Z",
        "TimeLoggingStopped": "",
    }
    st.update(changes)
    return st


def codes(j: object) -> list[str]:
    return sorted(f.code for f in j.findings)  # type: ignore[attr-defined]


KEY = ViewKey(ACCT, "us-east-1", ARN)


def test_healthy_trail_is_ok_with_no_findings() -> None:
    j = judge_view(trail(), KEY, healthy_status(), NOW, TH)
    assert codes(j) == []
    assert j.state is State.OK


def test_missing_error_keys_mean_no_error_but_empty_strings_too() -> None:
    # AWS omits error keys when healthy; a blank value must not be read as an error either.
    j = judge_view(trail(), KEY, healthy_status(LatestDeliveryError=""), NOW, TH)
    assert j.state is State.OK


def test_logging_stopped_is_critical_and_failing() -> None:
    st = healthy_status(IsLogging=False, StopLoggingTime=NOW - timedelta(hours=2))
    j = judge_view(trail(), KEY, st, NOW, TH)
    assert codes(j) == ["LOGGING_STOPPED"]
    assert j.findings[0].severity is Severity.CRITICAL
    assert j.findings[0].evidence["StopLoggingTime"] == "2026-11-27T16:00:00Z"
    assert j.state is State.FAILING


def test_s3_delivery_error_carries_raw_error() -> None:
    st = healthy_status(LatestDeliveryError="AccessDenied")
    j = judge_view(trail(), KEY, st, NOW, TH)
    assert codes(j) == ["S3_DELIVERY_ERROR"]
    assert j.findings[0].evidence == {"LatestDeliveryError": "AccessDenied"}
    assert j.state is State.FAILING


@pytest.mark.parametrize(
    ("field", "code", "state"),
    [
        ("LatestDigestDeliveryError", "DIGEST_DELIVERY_ERROR", State.FAILING),
        ("LatestCloudWatchLogsDeliveryError", "CLOUDWATCH_DELIVERY_ERROR", State.FAILING),
        ("LatestNotificationError", "SNS_NOTIFICATION_ERROR", State.WARNING),
    ],
)
def test_channel_errors(field: str, code: str, state: State) -> None:
    extra = {}
    if code.startswith("CLOUDWATCH"):
        extra = {
            "CloudWatchLogsLogGroupArn": f"arn:aws:logs:us-east-1:{ACCT}:log-group:ct:*",
            "CloudWatchLogsRoleArn": f"arn:aws:iam::{ACCT}:role/ct-cw",
        }
    st = healthy_status(**{field: "SomeError", "LatestCloudWatchLogsDeliveryTime": NOW})
    j = judge_view(trail(**extra), KEY, st, NOW, TH)
    assert codes(j) == [code]
    assert j.state is state


def only(j: Judgement, code: str) -> Finding:
    found = [f for f in j.findings if f.code == code]
    assert len(found) == 1, codes(j)
    return found[0]


def test_stale_s3_delivery_when_the_digest_heartbeat_stopped_too() -> None:
    st = healthy_status(
        LatestDeliveryTime=NOW - timedelta(hours=3),
        LatestDigestDeliveryTime=NOW - timedelta(hours=2),
    )
    j = judge_view(trail(), KEY, st, NOW, TH)
    assert codes(j) == ["S3_DELIVERY_STALE"]
    f = j.findings[0]
    assert f.severity is Severity.HIGH and f.channel is Channel.S3
    assert f.evidence["age_seconds"] == 3 * 3600
    assert f.evidence["heartbeat"] == "stale"
    assert f.evidence["LatestDigestDeliveryTime"] == "2026-11-27T16:00:00Z"
    assert f.evidence["digest_age_seconds"] == 2 * 3600
    assert f.evidence["digest_threshold_seconds"] == TH.digest_stale_seconds
    assert "digest stopped too" in f.message
    assert j.state is State.FAILING


def test_quiet_region_with_a_fresh_digest_is_quiet_not_failing() -> None:
    # AWS delivers a digest every hour even with no activity: a heartbeat, so no alarm.
    st = healthy_status(
        LatestDeliveryTime=NOW - timedelta(hours=3),
        LatestDigestDeliveryTime=NOW - timedelta(minutes=20),
    )
    j = judge_view(trail(), KEY, st, NOW, TH)
    assert codes(j) == ["S3_DELIVERY_QUIET"]
    f = j.findings[0]
    assert (f.severity, f.channel, f.state) == (Severity.LOW, Channel.S3, State.OK)
    assert j.state is State.OK
    assert f.evidence["heartbeat"] == "fresh"
    assert f.evidence["LogFileValidationEnabled"] is True
    assert f.evidence["LatestDeliveryTime"] == "2026-11-27T15:00:00Z"
    assert f.evidence["age_seconds"] == 3 * 3600
    assert f.evidence["threshold_seconds"] == 3600
    assert f.evidence["LatestDigestDeliveryTime"] == "2026-11-27T17:40:00Z"
    assert f.evidence["digest_age_seconds"] == 20 * 60
    assert "hourly digest" in f.message and "no API activity" in f.message
    assert "explained_by" not in f.evidence


@pytest.mark.parametrize(
    ("digest_age", "code"),
    [
        (TH.digest_stale_seconds, "S3_DELIVERY_QUIET"),
        (TH.digest_stale_seconds + 1, "S3_DELIVERY_STALE"),
    ],
)
def test_digest_heartbeat_threshold_is_inclusive(digest_age: float, code: str) -> None:
    st = healthy_status(
        LatestDeliveryTime=NOW - timedelta(hours=5),
        LatestDigestDeliveryTime=NOW - timedelta(seconds=digest_age),
    )
    assert codes(judge_view(trail(), KEY, st, NOW, TH)) == [code]


def test_custom_digest_threshold_is_honoured() -> None:
    st = healthy_status(
        LatestDeliveryTime=NOW - timedelta(hours=5),
        LatestDigestDeliveryTime=NOW - timedelta(minutes=80),
    )
    assert codes(judge_view(trail(), KEY, st, NOW, TH)) == ["S3_DELIVERY_QUIET"]
    strict = Thresholds(s3_stale_seconds=3600, digest_stale_seconds=3900)
    assert codes(judge_view(trail(), KEY, st, NOW, strict)) == ["S3_DELIVERY_STALE"]


def test_without_validation_a_silent_region_is_quiet_with_the_hint() -> None:
    t = trail(LogFileValidationEnabled=False)
    st = healthy_status(LatestDeliveryTime=NOW - timedelta(hours=3))
    del st["LatestDigestDeliveryTime"]
    # Off the home region, so the posture finding does not appear on this view.
    j = judge_view(t, ViewKey(ACCT, "eu-west-1", ARN), st, NOW, TH)
    assert codes(j) == ["S3_DELIVERY_QUIET"]
    f = j.findings[0]
    assert (f.severity, f.state, j.state) == (Severity.LOW, State.OK, State.OK)
    assert f.evidence["heartbeat"] == "off"
    assert f.evidence["LogFileValidationEnabled"] is False
    assert f.evidence["LatestDigestDeliveryTime"] is None
    assert f.evidence["digest_age_seconds"] is None
    assert f.evidence["age_seconds"] == 3 * 3600
    assert "cannot tell a quiet region from a stalled delivery" in f.message
    assert "enable-log-file-validation" in f.remediation and "heartbeat" in f.remediation
    # On the home view the posture finding says the same thing from the trail's side.
    home = judge_view(t, KEY, st, NOW, TH)
    assert codes(home) == ["LOG_FILE_VALIDATION_DISABLED", "S3_DELIVERY_QUIET"]


def test_never_delivered_after_grace_is_stale_but_fresh_trail_is_not() -> None:
    # No heartbeat and no log file ever, after logging for hours: not silent, STALE.
    t = trail(LogFileValidationEnabled=False)
    st = healthy_status(StartLoggingTime=NOW - timedelta(hours=5))
    del st["LatestDeliveryTime"], st["LatestDigestDeliveryTime"]
    j = judge_view(t, ViewKey(ACCT, "eu-west-1", ARN), st, NOW, TH)
    assert codes(j) == ["S3_DELIVERY_STALE"]
    f = j.findings[0]
    assert (f.severity, j.state) == (Severity.HIGH, State.FAILING)
    assert f.evidence["LatestDeliveryTime"] is None and f.evidence["age_seconds"] is None
    assert f.evidence["StartLoggingTime"] == "2026-11-27T13:00:00Z"
    assert f.evidence["heartbeat"] == "off"
    assert "ever delivered" in f.message and "5h00m of logging" in f.message
    st["StartLoggingTime"] = NOW - timedelta(minutes=10)
    assert codes(judge_view(t, ViewKey(ACCT, "eu-west-1", ARN), st, NOW, TH)) == []


def test_never_delivered_since_an_unknown_time_is_stale() -> None:
    st = {"IsLogging": True}
    j = judge_view(
        trail(LogFileValidationEnabled=False), ViewKey(ACCT, "eu-west-1", ARN), st, NOW, TH
    )
    assert codes(j) == ["S3_DELIVERY_STALE"]
    assert "unknown time" in j.findings[0].message


def test_digest_never_delivered_with_validation_on_is_stale() -> None:
    st = healthy_status(LatestDeliveryTime=NOW - timedelta(hours=3))
    del st["LatestDigestDeliveryTime"]
    j = judge_view(trail(), KEY, st, NOW, TH)
    assert codes(j) == ["S3_DELIVERY_STALE"]
    f = j.findings[0]
    assert (f.severity, j.state) == (Severity.HIGH, State.FAILING)
    assert f.evidence["heartbeat"] == "never"
    assert f.evidence["LatestDigestDeliveryTime"] is None
    assert f.evidence["digest_age_seconds"] is None
    assert "no digest file was ever delivered" in f.message


def test_failing_digest_delivery_is_no_heartbeat() -> None:
    st = healthy_status(
        LatestDeliveryTime=NOW - timedelta(hours=3),
        LatestDigestDeliveryTime=NOW - timedelta(minutes=20),
        LatestDigestDeliveryError="AccessDenied",
    )
    j = judge_view(trail(), KEY, st, NOW, TH)
    assert codes(j) == ["DIGEST_DELIVERY_ERROR", "S3_DELIVERY_STALE"]
    assert only(j, "S3_DELIVERY_STALE").evidence["heartbeat"] == "failing"


def test_no_log_file_ever_but_a_fresh_digest_is_quiet() -> None:
    # The heartbeat shows deliveries reach the bucket: a region that never had activity.
    st = healthy_status(LatestDigestDeliveryTime=NOW - timedelta(minutes=5))
    del st["LatestDeliveryTime"]
    j = judge_view(trail(), KEY, st, NOW, TH)
    assert codes(j) == ["S3_DELIVERY_QUIET"]
    assert j.findings[0].evidence["LatestDeliveryTime"] is None
    assert "ever delivered" in j.findings[0].message
    assert j.state is State.OK


def test_delivery_error_is_never_quiet_even_with_a_fresh_digest() -> None:
    # A KMS problem stops log files but not digest files (SSE-S3): the heartbeat misleads.
    st = healthy_status(
        LatestDeliveryTime=NOW - timedelta(hours=3),
        LatestDigestDeliveryTime=NOW - timedelta(minutes=20),
        LatestDeliveryError="KMS.DisabledException",
    )
    j = judge_view(trail(), KEY, st, NOW, TH)
    assert codes(j) == ["S3_DELIVERY_ERROR", "S3_DELIVERY_STALE"]
    stale = only(j, "S3_DELIVERY_STALE")
    assert stale.evidence["heartbeat"] == "fresh"
    assert "log delivery is failing" in stale.message
    assert j.state is State.FAILING


@pytest.mark.parametrize(
    ("cause", "channel", "severity"),
    [
        ("S3_POLICY_DENIES_CLOUDTRAIL", Channel.S3, Severity.CRITICAL),
        ("KMS_KEY_DISABLED", Channel.KMS, Severity.CRITICAL),
        ("S3_POLICY_ACL_CHECK_MISSING", Channel.S3, Severity.HIGH),
    ],
)
def test_root_cause_on_a_quiet_looking_view_makes_it_stale_and_failing(
    cause: str, channel: Channel, severity: Severity
) -> None:
    # Before CloudTrail reports an error, a policy or key that refuses it explains the
    # silence: it is not called quiet, and the view fails with the cause on top.
    root = Finding(Code(cause), severity, channel, "refuses CloudTrail")
    st = healthy_status(
        LatestDeliveryTime=NOW - timedelta(hours=3),
        LatestDigestDeliveryTime=NOW - timedelta(minutes=20),
    )
    j = judge_view(trail(), KEY, st, NOW, TH, diagnostics=[root])
    assert [f.code for f in j.findings] == [cause, "S3_DELIVERY_STALE"]
    stale = only(j, "S3_DELIVERY_STALE")
    assert stale.evidence["explained_by"] == [cause]
    assert stale.evidence["heartbeat"] == "fresh"
    assert "root cause" in stale.message
    assert j.state is State.FAILING


def test_informational_diagnostics_do_not_turn_quiet_into_stale() -> None:
    # "Could not read the bucket policy" is no evidence of a fault: the heartbeat decides.
    info = Finding(Code.DIAGNOSTICS_INCOMPLETE, Severity.INFO, Channel.S3, "AccessDenied")
    st = healthy_status(
        LatestDeliveryTime=NOW - timedelta(hours=3),
        LatestDigestDeliveryTime=NOW - timedelta(minutes=20),
    )
    j = judge_view(trail(), KEY, st, NOW, TH, diagnostics=[info])
    assert codes(j) == ["DIAGNOSTICS_INCOMPLETE", "S3_DELIVERY_QUIET"]
    assert "explained_by" not in only(j, "S3_DELIVERY_QUIET").evidence
    assert j.state is State.OK


def test_silence_wording_says_what_is_at_risk_not_lost() -> None:
    # AWS retries delivery to an unreachable bucket for 30 days: nothing is "lost" yet.
    st = healthy_status(
        LatestDeliveryTime=NOW - timedelta(hours=3),
        LatestDigestDeliveryTime=NOW - timedelta(hours=3),
    )
    stale = judge_view(trail(), KEY, st, NOW, TH).findings[0]
    assert "30 days" in stale.remediation and "at risk" in stale.remediation
    quiet_st = healthy_status(LatestDeliveryTime=NOW - timedelta(hours=3))
    quiet = judge_view(trail(), KEY, quiet_st, NOW, TH).findings[0]
    for f in (stale, quiet):
        assert "lost" not in (f.message + f.remediation).lower()


def test_deprecated_attempt_fields_never_decide() -> None:
    # Only the deprecated fields say something is wrong: no verdict may come from them.
    st = healthy_status(
        LatestDeliveryAttemptSucceeded="", LatestNotificationAttemptSucceeded="false"
    )
    assert judge_view(trail(), KEY, st, NOW, TH).state is State.OK


def test_cloudwatch_stale_only_when_log_group_configured() -> None:
    st = healthy_status(LatestCloudWatchLogsDeliveryTime=NOW - timedelta(hours=1))
    assert codes(judge_view(trail(), KEY, st, NOW, TH)) == []
    cw = trail(
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:us-east-1:{ACCT}:log-group:ct:*",
        CloudWatchLogsRoleArn=f"arn:aws:iam::{ACCT}:role/ct-cw",
    )
    j = judge_view(cw, KEY, st, NOW, TH)
    assert codes(j) == ["CLOUDWATCH_DELIVERY_STALE"]
    assert j.state is State.WARNING


def test_sns_configured_without_error_is_fine() -> None:
    t = trail(SnsTopicARN=f"arn:aws:sns:us-east-1:{ACCT}:ct")
    assert judge_view(t, KEY, healthy_status(LatestNotificationTime=NOW), NOW, TH).state is State.OK


def test_posture_findings_only_on_home_region_view_and_do_not_change_state() -> None:
    t = trail(LogFileValidationEnabled=False, KmsKeyId=None)
    home = judge_view(t, KEY, healthy_status(), NOW, TH)
    assert codes(home) == ["LOG_FILE_VALIDATION_DISABLED", "NOT_KMS_ENCRYPTED"]
    assert home.state is State.OK
    shadow = judge_view(t, ViewKey(ACCT, "eu-west-1", ARN), healthy_status(), NOW, TH)
    assert codes(shadow) == []


def test_org_trail_from_member_account_is_managed_elsewhere() -> None:
    t = trail(IsOrganizationTrail=True)
    member = ViewKey("222222222222", "us-east-1", ARN)
    j = judge_view(t, member, healthy_status(), NOW, TH)
    assert codes(j) == ["MANAGED_ELSEWHERE"]
    assert j.findings[0].evidence["owner_account"] == ACCT
    assert j.state is State.OK
    # From the owner account the same trail is just a trail.
    assert "MANAGED_ELSEWHERE" not in codes(judge_view(t, KEY, healthy_status(), NOW, TH))


def test_status_unavailable_is_unknown_with_reason_even_if_last_known_was_failing() -> None:
    last = healthy_status(LatestDeliveryError="NoSuchBucket")
    j = judge_view(
        trail(),
        KEY,
        last,
        NOW,
        TH,
        status_error="throttled (retries exhausted): ThrottlingException",
        last_success=NOW - timedelta(minutes=3),
    )
    assert j.state is State.UNKNOWN
    assert j.findings[0].code == "STATUS_UNAVAILABLE"
    assert "ThrottlingException" in j.findings[0].evidence["reason"]
    assert j.findings[0].evidence["last_success_age_seconds"] == 180
    # The last known finding is kept for the drill-down, after the unavailability.
    assert "S3_DELIVERY_ERROR" in codes(j)


def test_never_read_status_is_unknown_never_ok() -> None:
    assert judge_view(trail(), KEY, None, NOW, TH).state is State.UNKNOWN


def test_root_cause_links_raw_error() -> None:
    cause = Finding(Code.S3_BUCKET_MISSING, Severity.CRITICAL, Channel.S3, "gone")
    st = healthy_status(LatestDeliveryError="NoSuchBucket")
    j = judge_view(trail(), KEY, st, NOW, TH, diagnostics=[cause])
    raw = next(f for f in j.findings if f.code == "S3_DELIVERY_ERROR")
    assert raw.evidence["explained_by"] == ["S3_BUCKET_MISSING"]
    # Root causes appear before CloudTrail reports anything too.
    early = judge_view(trail(), KEY, healthy_status(), NOW, TH, diagnostics=[cause])
    assert codes(early) == ["S3_BUCKET_MISSING"] and early.state is State.FAILING


def test_findings_sorted_worst_first() -> None:
    st = healthy_status(IsLogging=False, LatestNotificationError="NotFound")
    t = trail(LogFileValidationEnabled=False, SnsTopicARN=f"arn:aws:sns:us-east-1:{ACCT}:t")
    j = judge_view(t, KEY, st, NOW, TH)
    assert [f.code for f in j.findings] == [
        "LOGGING_STOPPED",
        "SNS_NOTIFICATION_ERROR",
        "LOG_FILE_VALIDATION_DISABLED",
    ]


def test_coverage_gap_only_where_known() -> None:
    enabled = {ACCT: ["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"]}
    logging = {
        (ACCT, "us-east-1"): True,
        (ACCT, "eu-west-1"): False,  # trail there, but not logging
        (ACCT, "sa-east-1"): None,  # could not read: no claim
    }
    gaps = coverage_gaps(enabled, logging)
    assert sorted((g.region, g.findings[0].code) for g in gaps) == [
        ("ap-south-1", "REGION_NOT_COVERED"),
        ("eu-west-1", "REGION_NOT_COVERED"),
    ]


def test_root_cause_is_the_top_finding_ahead_of_its_symptom() -> None:
    # A high-severity cause explaining a critical symptom ranks with (and just before) it.
    cause = Finding(Code.S3_POLICY_ACL_CHECK_MISSING, Severity.HIGH, Channel.S3, "no acl grant")
    st = healthy_status(
        LatestDeliveryError="AccessDenied", LatestDeliveryTime=NOW - timedelta(hours=2)
    )
    j = judge_view(trail(), KEY, st, NOW, TH, diagnostics=[cause])
    assert [f.code for f in j.findings] == [
        "S3_POLICY_ACL_CHECK_MISSING",
        "S3_DELIVERY_ERROR",
        "S3_DELIVERY_STALE",
    ]


def test_a_quiet_region_is_quiet_on_cloudwatch_logs_too() -> None:
    """CloudWatch Logs hears nothing from a region with no activity either: no stale
    finding when it stopped with the last log file and the digest heartbeat is fresh."""
    t = trail(
        LogFileValidationEnabled=True,
        CloudWatchLogsLogGroupArn="arn:aws:logs:us-east-1:111111111111:log-group:ct:*",
        CloudWatchLogsRoleArn="arn:aws:iam::111111111111:role/ct",
    )
    last = NOW - timedelta(hours=4)
    st = {
        "IsLogging": True,
        "StartLoggingTime": NOW - timedelta(days=30),
        "LatestDeliveryTime": last,
        "LatestCloudWatchLogsDeliveryTime": last + timedelta(seconds=30),
        "LatestDigestDeliveryTime": NOW - timedelta(minutes=20),
    }
    assert codes(judge_view(t, KEY, st, NOW, TH)) == ["S3_DELIVERY_QUIET"]
    # CloudWatch Logs silent for hours while log files still arrive: that is its own fault.
    st2 = {**st, "LatestDeliveryTime": NOW - timedelta(minutes=2)}
    assert "CLOUDWATCH_DELIVERY_STALE" in codes(judge_view(t, KEY, st2, NOW, TH))
