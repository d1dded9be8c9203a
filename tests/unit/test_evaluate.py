"""Pure evaluation: plain data shaped like real DescribeTrails / GetTrailStatus answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.judge.evaluate import Thresholds, coverage_gaps, judge_view
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


def test_stale_s3_delivery() -> None:
    st = healthy_status(LatestDeliveryTime=NOW - timedelta(hours=3))
    j = judge_view(trail(), KEY, st, NOW, TH)
    assert codes(j) == ["S3_DELIVERY_STALE"]
    assert j.findings[0].evidence["age_seconds"] == 3 * 3600
    assert j.state is State.FAILING


def test_never_delivered_after_grace_is_stale_but_fresh_trail_is_not() -> None:
    st = healthy_status(StartLoggingTime=NOW - timedelta(hours=5))
    del st["LatestDeliveryTime"]
    assert codes(judge_view(trail(), KEY, st, NOW, TH)) == ["S3_DELIVERY_STALE"]
    st["StartLoggingTime"] = NOW - timedelta(minutes=10)
    assert codes(judge_view(trail(), KEY, st, NOW, TH)) == []


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
    cause = Finding("S3_BUCKET_MISSING", Severity.CRITICAL, Channel.S3, "gone")
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
    cause = Finding("S3_POLICY_ACL_CHECK_MISSING", Severity.HIGH, Channel.S3, "no acl grant")
    st = healthy_status(
        LatestDeliveryError="AccessDenied", LatestDeliveryTime=NOW - timedelta(hours=2)
    )
    j = judge_view(trail(), KEY, st, NOW, TH, diagnostics=[cause])
    assert [f.code for f in j.findings] == [
        "S3_POLICY_ACL_CHECK_MISSING",
        "S3_DELIVERY_ERROR",
        "S3_DELIVERY_STALE",
    ]
