"""Matching CloudTrail events to findings (core/judge/culprit.py): pure, plain data only.

Events are shaped like LookupEvents entries: a summary (EventId, EventName, EventTime,
Username, Resources[ResourceType, ResourceName]) whose `CloudTrailEvent` is the full event
record as a JSON *string*, as AWS returns it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.judge.cause_rules import EVENT_RULES, codes_with_causes
from core.judge.cause_targets import targets_for
from core.judge.culprit import anchor_of, candidates, cause_event, parse_event, window_start
from core.model import TrailConfig

ACCT = "111111111111"
T0 = datetime(2026, 11, 27, 18, 0, 0, tzinfo=UTC)
BUCKET = "audit-logs-111111111111"
KEY_ID = "0f6b4a52-9a51-4f0e-8c2e-1b7a1c9d2e11"
KEY_ARN = f"arn:aws:kms:us-west-2:{ACCT}:key/{KEY_ID}"
ROLE_ARN = f"arn:aws:iam::{ACCT}:role/CloudTrailToCloudWatch"
GROUP_ARN = f"arn:aws:logs:us-west-2:{ACCT}:log-group:/aws/cloudtrail/main:*"
TOPIC_ARN = f"arn:aws:sns:us-west-2:{ACCT}:trail-notify"
CI_ROLE = f"arn:aws:iam::{ACCT}:role/ci-deployer"

TRAIL = TrailConfig(
    name="main",
    arn=f"arn:aws:cloudtrail:us-west-2:{ACCT}:trail/main",
    home_region="us-west-2",
    s3_bucket=BUCKET,
    kms_key_id=KEY_ARN,
    sns_topic_arn=TOPIC_ARN,
    log_group_arn=GROUP_ARN,
    cw_role_arn=ROLE_ARN,
)

_n = 0


def assumed_role(
    role_arn: str = CI_ROLE, session: str = "gitlab-ci-pipeline-4711"
) -> dict[str, Any]:
    name = role_arn.rsplit("/", 1)[-1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{ACCT}:assumed-role/{name}/{session}",
        "accountId": ACCT,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": role_arn,
                "accountId": ACCT,
                "userName": name,
            },
            "attributes": {"mfaAuthenticated": "false"},
        },
    }


def lookup_entry(
    name: str,
    when: datetime,
    params: dict[str, Any] | None = None,
    resources: list[tuple[str, str]] | None = None,
    identity: dict[str, Any] | None = None,
    source: str = "s3.amazonaws.com",
    source_ip: str = "203.0.113.24",
    user_agent: str = "aws-cli/2.17.20",
) -> dict[str, Any]:
    """One LookupEvents entry; `resources` are (type, ARN-or-name) pairs."""
    global _n
    _n += 1
    ident = identity or assumed_role()
    record = {
        "eventVersion": "1.09",
        "userIdentity": ident,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-west-2",
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": params,
        "responseElements": None,
        "eventID": f"evt-{_n}",
        "readOnly": False,
        "resources": [{"accountId": ACCT, "type": t, "ARN": a} for t, a in resources or []],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCT,
    }
    return {
        "EventId": f"evt-{_n}",
        "EventName": name,
        "ReadOnly": "false",
        "AccessKeyId": ident.get("accessKeyId", ""),
        "EventTime": when,
        "EventSource": source,
        "Username": ident.get("userName") or ident["arn"].rsplit("/", 1)[-1],
        "Resources": [
            {"ResourceType": t, "ResourceName": a.rsplit(":::", 1)[-1]} for t, a in resources or []
        ],
        "CloudTrailEvent": json.dumps(record),
    }


def put_policy(bucket: str, when: datetime, **kw: Any) -> dict[str, Any]:
    doc = {"Statement": [{"Effect": "Allow", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}
    return lookup_entry(
        "PutBucketPolicy",
        when,
        {"bucketName": bucket, "bucketPolicy": doc},
        [("AWS::S3::Bucket", f"arn:aws:s3:::{bucket}")],
        **kw,
    )


def status(**times: datetime | str) -> dict[str, Any]:
    return {"IsLogging": True, **times}


# -- the table ----------------------------------------------------------------------------


def test_every_event_of_issue_9_is_in_the_table_with_its_resource_kind() -> None:
    issue = {
        "StopLogging": "trail",
        "DeleteTrail": "trail",
        "UpdateTrail": "trail",
        "PutEventSelectors": "trail",
        "PutBucketPolicy": "bucket",
        "DeleteBucketPolicy": "bucket",
        "DeleteBucket": "bucket",
        "PutBucketOwnershipControls": "bucket",
        "PutBucketRequestPayment": "bucket",
        "DisableKey": "key",
        "ScheduleKeyDeletion": "key",
        "PutKeyPolicy": "key",
        "DeleteTopic": "topic",
        "SetTopicAttributes": "topic",
        "DeleteLogGroup": "log_group",
        # A key associated with the log group (CLOUDWATCH_LOG_GROUP_KMS_DENIES).
        "AssociateKmsKey": "log_group",
        "UpdateAssumeRolePolicy": "role",
        "DeleteRolePolicy": "role",
        "PutRolePolicy": "role",
        "DetachRolePolicy": "role",
        "DeleteRole": "role",
    }
    assert {n: r.kind for n, r in EVENT_RULES.items()} == issue
    # Every root cause (docs/findings.md) has a direct cause (weight 3).
    direct = {c for r in EVENT_RULES.values() for c, w in r.weights.items() if w == 3}
    for code in (
        "LOGGING_STOPPED",
        "S3_BUCKET_MISSING",
        "S3_POLICY_DENIES_CLOUDTRAIL",
        "S3_POLICY_ACL_CHECK_MISSING",
        "KMS_KEY_MISSING",
        "KMS_KEY_DISABLED",
        "KMS_KEY_PENDING_DELETION",
        "KMS_POLICY_DENIES_CLOUDTRAIL",
        "SNS_TOPIC_MISSING",
        "SNS_POLICY_DENIES_CLOUDTRAIL",
        "SNS_TOPIC_KMS_DENIES_CLOUDTRAIL",
        "CLOUDWATCH_LOG_GROUP_MISSING",
        "CLOUDWATCH_ROLE_MISSING",
        "CLOUDWATCH_ROLE_TRUST_INVALID",
        "CLOUDWATCH_ROLE_PERMISSIONS_MISSING",
    ):
        assert code in direct, code
    assert "LOG_FILE_VALIDATION_DISABLED" not in codes_with_causes()
    assert "MANAGED_ELSEWHERE" not in codes_with_causes()


# -- resources ----------------------------------------------------------------------------


def test_bucket_named_in_resources_matches_and_another_bucket_does_not() -> None:
    ours = put_policy(BUCKET, T0 + timedelta(minutes=2))
    theirs = put_policy("someone-elses-bucket", T0 + timedelta(minutes=1))
    st = status(LatestDeliveryTime=T0)
    got = cause_event("S3_POLICY_DENIES_CLOUDTRAIL", TRAIL, st, [theirs, ours])
    assert got is not None
    assert got["event_id"] == ours["EventId"] and got["resource"] in (
        BUCKET,
        f"arn:aws:s3:::{BUCKET}",
    )
    # The other bucket's policy names our bucket inside its document: still not ours.
    assert [
        c.event.event_id for c in candidates("S3_POLICY_DENIES_CLOUDTRAIL", TRAIL, st, [theirs])
    ] == []


def test_request_parameters_alone_identify_the_resource() -> None:
    """Some services leave `resources` empty: the request's own name/ARN fields count."""
    gone = lookup_entry(
        "DeleteLogGroup",
        T0 + timedelta(minutes=3),
        {"logGroupName": "/aws/cloudtrail/main"},
        source="logs.amazonaws.com",
    )
    other = lookup_entry(
        "DeleteLogGroup",
        T0 + timedelta(minutes=1),
        {"logGroupName": "/aws/cloudtrail/other"},
        source="logs.amazonaws.com",
    )
    st = status(LatestCloudWatchLogsDeliveryTime=T0)
    got = cause_event("CLOUDWATCH_LOG_GROUP_MISSING", TRAIL, st, [other, gone])
    assert got is not None and got["event_id"] == gone["EventId"]
    assert got["resource"] == "/aws/cloudtrail/main"


def test_kms_key_matches_by_bare_key_id_in_request_and_by_arn_in_resources() -> None:
    by_id = lookup_entry(
        "DisableKey", T0 + timedelta(minutes=5), {"keyId": KEY_ID}, source="kms.amazonaws.com"
    )
    by_arn = lookup_entry(
        "DisableKey",
        T0 + timedelta(minutes=4),
        {"keyId": "alias/other"},
        [("AWS::KMS::Key", KEY_ARN)],
        source="kms.amazonaws.com",
    )
    st = status(LatestDeliveryTime=T0)
    found = candidates("KMS_KEY_DISABLED", TRAIL, st, [by_id, by_arn])
    assert [c.event.event_id for c in found] == [by_arn["EventId"], by_id["EventId"]]
    unrelated = lookup_entry("DisableKey", T0, {"keyId": "1111-2222"}, source="kms.amazonaws.com")
    assert candidates("KMS_KEY_DISABLED", TRAIL, st, [unrelated]) == []


def test_event_of_the_wrong_kind_never_matches_even_if_it_names_the_resource() -> None:
    """PutRolePolicy's document names the log group; it is not a change to the log group."""
    ev = lookup_entry(
        "PutRolePolicy",
        T0 + timedelta(minutes=1),
        {"roleName": "unrelated", "policyDocument": GROUP_ARN, "policyName": GROUP_ARN},
        source="iam.amazonaws.com",
    )
    st = status(LatestCloudWatchLogsDeliveryTime=T0)
    assert candidates("CLOUDWATCH_LOG_GROUP_MISSING", TRAIL, st, [ev]) == []
    assert candidates("CLOUDWATCH_ROLE_PERMISSIONS_MISSING", TRAIL, st, [ev]) == []


def test_stop_logging_by_trail_name_matches_and_is_timed_against_stop_logging_time() -> None:
    stopped = T0 + timedelta(minutes=30)
    ev = lookup_entry("StopLogging", stopped, {"name": "main"}, source="cloudtrail.amazonaws.com")
    st = {"IsLogging": False, "StopLoggingTime": stopped, "LatestDeliveryTime": T0}
    assert anchor_of("LOGGING_STOPPED", st) == ("StopLoggingTime", stopped)
    got = cause_event("LOGGING_STOPPED", TRAIL, st, [ev])
    assert got is not None and got["event_name"] == "StopLogging"
    assert got["timing"] == "within a minute of the time logging was stopped"
    assert got["before_last_delivery"] is False


def test_update_trail_counts_only_for_the_channel_it_changed() -> None:
    to_bucket = lookup_entry(
        "UpdateTrail",
        T0 + timedelta(minutes=2),
        {"name": TRAIL.arn, "s3BucketName": BUCKET},
        source="cloudtrail.amazonaws.com",
    )
    to_topic = lookup_entry(
        "UpdateTrail",
        T0 + timedelta(minutes=3),
        {"name": TRAIL.arn, "snsTopicName": "trail-notify"},
        source="cloudtrail.amazonaws.com",
    )
    st = status(LatestDeliveryTime=T0, LatestNotificationTime=T0)
    s3 = candidates("S3_BUCKET_MISSING", TRAIL, st, [to_bucket, to_topic])
    assert [c.event.event_id for c in s3] == [to_bucket["EventId"]]
    sns = candidates("SNS_TOPIC_MISSING", TRAIL, st, [to_bucket, to_topic])
    assert [c.event.event_id for c in sns] == [to_topic["EventId"]]


# -- time ---------------------------------------------------------------------------------


def test_the_change_after_the_last_good_delivery_beats_an_older_one() -> None:
    old = put_policy(BUCKET, T0 - timedelta(days=2))
    culprit = put_policy(BUCKET, T0 + timedelta(minutes=3))
    st = status(LatestDeliveryTime=T0)
    got = cause_event("S3_POLICY_DENIES_CLOUDTRAIL", TRAIL, st, [culprit, old])
    assert got is not None
    assert got["event_id"] == culprit["EventId"]
    assert got["before_last_delivery"] is False
    assert got["minutes_after_last_delivery"] == 3.0
    assert got["timing"] == "3 minutes after the last good delivery"
    assert got["confidence"] == "high" and got["candidates"] == 2


def test_the_first_change_after_the_last_good_delivery_broke_it_not_later_ones() -> None:
    first = put_policy(BUCKET, T0 + timedelta(minutes=2))
    later = put_policy(BUCKET, T0 + timedelta(minutes=40), identity=assumed_role(session="alice"))
    st = status(LatestDeliveryTime=T0)
    got = cause_event("S3_POLICY_DENIES_CLOUDTRAIL", TRAIL, st, [later, first])
    assert got is not None and got["event_id"] == first["EventId"]


def test_a_change_before_a_good_delivery_is_reported_as_such_with_low_confidence() -> None:
    before = put_policy(BUCKET, T0 - timedelta(hours=3))
    st = status(LatestDeliveryTime=T0)
    got = cause_event("S3_POLICY_DENIES_CLOUDTRAIL", TRAIL, st, [before])
    assert got is not None
    assert got["before_last_delivery"] is True
    assert got["minutes_after_last_delivery"] == -180.0
    assert got["timing"] == "180 minutes before the last good delivery"
    assert got["confidence"] == "low"


def test_just_before_the_last_delivery_is_preferred_to_long_before() -> None:
    long_before = put_policy(BUCKET, T0 - timedelta(days=1))
    just_before = put_policy(BUCKET, T0 - timedelta(minutes=4))
    st = status(LatestDeliveryTime=T0)
    got = cause_event("S3_POLICY_DENIES_CLOUDTRAIL", TRAIL, st, [long_before, just_before])
    assert got is not None and got["event_id"] == just_before["EventId"]
    assert got["before_last_delivery"] is True and got["confidence"] == "medium"


def test_each_channel_is_timed_against_its_own_last_delivery() -> None:
    st = status(
        LatestDeliveryTime=T0,
        LatestDigestDeliveryTime=T0 - timedelta(hours=1),
        LatestCloudWatchLogsDeliveryTime=T0 - timedelta(hours=2),
        LatestNotificationTime=T0 - timedelta(hours=3),
    )
    assert anchor_of("S3_POLICY_DENIES_CLOUDTRAIL", st)[1] == T0
    assert anchor_of("KMS_KEY_DISABLED", st)[1] == T0
    assert anchor_of("DIGEST_DELIVERY_ERROR", st)[1] == T0 - timedelta(hours=1)
    assert anchor_of("CLOUDWATCH_ROLE_MISSING", st)[1] == T0 - timedelta(hours=2)
    assert anchor_of("SNS_TOPIC_MISSING", st)[1] == T0 - timedelta(hours=3)
    # A change 30 min before the S3 delivery but after the CloudWatch one broke CloudWatch.
    ev = lookup_entry(
        "DeleteRole",
        T0 - timedelta(minutes=30),
        {"roleName": "CloudTrailToCloudWatch"},
        [("AWS::IAM::Role", ROLE_ARN)],
        source="iam.amazonaws.com",
    )
    got = cause_event("CLOUDWATCH_ROLE_MISSING", TRAIL, st, [ev])
    assert got is not None and got["before_last_delivery"] is False
    assert got["timing"] == "90 minutes after the last good delivery"


def test_without_any_delivery_the_latest_change_is_taken() -> None:
    a = put_policy(BUCKET, T0)
    b = put_policy(BUCKET, T0 + timedelta(hours=1))
    got = cause_event("S3_POLICY_DENIES_CLOUDTRAIL", TRAIL, status(), [a, b])
    assert got is not None and got["event_id"] == b["EventId"]
    assert got["last_delivery_time"] is None and got["before_last_delivery"] is False
    assert got["timing"] == "no successful delivery is recorded to compare with"


def test_direct_cause_beats_a_contributing_change_at_the_same_time() -> None:
    when = T0 + timedelta(minutes=5)
    strip = lookup_entry(
        "DeleteRolePolicy",
        when,
        {"roleName": "CloudTrailToCloudWatch", "policyName": "cloudtrail-to-logs"},
        [("AWS::IAM::Role", ROLE_ARN)],
        source="iam.amazonaws.com",
    )
    delete = lookup_entry(
        "DeleteRole",
        when,
        {"roleName": "CloudTrailToCloudWatch"},
        [("AWS::IAM::Role", ROLE_ARN)],
        source="iam.amazonaws.com",
    )
    st = status(LatestCloudWatchLogsDeliveryTime=T0)
    for code in ("CLOUDWATCH_ROLE_MISSING", "CLOUDWATCH_DELIVERY_ERROR"):
        got = cause_event(code, TRAIL, st, [strip, delete])
        assert got is not None and got["event_name"] == "DeleteRole", code
    perms = cause_event("CLOUDWATCH_ROLE_PERMISSIONS_MISSING", TRAIL, st, [strip, delete])
    assert perms is not None and perms["event_name"] == "DeleteRolePolicy"


def test_events_that_cannot_cause_the_finding_are_ignored() -> None:
    st = status(LatestDeliveryTime=T0)
    read = lookup_entry("GetBucketPolicy", T0 + timedelta(minutes=1), {"bucketName": BUCKET})
    key = lookup_entry("DisableKey", T0 + timedelta(minutes=1), {"keyId": KEY_ID})
    assert cause_event("S3_POLICY_DENIES_CLOUDTRAIL", TRAIL, st, [read, key]) is None
    assert cause_event("NOT_KMS_ENCRYPTED", TRAIL, st, [key]) is None


# -- the event itself ---------------------------------------------------------------------


def test_actor_is_the_role_behind_the_session_with_ip_agent_and_full_event() -> None:
    ev = put_policy(
        BUCKET,
        T0 + timedelta(minutes=12),
        source_ip="198.51.100.7",
        user_agent="APN/1.0 HashiCorp/1.0 Terraform/1.9.5",
    )
    got = cause_event("S3_POLICY_DENIES_CLOUDTRAIL", TRAIL, status(LatestDeliveryTime=T0), [ev])
    assert got is not None
    assert got["actor"] == CI_ROLE
    assert (
        got["caller_arn"] == f"arn:aws:sts::{ACCT}:assumed-role/ci-deployer/gitlab-ci-pipeline-4711"
    )
    assert got["actor_type"] == "AssumedRole"
    assert got["source_ip"] == "198.51.100.7"
    assert got["user_agent"].startswith("APN/1.0 HashiCorp")
    assert got["event_time"] == "2026-11-27T18:12:00Z"
    assert got["event"] == json.loads(ev["CloudTrailEvent"])
    assert got["summary"].startswith(f"PutBucketPolicy by {CI_ROLE} at 2026-11-27T18:12:00Z")
    json.dumps(got)  # JSON-able as findings[].cause_event


def test_an_iam_user_is_its_own_actor() -> None:
    user = {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLE",
        "arn": f"arn:aws:iam::{ACCT}:user/bob",
        "accountId": ACCT,
        "accessKeyId": "AKIAEXAMPLE",
        "userName": "bob",
    }
    ev = lookup_entry(
        "DeleteBucket", T0 + timedelta(minutes=1), {"bucketName": BUCKET}, identity=user
    )
    got = cause_event("S3_BUCKET_MISSING", TRAIL, status(LatestDeliveryTime=T0), [ev])
    assert got is not None
    assert got["actor"] == f"arn:aws:iam::{ACCT}:user/bob" and got["username"] == "bob"


def test_parse_event_reads_summary_times_and_survives_a_broken_record() -> None:
    entry = put_policy(BUCKET, T0)
    entry["EventTime"] = T0.replace(tzinfo=None) + timedelta(milliseconds=488)  # naive = UTC
    ev = parse_event(entry)
    assert ev is not None and ev.time == T0 + timedelta(milliseconds=488)
    broken = dict(entry, CloudTrailEvent="{not json")
    ev2 = parse_event(broken)
    assert ev2 is not None and ev2.name == "PutBucketPolicy" and ev2.actor == ""
    assert parse_event({"EventName": "", "CloudTrailEvent": "{}"}) is None


# -- where to look ------------------------------------------------------------------------


def test_targets_say_where_aws_records_each_change() -> None:
    def where(code: str, **kw: Any) -> list[tuple[str, str, str, int]]:
        return [(t.kind, t.lookup, t.region, t.phase) for t in targets_for(code, TRAIL, **kw)]

    trail = ("trail", TRAIL.arn, "us-west-2", 2)
    assert where("LOGGING_STOPPED") == [("trail", TRAIL.arn, "us-west-2", 1)]
    assert where("S3_POLICY_DENIES_CLOUDTRAIL") == [("bucket", BUCKET, "us-west-2", 1), trail]
    assert where("S3_BUCKET_MISSING", bucket_region="eu-central-1")[0] == (
        "bucket",
        BUCKET,
        "eu-central-1",
        1,
    )
    assert where("KMS_KEY_DISABLED")[0] == ("key", KEY_ARN, "us-west-2", 1)
    kms_err = {"LatestDeliveryError": "KMS.DisabledException: key is disabled"}
    assert where("S3_DELIVERY_ERROR", status=kms_err)[0][0] == "key"
    assert (
        where("S3_DELIVERY_ERROR", status={"LatestDeliveryError": "AccessDenied"})[0][0] == "bucket"
    )
    # IAM is global: its changes are recorded in us-east-1.
    assert where("CLOUDWATCH_ROLE_TRUST_INVALID")[0] == (
        "role",
        "CloudTrailToCloudWatch",
        "us-east-1",
        1,
    )
    assert where("CLOUDWATCH_LOG_GROUP_MISSING")[0] == (
        "log_group",
        "/aws/cloudtrail/main",
        "us-west-2",
        1,
    )
    assert where("SNS_TOPIC_MISSING")[0] == ("topic", TOPIC_ARN, "us-west-2", 1)
    assert where("NOT_KMS_ENCRYPTED") == []


@pytest.mark.parametrize(
    ("anchor_days", "expected_days"),
    [(None, 7.0), (2.0, 7.0), (8.0, 9.0), (120.0, 90.0)],
)
def test_window_reaches_back_past_an_old_last_delivery_but_not_past_90_days(
    anchor_days: float | None, expected_days: float
) -> None:
    now = T0
    anchor = None if anchor_days is None else now - timedelta(days=anchor_days)
    assert window_start([anchor], now) == now - timedelta(days=expected_days)
