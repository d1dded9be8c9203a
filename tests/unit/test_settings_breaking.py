"""Bucket and key settings that break CloudTrail's delivery without any policy refusing it.

Each is judged purely from what core/aws/diagnose.py read: a healthy setting raises
nothing, a broken one its code, and a status error of the same channel says it is
explained by it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from core.codes import Code
from core.judge.culprit import EVENT_RULES, cause_event, event_names_for
from core.judge.evaluate import Thresholds, judge_view
from core.judge.rootcause import Destinations, Fact, root_causes
from core.model import Finding, Severity, State, TrailConfig, ViewKey

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
ACCT = "111111111111"
REGION = "us-east-1"
ARN = f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/main"
BUCKET = "ct-logs"
KEY = ViewKey(ACCT, REGION, ARN)


def trail(**kw: object) -> TrailConfig:
    raw = {
        "Name": "main",
        "TrailARN": ARN,
        "HomeRegion": REGION,
        "S3BucketName": BUCKET,
        "IsMultiRegionTrail": True,
    }
    raw.update(kw)
    return TrailConfig.from_describe(raw)


def documented_bucket_policy() -> str:
    """The single-account bucket policy of the CloudTrail User Guide."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSCloudTrailAclCheck20150319",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": f"arn:aws:s3:::{BUCKET}",
                    "Condition": {"StringEquals": {"aws:SourceArn": ARN}},
                },
                {
                    "Sid": "AWSCloudTrailWrite20150319",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{BUCKET}/AWSLogs/{ACCT}/*",
                    "Condition": {
                        "StringEquals": {
                            "s3:x-amz-acl": "bucket-owner-full-control",
                            "aws:SourceArn": ARN,
                        }
                    },
                },
            ],
        }
    )


def bucket(**data: object) -> Fact:
    return Fact("bucket", BUCKET, True, data={"policy": documented_bucket_policy(), **data})


def codes(findings: list[Finding]) -> list[str]:
    return sorted(f.code for f in findings)


# -- Requester Pays -------------------------------------------------------------------------


def test_a_bucket_the_owner_pays_for_has_no_finding() -> None:
    found = root_causes(trail(), KEY, Destinations(bucket=bucket(payer="BucketOwner")), NOW)
    assert found == []


def test_a_requester_pays_bucket_is_critical_on_the_s3_channel() -> None:
    found = root_causes(trail(), KEY, Destinations(bucket=bucket(payer="Requester")), NOW)
    assert codes(found) == [Code.S3_BUCKET_REQUESTER_PAYS]
    f = found[0]
    assert f.severity is Severity.CRITICAL and f.channel.value == "s3"
    assert f.evidence == {"bucket": BUCKET, "Payer": "Requester"}
    assert "PutBucketRequestPayment" in f.remediation


def test_requester_pays_is_judged_even_when_the_policy_also_refuses() -> None:
    fact = Fact("bucket", BUCKET, True, data={"policy": None, "payer": "Requester"})
    found = codes(root_causes(trail(), KEY, Destinations(bucket=fact), NOW))
    assert Code.S3_BUCKET_REQUESTER_PAYS in found
    assert Code.S3_POLICY_DENIES_CLOUDTRAIL in found


def test_an_unreadable_payer_is_not_judged() -> None:
    fact = bucket(payer_error="AccessDenied: not authorized")
    assert root_causes(trail(), KEY, Destinations(bucket=fact), NOW) == []


def test_requester_pays_explains_the_delivery_error() -> None:
    t = trail()
    causes = root_causes(t, KEY, Destinations(bucket=bucket(payer="Requester")), NOW)
    status = {
        "IsLogging": True,
        "LatestDeliveryError": "AccessDenied",
        "LatestDeliveryTime": NOW - timedelta(hours=2),
    }
    judged = judge_view(t, KEY, status, NOW, Thresholds(), diagnostics=causes)
    assert judged.state is State.FAILING
    error = next(f for f in judged.findings if f.code == Code.S3_DELIVERY_ERROR)
    assert Code.S3_BUCKET_REQUESTER_PAYS in error.evidence["explained_by"]


def test_put_bucket_request_payment_is_the_culprit() -> None:
    assert EVENT_RULES["PutBucketRequestPayment"].kind == "bucket"
    assert event_names_for(Code.S3_BUCKET_REQUESTER_PAYS)["PutBucketRequestPayment"] == 3
    when = NOW - timedelta(hours=1)
    record = {
        "eventName": "PutBucketRequestPayment",
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventID": "e-1",
        "awsRegion": REGION,
        "recipientAccountId": ACCT,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCT}:user/alice"},
        "requestParameters": {
            "bucketName": BUCKET,
            "RequestPaymentConfiguration": {"Payer": "Requester"},
        },
        "resources": [{"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{BUCKET}"}],
    }
    status = {"IsLogging": True, "LatestDeliveryTime": when - timedelta(minutes=5)}
    got = cause_event(Code.S3_BUCKET_REQUESTER_PAYS, trail(), status, [record])
    assert got is not None and got["event_name"] == "PutBucketRequestPayment"
