"""Bucket and key settings that break CloudTrail's delivery without any policy refusing it.

Each is judged purely from what core/aws/diagnose.py read: a healthy setting raises
nothing, a broken one its code, and a status error of the same channel says it is
explained by it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from botocore.exceptions import ClientError

from core.aws.collect import Account
from core.aws.destination_reads import bucket_region
from core.aws.diagnose import DestinationDiagnoser
from core.codes import Code
from core.engine.protocols import ViewInput
from core.judge.cause_rules import EVENT_RULES, event_names_for
from core.judge.cause_targets import targets_for
from core.judge.culprit import cause_event
from core.judge.evaluate import Thresholds, judge_view
from core.judge.facts import Destinations, Fact
from core.judge.rootcause import root_causes
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


# -- KMS key in another region than the bucket ----------------------------------------------

KEY_ARN = f"arn:aws:kms:{REGION}:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def kms_trail() -> TrailConfig:
    return trail(KmsKeyId=KEY_ARN)


def described_key(arn: str = KEY_ARN) -> Fact:
    meta = {"KeyState": "Enabled", "Arn": arn}
    return Fact("key", KEY_ARN, True, data={"metadata": meta, "policy": None})


def region_codes(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.code == Code.KMS_KEY_OTHER_REGION]


def test_a_key_in_the_buckets_region_has_no_finding() -> None:
    dest = Destinations(bucket=bucket(region=REGION), key=described_key())
    assert region_codes(root_causes(kms_trail(), KEY, dest, NOW)) == []


def test_a_key_in_another_region_than_the_bucket_is_critical_on_the_kms_channel() -> None:
    dest = Destinations(bucket=bucket(region="eu-west-1"), key=described_key())
    found = region_codes(root_causes(kms_trail(), KEY, dest, NOW))
    assert len(found) == 1
    f = found[0]
    assert f.severity is Severity.CRITICAL and f.channel.value == "kms"
    assert f.evidence == {
        "kms_key_id": KEY_ARN,
        "key_region": REGION,
        "bucket": BUCKET,
        "bucket_region": "eu-west-1",
    }
    assert "eu-west-1" in f.remediation


def test_the_described_key_arn_decides_the_keys_region() -> None:
    other = KEY_ARN.replace(REGION, "eu-west-1")
    dest = Destinations(bucket=bucket(region="eu-west-1"), key=described_key(other))
    assert region_codes(root_causes(kms_trail(), KEY, dest, NOW)) == []


def test_without_a_readable_key_the_trails_key_arn_is_compared() -> None:
    unread = Fact("key", KEY_ARN, None, "AccessDeniedException")
    dest = Destinations(bucket=bucket(region="ap-south-1"), key=unread)
    found = region_codes(root_causes(kms_trail(), KEY, dest, NOW))
    assert [f.evidence["key_region"] for f in found] == [REGION]


def test_an_unknown_bucket_region_a_gone_key_or_no_key_is_not_judged() -> None:
    unread = bucket(region_error="AccessDenied: not authorized")
    gone = Fact("key", KEY_ARN, False, "NotFoundException")
    far = bucket(region="eu-west-1")
    assert region_codes(root_causes(kms_trail(), KEY, Destinations(bucket=unread), NOW)) == []
    assert (
        region_codes(root_causes(kms_trail(), KEY, Destinations(bucket=far, key=gone), NOW)) == []
    )
    assert region_codes(root_causes(trail(), KEY, Destinations(bucket=far), NOW)) == []


def test_a_key_of_another_region_explains_the_delivery_error() -> None:
    t = kms_trail()
    dest = Destinations(bucket=bucket(region="eu-west-1"), key=described_key())
    causes = region_codes(root_causes(t, KEY, dest, NOW))
    status = {
        "IsLogging": True,
        "LatestDeliveryError": f"KMS.NotFoundException: Invalid arn {REGION}",
        "LatestDeliveryTime": NOW - timedelta(hours=2),
    }
    judged = judge_view(t, KEY, status, NOW, Thresholds(), diagnostics=causes)
    assert judged.state is State.FAILING
    error = next(f for f in judged.findings if f.code == Code.S3_DELIVERY_ERROR)
    assert Code.KMS_KEY_OTHER_REGION in error.evidence["explained_by"]


def test_get_bucket_location_answers_become_regions() -> None:
    assert bucket_region(None) == "us-east-1"
    assert bucket_region("") == "us-east-1"
    assert bucket_region("EU") == "eu-west-1"
    assert bucket_region("ap-south-1") == "ap-south-1"


def _update_trail(when: datetime, **params: object) -> dict[str, object]:
    return {
        "eventName": "UpdateTrail",
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "cloudtrail.amazonaws.com",
        "eventID": f"e-{len(params)}-{when.minute}",
        "awsRegion": REGION,
        "recipientAccountId": ACCT,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCT}:user/alice"},
        "requestParameters": {"name": ARN, **params},
        "resources": [{"type": "AWS::CloudTrail::Trail", "ARN": ARN}],
    }


def test_update_trail_setting_the_key_or_the_bucket_is_the_culprit() -> None:
    assert event_names_for(Code.KMS_KEY_OTHER_REGION)["UpdateTrail"] == 3
    when = NOW - timedelta(hours=1)
    status = {"IsLogging": True, "LatestDeliveryTime": when - timedelta(minutes=5)}
    for params in ({"kmsKeyId": KEY_ARN}, {"s3BucketName": BUCKET}):
        got = cause_event(
            Code.KMS_KEY_OTHER_REGION, kms_trail(), status, [_update_trail(when, **params)]
        )
        assert got is not None and got["event_name"] == "UpdateTrail", params
    topic = _update_trail(when, snsTopicName="t")
    assert cause_event(Code.KMS_KEY_OTHER_REGION, kms_trail(), status, [topic]) is None


# -- a deleted bucket whose name another account may now own --------------------------------

OTHER = "222222222222"


def refused(bucket_name: str = BUCKET, **data: object) -> Fact:
    return Fact("bucket", bucket_name, None, "access denied: AccessDenied", data=data)


def taken(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.code == Code.S3_BUCKET_NAME_TAKEN]


def test_a_refused_bucket_nobody_reached_owns_is_not_taken_without_a_deletion() -> None:
    # The landing-zone layout: the log-archive account is not reached.
    for data in (
        {"unowned": True, "former_owner": None, "delivery_error": None},
        {"unowned": True, "former_owner": None, "delivery_error": "AccessDenied"},
        {"delivery_error": "NoSuchBucket"},
    ):
        found = root_causes(trail(), KEY, Destinations(bucket=refused(**data)), NOW)
        assert taken(found) == [], data
        assert codes(found) == [Code.DIAGNOSTICS_INCOMPLETE], data


def test_no_such_bucket_then_a_refusal_is_a_taken_name() -> None:
    fact = refused(unowned=True, former_owner=None, delivery_error="NoSuchBucket")
    found = root_causes(trail(), KEY, Destinations(bucket=fact), NOW)
    assert codes(found) == [Code.S3_BUCKET_NAME_TAKEN]
    f = found[0]
    assert f.severity is Severity.CRITICAL and f.channel.value == "s3"
    assert f.evidence == {
        "bucket": BUCKET,
        "error": "access denied: AccessDenied",
        "LatestDeliveryError": "NoSuchBucket",
        "owner_account": None,
    }


def test_a_bucket_a_reached_account_owned_before_is_a_taken_name() -> None:
    fact = refused(unowned=True, former_owner=OTHER, delivery_error=None)
    found = root_causes(trail(), KEY, Destinations(bucket=fact), NOW)
    assert codes(found) == [Code.S3_BUCKET_NAME_TAKEN]
    assert found[0].evidence["former_owner"] == OTHER
    assert OTHER in found[0].message


def test_delete_bucket_is_the_culprit_of_a_taken_name() -> None:
    assert event_names_for(Code.S3_BUCKET_NAME_TAKEN)["DeleteBucket"] == 3


# -- what diagnose reads for these (a fake collector: our own protocol, no botocore) --------


class FakeCollector:
    """Answers Collector.call from per-account tables; records every call."""

    def __init__(self) -> None:
        self.listed: dict[str, list[str] | None] = {}
        self.policies: dict[str, dict[str, str]] = {}
        self.locations: dict[str, str | None] = {}
        self.encryption: dict[str, dict[str, Any] | None] = {}
        self.ops: list[tuple[str, str]] = []
        self.trail_admins: dict[str, frozenset[str]] = {}

    async def call(self, session: Any, service: str, region: str, op: str, **kw: Any) -> Any:
        acct = str(session)
        if op == "get_event_selectors":
            # A setting of the trail, read with its destinations: AWS's default selector
            # (tests/unit/test_log_group_key_and_selectors.py checks that read).
            selector = {"ReadWriteType": "All", "IncludeManagementEvents": True}
            return {"TrailARN": kw["TrailName"], "EventSelectors": [selector]}
        self.ops.append((acct, op))
        if op == "list_buckets":
            names = self.listed.get(acct)
            if names is None:
                raise _client_error("AccessDenied", op)
            return {"Buckets": [{"Name": n} for n in names]}
        owned = self.policies.get(acct, {})
        if kw.get("Bucket") not in owned:
            raise _client_error("AccessDenied", op)
        if op == "get_bucket_policy":
            return {"Policy": owned[kw["Bucket"]]}
        if op == "get_bucket_request_payment":
            return {"Payer": "BucketOwner"}
        if op == "get_bucket_location":
            return {"LocationConstraint": self.locations.get(kw["Bucket"])}
        if op == "get_bucket_encryption":
            default = self.encryption.get(kw["Bucket"])
            if default is None:
                raise _client_error("ServerSideEncryptionConfigurationNotFoundError", op)
            rule = {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}
            return {"ServerSideEncryptionConfiguration": {"Rules": [rule]}}
        raise _client_error("AccessDenied", op)

    async def org_id(self, acct: Any) -> str | None:
        return None


def _client_error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "refused"}}, op)


def _account(account_id: str) -> Account:
    return Account(account_id, None, cast(Any, account_id), "profile", REGION)


def _diagnose(
    col: FakeCollector, t: TrailConfig, status: dict[str, Any] | None, diag: DestinationDiagnoser
) -> list[Finding]:
    accounts = [_account(ACCT), _account(OTHER)]
    view = ViewInput(accounts[0], ViewKey(ACCT, REGION, t.arn), t, status)
    found = asyncio.run(diag.diagnose(cast(Any, col), [view], NOW, True, accounts))
    return found.get(view.key.id, [])


def test_diagnose_finds_a_name_taken_after_its_reached_owner_deleted_it() -> None:
    clock = [0.0]
    col, diag = FakeCollector(), DestinationDiagnoser(3600.0, clock=lambda: clock[0])
    col.listed = {ACCT: [], OTHER: [BUCKET]}
    col.policies = {OTHER: {BUCKET: documented_bucket_policy()}}
    assert taken(_diagnose(col, trail(), None, diag)) == []
    col.listed = {ACCT: [], OTHER: []}
    col.policies = {}
    clock[0] = 3600.0  # the next refresh lists the buckets again
    found = taken(_diagnose(col, trail(), None, diag))
    assert [f.evidence.get("former_owner") for f in found] == [OTHER]
    assert found[0].evidence["owner_account"] is None


def test_diagnose_needs_no_such_bucket_or_a_former_owner_and_every_listing() -> None:
    col = FakeCollector()
    col.listed = {ACCT: [], OTHER: []}
    quiet = {"IsLogging": True, "LatestDeliveryError": "AccessDenied"}
    assert taken(_diagnose(col, trail(), quiet, DestinationDiagnoser(3600.0))) == []
    gone = {"IsLogging": True, "LatestDeliveryError": "NoSuchBucket"}
    assert len(taken(_diagnose(col, trail(), gone, DestinationDiagnoser(3600.0)))) == 1
    col.listed = {ACCT: [], OTHER: None}  # one account's ListBuckets refused: cannot tell
    assert taken(_diagnose(col, trail(), gone, DestinationDiagnoser(3600.0))) == []


def test_diagnose_reads_the_bucket_region_only_for_a_trail_with_a_key() -> None:
    col = FakeCollector()
    col.listed = {ACCT: [BUCKET], OTHER: []}
    col.policies = {ACCT: {BUCKET: documented_bucket_policy()}}
    col.locations = {BUCKET: "EU"}
    _diagnose(col, trail(), None, DestinationDiagnoser(3600.0))
    assert ("111111111111", "get_bucket_location") not in col.ops
    found = _diagnose(col, kms_trail(), None, DestinationDiagnoser(3600.0))
    assert col.ops.count((ACCT, "get_bucket_location")) == 1
    assert [f.evidence["bucket_region"] for f in region_codes(found)] == ["eu-west-1"]


# -- kms:DescribeKey for CloudTrail ---------------------------------------------------------


def key_with_policy(*statements: dict[str, object]) -> Fact:
    encrypt = {
        "Sid": "Allow CloudTrail to encrypt logs",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "kms:GenerateDataKey*",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceArn": ARN}},
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [encrypt, *statements]})
    meta = {"KeyState": "Enabled", "Arn": KEY_ARN}
    return Fact("key", KEY_ARN, True, data={"metadata": meta, "policy": policy})


def describe(source_arn: str = ARN) -> dict[str, object]:
    """The documented "Enable CloudTrail to describe KMS key properties" statement."""
    return {
        "Sid": "Allow CloudTrail access",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "kms:DescribeKey",
        "Resource": KEY_ARN,
        "Condition": {"StringEquals": {"aws:SourceArn": source_arn}},
    }


def describe_codes(key: Fact) -> list[Finding]:
    found = root_causes(kms_trail(), KEY, Destinations(key=key), NOW)
    return [f for f in found if f.code == Code.KMS_POLICY_DESCRIBE_MISSING]


def test_the_documented_describe_statement_has_no_finding() -> None:
    assert root_causes(kms_trail(), KEY, Destinations(key=key_with_policy(describe())), NOW) == []


def test_a_key_policy_without_describe_warns_on_the_kms_channel() -> None:
    found = describe_codes(key_with_policy())
    assert len(found) == 1
    f = found[0]
    assert f.severity is Severity.MEDIUM and f.channel.value == "kms"
    assert f.evidence["missing_statement"]["Action"] == "kms:DescribeKey"
    assert f.evidence["missing_statement"]["Condition"] == {"StringEquals": {"aws:SourceArn": ARN}}
    judged = judge_view(
        kms_trail(),
        KEY,
        {"IsLogging": True, "LatestDeliveryTime": NOW - timedelta(minutes=5)},
        NOW,
        Thresholds(),
        diagnostics=found,
    )
    assert judged.state is State.WARNING


def test_describe_for_another_trail_or_denied_by_a_perimeter_warns() -> None:
    other = f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/other"
    assert len(describe_codes(key_with_policy(describe(other)))) == 1
    outside: dict[str, object] = {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}

    def perimeter(condition: dict[str, object]) -> dict[str, object]:
        return {
            "Sid": "OnlyOurOrg",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:*",
            "Resource": "*",
            "Condition": condition,
        }

    found = describe_codes(key_with_policy(describe(), perimeter(outside)))
    assert [f.evidence.get("sid") for f in found] == ["OnlyOurOrg"]
    exempt = perimeter({**outside, "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}})
    assert describe_codes(key_with_policy(describe(), exempt)) == []


def test_put_key_policy_is_the_culprit_of_a_missing_describe() -> None:
    assert EVENT_RULES["PutKeyPolicy"].weights[Code.KMS_POLICY_DESCRIBE_MISSING] == 3
    assert event_names_for(Code.KMS_POLICY_DESCRIBE_MISSING)["UpdateTrail"] == 1


# -- a KMS-encrypted SNS topic --------------------------------------------------------------

TOPIC = f"arn:aws:sns:{REGION}:{ACCT}:ct-notes"
TOPIC_KEY = f"arn:aws:kms:{REGION}:{OTHER}:key/9999abcd-12ab-34cd-56ef-1234567890ab"
OPEN_TOPIC = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailSNSPolicy20131101",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": TOPIC,
            }
        ],
    }
)


def topic_key_policy(*actions: str, **condition: object) -> str:
    """The key statement of "Amazon SNS topic policy for CloudTrail" (with ``actions``)."""
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": list(actions),
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    owner = {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [owner, statement]})


DOCUMENTED_TOPIC_KEY = topic_key_policy("kms:GenerateDataKey*", "kms:Decrypt")


def topic(kms_key: str | None = TOPIC_KEY, **data: object) -> Fact:
    extra: dict[str, object] = {"kms_key": kms_key} if kms_key else {}
    return Fact("topic", TOPIC, True, data={"policy": OPEN_TOPIC, **extra, **data})


def topic_codes(fact: Fact) -> list[Finding]:
    return root_causes(trail(SnsTopicARN=TOPIC), KEY, Destinations(topic=fact), NOW)


def test_an_unencrypted_topic_or_a_key_allowing_cloudtrail_has_no_finding() -> None:
    assert topic_codes(topic(None)) == []
    assert topic_codes(topic(key_policy=DOCUMENTED_TOPIC_KEY)) == []


def test_a_topic_key_without_cloudtrail_warns_on_the_sns_channel() -> None:
    found = topic_codes(topic(key_policy=topic_key_policy()))
    assert codes(found) == [Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL]
    f = found[0]
    assert f.severity is Severity.MEDIUM and f.channel.value == "sns"
    assert f.evidence["missing_actions"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert f.evidence["key_arn"] == TOPIC_KEY
    assert f.evidence["missing_statement"]["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    only_encrypt = topic_codes(topic(key_policy=topic_key_policy("kms:GenerateDataKey*")))
    assert [x.evidence["missing_actions"] for x in only_encrypt] == [["kms:Decrypt"]]


def test_a_topic_key_refusal_explains_the_notification_error() -> None:
    t = trail(SnsTopicARN=TOPIC)
    causes = root_causes(t, KEY, Destinations(topic=topic(key_policy=topic_key_policy())), NOW)
    status = {
        "IsLogging": True,
        "LatestDeliveryTime": NOW - timedelta(minutes=5),
        "LatestNotificationError": "KMSAccessDenied",
    }
    judged = judge_view(t, KEY, status, NOW, Thresholds(), diagnostics=causes)
    assert judged.state is State.WARNING
    error = next(f for f in judged.findings if f.code == Code.SNS_NOTIFICATION_ERROR)
    assert Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL in error.evidence["explained_by"]


def test_the_aws_managed_sns_key_is_judged_from_its_name() -> None:
    for name in ("alias/aws/sns", f"arn:aws:kms:{REGION}:{ACCT}:alias/aws/sns"):
        found = topic_codes(topic(name))
        assert [f.evidence.get("aws_managed") for f in found] == [True], name
    # A customer alias is not an AWS managed key.
    custom = topic_codes(topic("alias/aws-sns-notes", key_policy_error="named by alias"))
    assert codes(custom) == [Code.DIAGNOSTICS_INCOMPLETE]


def test_an_unreadable_or_undecidable_topic_key_is_incomplete_never_a_refusal() -> None:
    unreadable = topic_codes(topic(key_policy_error="AccessDeniedException"))
    assert codes(unreadable) == [Code.DIAGNOSTICS_INCOMPLETE]
    assert unreadable[0].channel.value == "sns"
    # AWS documents no aws:SourceArn for these requests: a condition on it cannot be told.
    scoped = topic_key_policy(
        "kms:GenerateDataKey*", "kms:Decrypt", StringEquals={"aws:SourceArn": ARN}
    )
    assert codes(topic_codes(topic(key_policy=scoped))) == [Code.DIAGNOSTICS_INCOMPLETE]
    # The principal's keys are documented: an exempted perimeter Deny still decides.
    deny = json.loads(DOCUMENTED_TOPIC_KEY)
    deny["Statement"].append(
        {
            "Sid": "OnlyOurOrg",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        }
    )
    refused = topic_codes(topic(key_policy=json.dumps(deny)))
    assert [f.evidence.get("sid") for f in refused] == ["OnlyOurOrg"]


def test_set_topic_attributes_or_put_key_policy_on_the_topics_key_is_the_culprit() -> None:
    names = event_names_for(Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL)
    assert names["SetTopicAttributes"] == 3 and names["PutKeyPolicy"] == 3
    t = trail(SnsTopicARN=TOPIC, KmsKeyId=KEY_ARN)
    when = NOW - timedelta(hours=1)

    def put_key_policy(key_arn: str, event_id: str) -> dict[str, object]:
        return {
            "eventName": "PutKeyPolicy",
            "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "kms.amazonaws.com",
            "eventID": event_id,
            "awsRegion": REGION,
            "recipientAccountId": key_arn.split(":")[4],
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{OTHER}:user/bob"},
            "requestParameters": {"keyId": key_arn, "policyName": "default"},
            "resources": [{"type": "AWS::KMS::Key", "ARN": key_arn}],
        }

    status = {"IsLogging": True, "LatestNotificationTime": when - timedelta(minutes=5)}
    evidence = {"key_arn": TOPIC_KEY}
    targets = targets_for(Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL, t, status, evidence)
    assert ("key", TOPIC_KEY, OTHER) in {(x.kind, x.lookup, x.account) for x in targets}
    trails_key, topics_key = put_key_policy(KEY_ARN, "e-1"), put_key_policy(TOPIC_KEY, "e-2")
    got = cause_event(
        Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL, t, status, [trails_key, topics_key], targets
    )
    assert got is not None and got["event_id"] == "e-2"


class TopicCollector(FakeCollector):
    """Also answers GetTopicAttributes and GetKeyPolicy (key policies per account)."""

    def __init__(self, kms_key: str | None) -> None:
        super().__init__()
        self.kms_key = kms_key
        self.key_policies: dict[str, dict[str, str]] = {}

    async def call(self, session: Any, service: str, region: str, op: str, **kw: Any) -> Any:
        acct = str(session)
        if op == "get_topic_attributes":
            self.ops.append((acct, op))
            attrs = {"Policy": OPEN_TOPIC}
            if self.kms_key:
                attrs["KmsMasterKeyId"] = self.kms_key
            return {"Attributes": attrs}
        if op == "get_key_policy":
            self.ops.append((acct, op))
            policy = self.key_policies.get(acct, {}).get(kw["KeyId"])
            if policy is None:
                raise _client_error("AccessDeniedException", op)
            return {"Policy": policy}
        return await super().call(session, service, region, op, **kw)


def _diagnose_topic(col: TopicCollector, reach_owner: bool = True) -> list[Finding]:
    accounts = [_account(ACCT), *([_account(OTHER)] if reach_owner else [])]
    t = trail(SnsTopicARN=TOPIC, S3BucketName=None)
    view = ViewInput(accounts[0], ViewKey(ACCT, REGION, t.arn), t, None)
    diag = DestinationDiagnoser(3600.0)
    found = asyncio.run(diag.diagnose(cast(Any, col), [view], NOW, True, accounts))
    return found.get(view.key.id, [])


def test_diagnose_reads_the_topics_key_policy_once_as_the_keys_owner() -> None:
    col = TopicCollector(TOPIC_KEY)
    col.key_policies = {OTHER: {TOPIC_KEY: topic_key_policy()}}
    found = _diagnose_topic(col)
    assert codes(found) == [Code.SNS_TOPIC_KMS_DENIES_CLOUDTRAIL]
    assert [op for op in col.ops if op[1] == "get_key_policy"] == [(OTHER, "get_key_policy")]
    col.key_policies = {OTHER: {TOPIC_KEY: DOCUMENTED_TOPIC_KEY}}
    assert _diagnose_topic(col) == []


def test_diagnose_says_whose_topic_key_it_could_not_read() -> None:
    col = TopicCollector(TOPIC_KEY)
    found = _diagnose_topic(col, reach_owner=False)
    assert codes(found) == [Code.DIAGNOSTICS_INCOMPLETE]
    assert f"owned by account {OTHER}" in found[0].evidence["reason"]


def test_diagnose_makes_no_key_call_without_a_readable_key_id() -> None:
    for kms_key in (None, "alias/aws/sns", "alias/notes"):
        col = TopicCollector(kms_key)
        _diagnose_topic(col)
        assert [op for _, op in col.ops] == ["get_topic_attributes"], kms_key


# -- bucket default encryption with SSE-KMS, for a trail without a key ------------------------

DEFAULT_KEY = f"arn:aws:kms:{REGION}:{ACCT}:key/5555abcd-12ab-34cd-56ef-1234567890ab"


def sse_kms(kid: str | None = DEFAULT_KEY, algorithm: str = "aws:kms") -> dict[str, object]:
    return {"SSEAlgorithm": algorithm, "KMSMasterKeyID": kid, "BucketKeyEnabled": False}


def default_codes(t: TrailConfig, fact: Fact) -> list[Finding]:
    found = root_causes(t, KEY, Destinations(bucket=fact), NOW)
    return [f for f in found if f.code == Code.S3_BUCKET_DEFAULT_SSE_KMS]


def test_sse_s3_no_configuration_or_an_unread_one_has_no_finding() -> None:
    aes = {"SSEAlgorithm": "AES256", "KMSMasterKeyID": None, "BucketKeyEnabled": None}
    for data in ({"default_encryption": aes}, {"default_encryption": None}, {}):
        assert root_causes(trail(), KEY, Destinations(bucket=bucket(**data)), NOW) == []
    unread = bucket(encryption_error="AccessDenied")
    assert root_causes(trail(), KEY, Destinations(bucket=unread), NOW) == []


def test_default_sse_kms_for_a_trail_without_a_key_is_a_low_posture_fact() -> None:
    t = trail()
    found = default_codes(t, bucket(default_encryption=sse_kms()))
    assert len(found) == 1
    f = found[0]
    assert f.severity is Severity.LOW and f.channel.value == "s3"
    assert f.evidence["KMSMasterKeyID"] == DEFAULT_KEY
    assert "does not document" in f.message
    status = {"IsLogging": True, "LatestDeliveryTime": NOW - timedelta(minutes=5)}
    judged = judge_view(t, KEY, status, NOW, Thresholds(), diagnostics=found)
    assert judged.state is State.OK
    # The aws/s3 key (no KMSMasterKeyID) and DSSE-KMS are SSE-KMS too.
    assert len(default_codes(t, bucket(default_encryption=sse_kms(None)))) == 1
    dsse = sse_kms(algorithm="aws:kms:dsse")
    assert len(default_codes(t, bucket(default_encryption=dsse))) == 1


def test_a_trail_with_its_own_key_is_not_judged_on_the_buckets_default() -> None:
    assert default_codes(kms_trail(), bucket(default_encryption=sse_kms())) == []


def test_diagnose_reads_the_default_encryption_only_for_a_trail_without_a_key() -> None:
    col = FakeCollector()
    col.listed = {ACCT: [BUCKET], OTHER: []}
    col.policies = {ACCT: {BUCKET: documented_bucket_policy()}}
    col.encryption = {BUCKET: sse_kms()}
    _diagnose(col, kms_trail(), None, DestinationDiagnoser(3600.0))
    assert (ACCT, "get_bucket_encryption") not in col.ops
    found = _diagnose(col, trail(), None, DestinationDiagnoser(3600.0))
    assert col.ops.count((ACCT, "get_bucket_encryption")) == 1
    assert [f.evidence["SSEAlgorithm"] for f in found] == ["aws:kms"]
    col.encryption = {}
    assert _diagnose(col, trail(), None, DestinationDiagnoser(3600.0)) == []
