"""The landing-zone estate behaves like AWS: over HTTP to 127.0.0.1, no mocks.

An organization trail in the management account, its bucket in the log-archive account,
its key in the security account (CloudTrail's delegated administrator), hardened policies.
Read-only checks share one sandbox (``lz``); each breakage gets a private one, its delivery
interval an hour so the test decides when a delivery happens (``sb.deliver()``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sandbox import Sandbox
from sandbox.landing_zone import BREAKAGES, DEFAULT_NOISE

ERROR_FIELDS = (
    "LatestDeliveryError",
    "LatestDigestDeliveryError",
    "LatestNotificationError",
    "LatestCloudWatchLogsDeliveryError",
)
#: breakage -> (status field of an active view, text it carries)
STATUS_ERROR: dict[str, tuple[str, str]] = {
    "bucket_policy": ("LatestDeliveryError", "AccessDenied"),
    "bucket_perimeter": ("LatestDeliveryError", "AccessDenied"),
    "key_disabled": ("LatestDeliveryError", "KMS.DisabledException"),
    "key_pending_deletion": ("LatestDeliveryError", "is pending deletion."),
    "key_policy": ("LatestDeliveryError", "kms:GenerateDataKey"),
    "topic_policy": ("LatestNotificationError", "SNS:Publish"),
    "role_policy": ("LatestCloudWatchLogsDeliveryError", "logs:CreateLogStream"),
}


@pytest.fixture(scope="module")
def lz() -> Iterator[Sandbox]:
    sb = Sandbox(scenario="landing-zone", delivery_interval=3600.0, lookup_events_rps=None)
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()


def _ids(sb: Sandbox) -> dict[str, Any]:
    section: dict[str, Any] = sb.manifest["landing_zone"]
    return section


def _status(sb: Sandbox, region: str, account: str | None = None) -> dict[str, Any]:
    client = sb.boto3_client("cloudtrail", account=account, region=region)
    status: dict[str, Any] = client.get_trail_status(Name=_ids(sb)["org_trail_arn"])
    status.pop("ResponseMetadata", None)
    return status


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _error(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# -- the estate ------------------------------------------------------------------------------


def test_the_landing_zone_is_seeded_with_its_destinations_in_other_accounts(lz: Sandbox) -> None:
    m, ids = lz.manifest, _ids(lz)
    names = {a["name"] for a in m["organization"]["members"]}
    assert names == {"log-archive", "security", "workload-prod", "workload-dev"}
    trail = lz.trail("aws-controltower-BaselineCloudTrail")
    assert trail["organization_trail"] and trail["multi_region"] and trail["log_file_validation"]
    assert trail["destination_owners"] == {
        "bucket": ids["log_archive"],
        "key": ids["security"],
        "topic": ids["management"],
        "log_group": ids["management"],
        "role": ids["management"],
    }
    assert trail["s3_key_prefix"] == ids["org_id"] and trail["expected_codes"] == []
    assert m["delegated_admins"] == [ids["security"]]
    roles = {(v["account"], v["role"]) for v in trail["views"]}
    assert (ids["management"], "owner") in roles
    assert (ids["security"], "delegated_admin") in roles
    assert (ids["workload_dev"], "member") in roles
    member_codes = {tuple(v["expected_codes"]) for v in trail["views"] if v["role"] == "member"}
    assert member_codes == {("MANAGED_ELSEWHERE",)}
    quiet = {(v["account"], v["region"]) for v in trail["views"] if v["quiet"]}
    assert quiet == {(q["account"], q["region"]) for q in m["quiet_regions"]} and len(quiet) == 2
    local = [t for t in m["trails"] if t["account"] == ids["workload_prod"]]
    assert len(local) == 1 and not local[0]["organization_trail"]
    assert m["reach"] == {
        "profiles": ["lz-mgmt"],
        "assume_roles": [],
        "organization_role": "OrganizationAccountAccessRole",
    }
    counts = {(c["account"], c["region"]): c for c in m["event_counts"]}
    assert counts[(ids["log_archive"], "us-east-1")]["read_only"] >= 100


def test_the_management_profile_and_the_organization_role_reach_every_account(
    lz: Sandbox,
) -> None:
    import boto3

    env = lz.process_env({})
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        session = boto3.Session(profile_name="lz-mgmt", region_name="us-east-1")
        sts = session.client("sts", endpoint_url=lz.endpoint_url)
        assert sts.get_caller_identity()["Account"] == lz.manifest["management_account"]
        for member in lz.manifest["organization"]["members"]:
            creds = sts.assume_role(
                RoleArn=f"arn:aws:iam::{member['id']}:role/OrganizationAccountAccessRole",
                RoleSessionName="trailtop",
            )["Credentials"]
            inner = boto3.client(
                "sts",
                endpoint_url=lz.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
            assert inner.get_caller_identity()["Account"] == member["id"]


def test_cloudtrail_delegated_administrator_is_listed_as_organizations_answers(
    lz: Sandbox,
) -> None:
    ids = _ids(lz)
    wanted = {"ServicePrincipal": "cloudtrail.amazonaws.com"}
    from_mgmt = lz.boto3_client("organizations").list_delegated_administrators(**wanted)
    assert [a["Id"] for a in from_mgmt["DelegatedAdministrators"]] == [ids["security"]]
    admin = lz.boto3_client("organizations", account=ids["security"])
    assert [
        a["Id"] for a in admin.list_delegated_administrators(**wanted)["DelegatedAdministrators"]
    ]
    member = lz.boto3_client("organizations", account=ids["workload_dev"])
    code, _ = _error(lambda: member.list_delegated_administrators(**wanted))
    assert code == "AccessDeniedException"
    events = lz.events(account=ids["management"], region="us-east-1")
    assert any(e["eventName"] == "RegisterOrganizationDelegatedAdmin" for e in events)


# -- cross-account reads ---------------------------------------------------------------------


def test_a_bucket_policy_is_readable_only_in_the_bucket_owners_account(lz: Sandbox) -> None:
    ids = _ids(lz)
    bucket = ids["bucket"]
    owner = lz.boto3_client("s3", account=ids["log_archive"])
    assert json.loads(owner.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    # Not granted: 403. Granted to the security account, but not its owner: 405.
    mgmt = lz.boto3_client("s3")
    assert _error(lambda: mgmt.get_bucket_policy(Bucket=bucket)) == ("AccessDenied", 403)
    security = lz.boto3_client("s3", account=ids["security"])
    assert _error(lambda: security.get_bucket_policy(Bucket=bucket)) == ("MethodNotAllowed", 405)
    # Calls a bucket policy can grant across accounts: granted to security, not to others.
    assert security.get_bucket_acl(Bucket=bucket)["Owner"]
    assert _error(lambda: mgmt.get_bucket_acl(Bucket=bucket)) == ("AccessDenied", 403)
    payer = lambda: security.get_bucket_request_payment(Bucket=bucket)  # noqa: E731
    assert _error(payer) == ("AccessDenied", 403)  # not among the security account's grants
    workload = lz.boto3_client("s3", account=ids["workload_dev"])
    assert _error(lambda: workload.head_bucket(Bucket=bucket))[1] == 403
    # ListBuckets answers the caller's own buckets only.
    assert bucket not in {b["Name"] for b in mgmt.list_buckets()["Buckets"]}
    assert bucket in {b["Name"] for b in owner.list_buckets()["Buckets"]}


def test_a_key_is_described_across_accounts_only_where_its_policy_grants_it(
    lz: Sandbox,
) -> None:
    ids = _ids(lz)
    key = ids["key_arn"]
    mgmt = lz.boto3_client("kms")
    assert _error(lambda: mgmt.describe_key(KeyId=key)) == ("AccessDeniedException", 400)
    log_archive = lz.boto3_client("kms", account=ids["log_archive"])
    assert log_archive.describe_key(KeyId=key)["KeyMetadata"]["Arn"] == key
    # GetKeyPolicy has no cross-account use, whatever the key policy says.
    code, _ = _error(lambda: log_archive.get_key_policy(KeyId=key, PolicyName="default"))
    assert code == "AccessDeniedException"
    owner = lz.boto3_client("kms", account=ids["security"])
    policy = json.loads(owner.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    assert any(s.get("Sid") == "AllowCloudTrailToEncryptLogs" for s in policy["Statement"])


def test_a_topic_is_read_across_accounts_only_where_its_policy_grants_it(lz: Sandbox) -> None:
    ids = _ids(lz)
    topic = ids["topic_arn"]
    other = lz.boto3_client("sns", account=ids["log_archive"])
    assert _error(lambda: other.get_topic_attributes(TopicArn=topic)) == (
        "AuthorizationError",
        403,
    )
    attributes = lz.boto3_client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    assert "AWSCloudTrailSNSPolicy" in attributes["Policy"]


# -- delivery under hardened policies ----------------------------------------------------------


def test_delivery_succeeds_under_the_hardened_policies(lz: Sandbox) -> None:
    tick = lz.deliver()
    quiet = {q["region"] for q in lz.manifest["quiet_regions"]}
    for region in lz.manifest["regions"]:
        status = _status(lz, region)
        assert status["IsLogging"] is True
        assert not set(ERROR_FIELDS) & set(status), (region, status)
        assert _epoch(status["LatestDigestDeliveryTime"]) >= tick - 0.01
        if region not in quiet:
            assert _epoch(status["LatestDeliveryTime"]) >= tick - 0.01
            assert _epoch(status["LatestNotificationTime"]) >= tick - 0.01
            assert _epoch(status["LatestCloudWatchLogsDeliveryTime"]) >= tick - 0.01
    member = _status(lz, "eu-west-1", account=_ids(lz)["workload_prod"])
    assert not set(ERROR_FIELDS) & set(member)


def test_a_quiet_region_keeps_its_digest_moving_but_not_its_log_delivery(lz: Sandbox) -> None:
    ids = _ids(lz)
    q = next(q for q in lz.manifest["quiet_regions"] if q["account"] == ids["management"])
    before = _status(lz, q["region"])
    last_log = datetime.fromisoformat(q["last_log_delivery"]).timestamp()
    assert abs(_epoch(before["LatestDeliveryTime"]) - last_log) < 2
    assert time.time() - last_log > 3 * 3600
    tick = lz.deliver()
    after = _status(lz, q["region"])
    assert after["LatestDeliveryTime"] == before["LatestDeliveryTime"]
    assert after["LatestCloudWatchLogsDeliveryTime"] == before["LatestCloudWatchLogsDeliveryTime"]
    assert _epoch(after["LatestDigestDeliveryTime"]) >= tick - 0.01
    assert not set(ERROR_FIELDS) & set(after)
    active = _status(lz, "us-east-1")
    assert _epoch(active["LatestDeliveryTime"]) >= tick - 0.01


# -- breaking it -------------------------------------------------------------------------------


#: One breakage per kind of refusal the emulation makes (a bucket Deny, a key state, a topic
#: policy). Every breakage is also played end to end, engine included, on one shared
#: sandbox in tests/integration/test_landing_zone.py: a private sandbox each here would
#: cost the suite's time budget for checks that one already makes.
EMULATION_CASES = ["bucket_perimeter", "key_disabled", "topic_policy"]


def test_the_emulation_cases_are_breakages() -> None:
    assert set(EMULATION_CASES) <= set(BREAKAGES)


@pytest.mark.parametrize("kind", EMULATION_CASES)
def test_each_breakage_fails_delivery_and_is_found_in_the_owners_history(
    sandbox_factory: Callable[..., Sandbox], kind: str
) -> None:
    sb = sandbox_factory(scenario="landing-zone", delivery_interval=3600.0, lookup_events_rps=None)
    ids = _ids(sb)
    good = _status(sb, "us-east-1")
    assert not set(ERROR_FIELDS) & set(good)
    done = sb.landing_zone.break_(kind, minutes_ago=30)
    spec = BREAKAGES[kind]
    sb.deliver()

    field, text = STATUS_ERROR[kind]
    status = _status(sb, "us-east-1")
    assert text in status.get(field, ""), status
    time_field = field.replace("Error", "Time")
    assert abs(_epoch(status[time_field]) - done["at"]) < 2  # the last good one: the break
    if kind.startswith("bucket"):
        assert status["LatestDigestDeliveryError"] == "AccessDenied"
    quiet_region = next(
        q["region"] for q in sb.manifest["quiet_regions"] if q["account"] == ids["management"]
    )
    quiet = _status(sb, quiet_region)
    assert "LatestDeliveryError" not in quiet  # no activity, no log file, no failure
    assert ("LatestDigestDeliveryError" in quiet) == kind.startswith("bucket")

    trail = sb.trail("aws-controltower-BaselineCloudTrail")
    assert trail["broken"] and trail["root_cause"] == spec.root
    assert trail["broken_by"]["event"] == spec.event
    owner_view = next(v for v in trail["views"] if v["role"] == "owner" and not v["quiet"])
    assert owner_view["expected_codes"] == [spec.root, *spec.active]

    # The breaking event, in the owner account's history, with its actor.
    owner = done["account"]
    assert owner == ids[spec.owner]
    client = sb.boto3_client("cloudtrail", account=owner, region="us-east-1")
    by_name = client.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": spec.event}]
    )["Events"]
    record = json.loads(by_name[0]["CloudTrailEvent"])
    assert record["recipientAccountId"] == owner
    assert abs(_epoch(by_name[0]["EventTime"]) - done["at"]) < 2
    issuer = record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
    assert issuer == done["actor"]
    _the_break_is_found_by_event_name_despite_the_noise(sb, kind, done, client)


#: breakage -> (resource its noise names, error code CloudTrail's failing reads record)
NOISE: dict[str, tuple[str, str | None]] = {
    "bucket_policy": ("bucket", None),
    "bucket_perimeter": ("bucket", "AccessDenied"),
    "key_disabled": ("key_arn", "DisabledException"),
    "key_pending_deletion": ("key_arn", "KMSInvalidStateException"),
    "key_policy": ("key_arn", "AccessDenied"),
    "role_policy": ("cloudwatch_role_arn", None),
}


def _the_break_is_found_by_event_name_despite_the_noise(
    sb: Sandbox, kind: str, done: dict[str, Any], client: Any
) -> None:
    assert done["noise"] == DEFAULT_NOISE >= 2000
    newer = [
        e
        for e in sb.events(account=done["account"], region="us-east-1")
        if datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00")).timestamp()
        > done["at"] + 1
    ]
    assert len(newer) >= 2000 and all(e["readOnly"] for e in newer)
    assert all(e["userIdentity"]["type"] in ("AWSService", "AssumedRole") for e in newer)
    if kind not in NOISE:
        return  # topic_policy: SNS Publish is a data event; the noise there names the role
    name, failure = NOISE[kind]
    service_reads = [e for e in newer if e["userIdentity"].get("invokedBy")]
    assert service_reads and all(e.get("errorCode") == failure for e in service_reads)
    # By resource, the break is 2,000 events deep: page one does not reach it.
    by_resource = client.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": _ids(sb)[name]}]
    )
    assert len(by_resource["Events"]) == 50 and "NextToken" in by_resource
    assert done["event"] not in {e["EventName"] for e in by_resource["Events"]}
    # By event name, or by ReadOnly=false, it is on page one.
    for attribute in (
        {"AttributeKey": "EventName", "AttributeValue": done["event"]},
        {"AttributeKey": "ReadOnly", "AttributeValue": "false"},
    ):
        page = client.lookup_events(LookupAttributes=[attribute], MaxResults=5)["Events"]
        assert page[0]["EventName"] == done["event"], attribute
        assert abs(_epoch(page[0]["EventTime"]) - done["at"]) < 2
    code, _ = _error(
        lambda: client.lookup_events(
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": done["event"]},
                {"AttributeKey": "ReadOnly", "AttributeValue": "false"},
            ]
        )
    )
    assert code == "InvalidLookupAttributesException"


def test_the_delegated_administrator_can_be_changed_and_the_manifest_follows(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sb = sandbox_factory(
        scenario="landing-zone",
        delivery_interval=3600.0,
        scenario_args={"delegated_admin": False},
    )
    ids = _ids(sb)
    orgs = sb.boto3_client("organizations")
    wanted = {"ServicePrincipal": "cloudtrail.amazonaws.com"}
    assert orgs.list_delegated_administrators(**wanted)["DelegatedAdministrators"] == []
    assert {v["role"] for v in sb.trail("aws-controltower-BaselineCloudTrail")["views"]} == {
        "owner",
        "member",
    }
    sb.landing_zone.register_delegated_admin(ids["workload_prod"])
    listed = orgs.list_delegated_administrators(**wanted)["DelegatedAdministrators"]
    assert [a["Id"] for a in listed] == [ids["workload_prod"]]
    views = sb.trail("aws-controltower-BaselineCloudTrail")["views"]
    assert {v["role"] for v in views if v["account"] == ids["workload_prod"]} == {"delegated_admin"}
    ct = sb.boto3_client("cloudtrail")
    code, _ = _error(
        lambda: ct.register_organization_delegated_admin(MemberAccountId=ids["workload_prod"])
    )
    assert code == "AccountRegisteredException"
    code, _ = _error(
        lambda: ct.register_organization_delegated_admin(MemberAccountId=ids["management"])
    )
    assert code == "CannotDelegateManagementAccountException"
    member_ct = sb.boto3_client("cloudtrail", account=ids["security"])
    code, _ = _error(
        lambda: member_ct.register_organization_delegated_admin(MemberAccountId=ids["security"])
    )
    assert code == "NotOrganizationManagementAccountException"
    sb.landing_zone.deregister_delegated_admin(ids["workload_prod"])
    assert orgs.list_delegated_administrators(**wanted)["DelegatedAdministrators"] == []
    assert sb.manifest["delegated_admins"] == []
