"""The emulated estate behaves like CloudTrail: proven over HTTP with aiobotocore, no mocks.

Read-only checks use the session ``sandbox``; checks that break or fix things use one
private sandbox for this module (``mutable``) whose delivery interval is an hour, so the
test decides when a delivery happens (``sb.deliver()``) instead of sleeping.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from sandbox import Sandbox
from sandbox.policies import bucket_policy
from sandbox.scenarios import CLI_UA, CONSOLE_UA
from tests.conftest import AwsClientFactory

PROD = "111111111111"
STAGING = "222222222222"
MGMT = "123456789012"
ERROR_FIELDS = (
    "LatestDeliveryError",
    "LatestDigestDeliveryError",
    "LatestNotificationError",
    "LatestCloudWatchLogsDeliveryError",
)

#: root cause -> (status field that must carry the error, text it must contain, time field)
EXPECTED: dict[str, tuple[str, str, str]] = {
    "S3_BUCKET_MISSING": ("LatestDeliveryError", "NoSuchBucket", "LatestDeliveryTime"),
    "S3_POLICY_DENIES_CLOUDTRAIL": ("LatestDeliveryError", "AccessDenied", "LatestDeliveryTime"),
    "S3_POLICY_ACL_CHECK_MISSING": ("LatestDeliveryError", "AccessDenied", "LatestDeliveryTime"),
    "KMS_KEY_MISSING": ("LatestDeliveryError", "KMS.NotFoundException", "LatestDeliveryTime"),
    "KMS_KEY_DISABLED": ("LatestDeliveryError", "KMS.DisabledException", "LatestDeliveryTime"),
    "KMS_KEY_PENDING_DELETION": ("LatestDeliveryError", "pending deletion", "LatestDeliveryTime"),
    "KMS_POLICY_DENIES_CLOUDTRAIL": (
        "LatestDeliveryError",
        "kms:GenerateDataKey",
        "LatestDeliveryTime",
    ),
    "SNS_TOPIC_MISSING": ("LatestNotificationError", "NotFound", "LatestNotificationTime"),
    "SNS_POLICY_DENIES_CLOUDTRAIL": (
        "LatestNotificationError",
        "SNS:Publish",
        "LatestNotificationTime",
    ),
    "CLOUDWATCH_LOG_GROUP_MISSING": (
        "LatestCloudWatchLogsDeliveryError",
        "log group does not exist",
        "LatestCloudWatchLogsDeliveryTime",
    ),
    "CLOUDWATCH_ROLE_MISSING": (
        "LatestCloudWatchLogsDeliveryError",
        "cannot assume the role",
        "LatestCloudWatchLogsDeliveryTime",
    ),
    "CLOUDWATCH_ROLE_TRUST_INVALID": (
        "LatestCloudWatchLogsDeliveryError",
        "cannot assume the role",
        "LatestCloudWatchLogsDeliveryTime",
    ),
    "CLOUDWATCH_ROLE_PERMISSIONS_MISSING": (
        "LatestCloudWatchLogsDeliveryError",
        "logs:CreateLogStream",
        "LatestCloudWatchLogsDeliveryTime",
    ),
}


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _broken(sb: Sandbox) -> list[dict[str, Any]]:
    return [t for t in sb.manifest["trails"] if t["broken"]]


@pytest.fixture(scope="module")
def mutable() -> Iterator[Sandbox]:
    sb = Sandbox(scenario="demo", delivery_interval=3600.0, lookup_events_rps=None).start()
    pid = sb.pid
    try:
        yield sb
    finally:
        sb.stop()
        sb.stop()  # idempotent, and only this pid was ever signalled
        with pytest.raises(ProcessLookupError):
            os.kill(pid or 0, 0)


async def _status(
    aws_client: AwsClientFactory, account: str, region: str, arn: str, sb: Sandbox | None = None
) -> dict[str, Any]:
    client = await aws_client("cloudtrail", account=account, region=region, sb=sb)
    status: dict[str, Any] = await client.get_trail_status(Name=arn)
    status.pop("ResponseMetadata", None)
    return status


# -- delivery emulation ----------------------------------------------------------------------


def test_demo_has_one_broken_trail_per_root_cause(sandbox: Sandbox) -> None:
    causes = {t["root_cause"] for t in _broken(sandbox)}
    assert causes == set(EXPECTED) | {"LOGGING_STOPPED"}
    assert sandbox.manifest["uncovered"] == [
        {"account": STAGING, "region": "ap-southeast-2", "expected_codes": ["REGION_NOT_COVERED"]}
    ]
    assert any(t["organization_trail"] for t in sandbox.manifest["trails"])
    member_views = [v for t in sandbox.manifest["trails"] for v in t["views"]]
    assert any("MANAGED_ELSEWHERE" in v["expected_codes"] for v in member_views)
    central = sandbox.trail("staging-central")
    assert central["destination_owners"] == {"bucket": MGMT} != {"bucket": central["account"]}


async def test_each_root_cause_yields_its_error_field(
    sandbox: Sandbox, aws_client: AwsClientFactory
) -> None:
    for trail in _broken(sandbox):
        status = await _status(aws_client, trail["account"], trail["home_region"], trail["arn"])
        cause = trail["root_cause"]
        broken_at = datetime.fromisoformat(trail["broken_since"]).timestamp()
        if cause == "LOGGING_STOPPED":
            assert status["IsLogging"] is False, trail["name"]
            assert abs(_epoch(status["StopLoggingTime"]) - broken_at) < 2
            continue
        field, text, time_field = EXPECTED[cause]
        assert text in status.get(field, ""), (trail["name"], status)
        # The channel's last success is when it broke: a story, not "now".
        assert abs(_epoch(status[time_field]) - broken_at) < 2, (trail["name"], status)
        others = set(ERROR_FIELDS) - {field}
        if trail["log_file_validation"] and cause.startswith("S3_"):
            assert status["LatestDigestDeliveryError"] == "AccessDenied"
            others.discard("LatestDigestDeliveryError")
        assert not others & set(status), (trail["name"], status)


async def test_healthy_views_have_no_error_keys(
    sandbox: Sandbox, aws_client: AwsClientFactory
) -> None:
    for trail in sandbox.manifest["trails"]:
        if trail["broken"]:
            continue
        for view in trail["views"]:
            status = await _status(aws_client, view["account"], view["region"], trail["arn"])
            assert status["IsLogging"] is True
            assert not set(ERROR_FIELDS) & set(status), (trail["name"], view, status)
            assert time.time() - _epoch(status["LatestDeliveryTime"]) < 5


async def test_multi_region_trail_is_answered_by_arn_in_every_region(
    sandbox: Sandbox, aws_client: AwsClientFactory
) -> None:
    trail = sandbox.trail("prod-main")
    assert trail["multi_region"] and len(trail["views"]) == 4
    for view in trail["views"]:
        status = await _status(aws_client, PROD, view["region"], trail["arn"])
        assert status["IsLogging"] is True
        client = await aws_client("cloudtrail", account=PROD, region=view["region"])
        if view["region"] != trail["home_region"]:
            with pytest.raises(ClientError) as err:  # a shadow needs the ARN, as in AWS
                await client.get_trail_status(Name="prod-main")
            assert err.value.response["Error"]["Code"] == "TrailNotFoundException"


async def test_organization_trail_is_visible_to_members_by_arn(
    sandbox: Sandbox, aws_client: AwsClientFactory
) -> None:
    member = sandbox.manifest["organization"]["members"][0]["id"]
    org_trail = sandbox.trail("org-trail")
    client = await aws_client("cloudtrail", account=member, region="eu-west-1")
    listed = (await client.describe_trails())["trailList"]
    assert org_trail["arn"] in {t["TrailARN"] for t in listed}
    status = await _status(aws_client, member, "eu-west-1", org_trail["arn"])
    assert status["IsLogging"] is True and "LatestDeliveryError" not in status
    assert {
        "account": member,
        "region": "eu-west-1",
        "expected_codes": ["MANAGED_ELSEWHERE"],
    } in org_trail["views"]


async def test_unknown_trail_arn_is_trail_not_found(aws_client: AwsClientFactory) -> None:
    client = await aws_client("cloudtrail", account=PROD, region="us-west-2")
    with pytest.raises(ClientError) as err:
        await client.get_trail_status(Name=f"arn:aws:cloudtrail:us-west-2:{PROD}:trail/nope")
    assert err.value.response["Error"]["Code"] == "TrailNotFoundException"


async def test_fixing_a_destination_clears_the_error_on_the_next_delivery(
    mutable: Sandbox, aws_client: AwsClientFactory
) -> None:
    trail = mutable.trail("prod-s3-policy")
    region, arn = trail["home_region"], trail["arn"]
    before = await _status(aws_client, PROD, region, arn, mutable)
    assert before["LatestDeliveryError"] == "AccessDenied"
    s3 = mutable.boto3_client("s3", account=PROD, region=region)
    s3.put_bucket_policy(
        Bucket=trail["bucket"], Policy=bucket_policy(trail["bucket"], "", [PROD], arn)
    )
    still = await _status(aws_client, PROD, region, arn, mutable)
    assert still["LatestDeliveryError"] == "AccessDenied"  # nothing delivered yet
    tick = mutable.deliver()
    after = await _status(aws_client, PROD, region, arn, mutable)
    assert not set(ERROR_FIELDS) & set(after), after
    assert _epoch(after["LatestDeliveryTime"]) >= tick - 0.01 > _epoch(before["LatestDeliveryTime"])
    assert _epoch(after["LatestDigestDeliveryTime"]) >= tick - 0.01


async def test_fixing_kms_and_cloudwatch_destinations(
    mutable: Sandbox, aws_client: AwsClientFactory
) -> None:
    kms_trail = mutable.trail("prod-kms-disabled")
    key_id = kms_trail["kms_key_arn"].rsplit("/", 1)[1]
    mutable.boto3_client("kms", account=PROD, region=kms_trail["home_region"]).enable_key(
        KeyId=key_id
    )
    cw_trail = mutable.trail("sec-cw-group")
    member = cw_trail["account"]
    mutable.boto3_client("logs", account=member, region=cw_trail["home_region"]).create_log_group(
        logGroupName="/aws/cloudtrail/sec-cw-group"
    )
    tick = mutable.deliver()
    kms_status = await _status(
        aws_client, PROD, kms_trail["home_region"], kms_trail["arn"], mutable
    )
    cw_status = await _status(aws_client, member, cw_trail["home_region"], cw_trail["arn"], mutable)
    assert (
        "LatestDeliveryError" not in kms_status
        and _epoch(kms_status["LatestDeliveryTime"]) >= tick - 0.01
    )
    assert "LatestCloudWatchLogsDeliveryError" not in cw_status
    assert _epoch(cw_status["LatestCloudWatchLogsDeliveryTime"]) >= tick - 0.01


async def test_breaking_shows_on_the_next_delivery_and_keeps_the_last_good_time(
    mutable: Sandbox, aws_client: AwsClientFactory
) -> None:
    trail = mutable.trail("staging-euw1")
    region, arn = trail["home_region"], trail["arn"]
    good = await _status(aws_client, STAGING, region, arn, mutable)
    assert "LatestDeliveryError" not in good
    mutable.boto3_client("s3", account=STAGING, region=region).delete_bucket_policy(
        Bucket=trail["bucket"]
    )
    assert "LatestDeliveryError" not in await _status(aws_client, STAGING, region, arn, mutable)
    mutable.deliver()
    broken = await _status(aws_client, STAGING, region, arn, mutable)
    assert broken["LatestDeliveryError"] == "AccessDenied"
    assert broken["LatestDeliveryTime"] == good["LatestDeliveryTime"]


async def test_each_region_of_a_multi_region_trail_keeps_its_own_state(
    mutable: Sandbox, aws_client: AwsClientFactory
) -> None:
    trail = mutable.trail("prod-main")
    arn = trail["arn"]
    seen = await _status(aws_client, PROD, "us-west-2", arn, mutable)  # this view delivers now
    assert "LatestDeliveryError" not in seen
    mutable.boto3_client("s3", account=PROD).delete_bucket_policy(Bucket=trail["bucket"])
    mutable.deliver()
    west = await _status(aws_client, PROD, "us-west-2", arn, mutable)
    sydney = await _status(
        aws_client, PROD, "ap-southeast-2", arn, mutable
    )  # first asked after the break
    assert west["LatestDeliveryError"] == sydney["LatestDeliveryError"] == "AccessDenied"
    assert west["LatestDeliveryTime"] == seen["LatestDeliveryTime"]
    assert "LatestDeliveryTime" not in sydney  # never delivered in this view
    mutable.faults.add("error_message", region="eu-west-1", trail=arn, message="only eu-west-1")
    try:
        eu = await _status(aws_client, PROD, "eu-west-1", arn, mutable)
        west = await _status(aws_client, PROD, "us-west-2", arn, mutable)
        assert (
            eu["LatestDeliveryError"] == "only eu-west-1"
            and west["LatestDeliveryError"] == "AccessDenied"
        )
    finally:
        mutable.faults.clear()


# -- accounts --------------------------------------------------------------------------------


async def test_accounts_are_isolated(sandbox: Sandbox, aws_client: AwsClientFactory) -> None:
    prod = await aws_client("cloudtrail", account=PROD, region="us-west-2")
    staging = await aws_client("cloudtrail", account=STAGING, region="us-west-2")
    prod_arns = {t["TrailARN"] for t in (await prod.describe_trails())["trailList"]}
    staging_arns = {t["TrailARN"] for t in (await staging.describe_trails())["trailList"]}
    assert prod_arns and staging_arns and not prod_arns & staging_arns
    assert all(f":{PROD}:" in a for a in prod_arns)
    with pytest.raises(ClientError) as err:
        await staging.get_trail_status(Name=sandbox.trail("prod-s3-policy")["arn"])
    assert err.value.response["Error"]["Code"] == "TrailNotFoundException"
    for account in (MGMT, PROD, STAGING):
        sts = await aws_client("sts", account=account)
        assert (await sts.get_caller_identity())["Account"] == account


async def test_another_accounts_bucket_policy_is_refused_as_aws_refuses_it(
    sandbox: Sandbox, aws_client: AwsClientFactory
) -> None:
    """staging-central writes to a management-account bucket: only MGMT reads its policy."""
    bucket = sandbox.trail("staging-central")["bucket"]
    staging = await aws_client("s3", account=STAGING)
    with pytest.raises(ClientError) as err:
        await staging.get_bucket_policy(Bucket=bucket)
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    owner = await aws_client("s3", account=MGMT)
    assert "cloudtrail.amazonaws.com" in (await owner.get_bucket_policy(Bucket=bucket))["Policy"]
    key = sandbox.trail("prod-main")["kms_key_arn"]
    with pytest.raises(ClientError) as err:
        await (await aws_client("kms", account=STAGING)).describe_key(KeyId=key)
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert (await (await aws_client("kms", account=PROD)).describe_key(KeyId=key))["KeyMetadata"]


async def test_profiles_in_the_written_files_reach_their_accounts(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiobotocore.session import AioSession

    for key, value in sandbox.process_env().items():
        monkeypatch.setenv(key, value)
    for profile, expected in (("demo-mgmt", MGMT), ("demo-prod", PROD)):
        session = AioSession(profile=profile)
        async with session.create_client("sts") as sts:
            identity = await sts.get_caller_identity()
        assert identity["Account"] == expected
    credentials = sandbox.credentials_file.read_text()
    assert all(secret in credentials for secret in sandbox.manifest["secrets"])


async def test_describe_regions_is_limited_to_enabled_regions(
    sandbox: Sandbox, aws_client: AwsClientFactory
) -> None:
    ec2 = await aws_client("ec2", account=PROD)
    names = [r["RegionName"] for r in (await ec2.describe_regions())["Regions"]]
    assert names == sandbox.manifest["accounts"][PROD]["regions"]
    account = await aws_client("account", account=PROD)
    enabled = [
        r["RegionName"]
        for r in (
            await account.list_regions(RegionOptStatusContains=["ENABLED", "ENABLED_BY_DEFAULT"])
        )["Regions"]
    ]
    assert enabled == names


async def test_an_opt_in_region_not_enabled_rejects_credentials(
    aws_client: AwsClientFactory,
) -> None:
    client = await aws_client("cloudtrail", account=PROD, region="af-south-1")
    with pytest.raises(ClientError) as err:
        await client.describe_trails()
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"


# -- faults ----------------------------------------------------------------------------------

FAULT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("throttle", {}, "ThrottlingException"),
    ("5xx", {"status": 500}, "InternalFailure"),
    ("5xx", {"status": 503}, "ServiceUnavailable"),
    ("access_denied", {}, "AccessDeniedException"),
    ("region_disabled", {}, "UnrecognizedClientException"),
    ("expired_token", {}, "ExpiredTokenException"),
]


@pytest.mark.parametrize(
    ("kind", "params", "code"), FAULT_CASES, ids=[c[0] + str(c[1]) for c in FAULT_CASES]
)
async def test_fault_kinds_are_seen_by_a_client_in_one_account_only(
    sandbox: Sandbox,
    sandbox_faults: Any,
    aws_client: AwsClientFactory,
    kind: str,
    params: dict[str, Any],
    code: str,
) -> None:
    sandbox_faults.add(
        kind,
        service="cloudtrail",
        operation="DescribeTrails",
        account=PROD,
        region="eu-west-1",
        **params,
    )
    target = await aws_client("cloudtrail", account=PROD, region="eu-west-1")
    with pytest.raises(ClientError) as err:
        await target.describe_trails()
    assert err.value.response["Error"]["Code"] == code
    other_account = await aws_client("cloudtrail", account=STAGING, region="eu-west-1")
    other_region = await aws_client("cloudtrail", account=PROD, region="us-west-2")
    assert "trailList" in await other_account.describe_trails()
    assert "trailList" in await other_region.describe_trails()


async def test_query_and_xml_services_get_their_own_error_shapes(
    sandbox_faults: Any, aws_client: AwsClientFactory
) -> None:
    sandbox_faults.add("throttle", service="iam", account=PROD)
    sandbox_faults.add("access_denied", service="s3", account=PROD)
    iam = await aws_client("iam", account=PROD)
    s3 = await aws_client("s3", account=PROD)
    with pytest.raises(ClientError) as err:
        await iam.list_roles()
    assert err.value.response["Error"]["Code"] == "Throttling"
    with pytest.raises(ClientError) as err:
        await s3.list_buckets()
    assert err.value.response["Error"]["Code"] == "AccessDenied"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


async def test_dropped_connection(sandbox_faults: Any, aws_client: AwsClientFactory) -> None:
    rule = sandbox_faults.add("drop", service="cloudtrail", operation="ListTrails", account=PROD)
    client = await aws_client("cloudtrail", account=PROD)
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        await client.list_trails()
    sandbox_faults.remove(rule)
    assert "Trails" in await client.list_trails()


async def test_latency_fault_delays_matching_calls(
    sandbox_faults: Any, aws_client: AwsClientFactory
) -> None:
    client = await aws_client("cloudtrail", account=STAGING)
    await client.list_trails()
    sandbox_faults.add("latency", service="cloudtrail", account=STAGING, latency_ms=150)
    started = time.monotonic()
    await client.list_trails()
    assert time.monotonic() - started >= 0.15


async def test_error_message_injects_hostile_text(
    sandbox: Sandbox, sandbox_faults: Any, aws_client: AwsClientFactory
) -> None:
    hostile = "[@click=app.quit]x[/] [/] \x1b]52;c;aGk=\x07"
    trail = sandbox.trail("staging-usw2")
    sandbox_faults.add("error_message", trail=trail["arn"], message=hostile)
    status = await _status(aws_client, STAGING, trail["home_region"], trail["arn"])
    assert status["LatestDeliveryError"] == hostile


async def test_request_counter_counts_per_operation_account_region(
    sandbox: Sandbox, aws_client: AwsClientFactory
) -> None:
    client = await aws_client("cloudtrail", account=STAGING, region="ap-southeast-2")
    since = time.time()
    for _ in range(3):
        await client.list_trails()
    counts = sandbox.requests(
        service="cloudtrail", operation="ListTrails", account=STAGING, region="ap-southeast-2"
    )
    assert counts["total"] >= 3
    log = sandbox.request_log(
        since=since, operation="ListTrails", account=STAGING, region="ap-southeast-2"
    )
    assert len(log) == 3 and all(e["status"] == 200 for e in log)


# -- event history ---------------------------------------------------------------------------


async def test_lookup_events_returns_the_breaking_event_with_its_actor(
    sandbox: Sandbox, aws_client: AwsClientFactory
) -> None:
    """One paginated LookupEvents sweep per (account, region), as a careful client would."""
    wanted: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for trail in _broken(sandbox):
        global_call = trail["broken_by"]["event"] in (
            "DeleteRole",
            "UpdateAssumeRolePolicy",
            "DeleteRolePolicy",
        )
        region = "us-east-1" if global_call else trail["home_region"]
        wanted.setdefault((trail["account"], region), []).append(trail)
    for (account, region), trails in wanted.items():
        client = await aws_client("cloudtrail", account=account, region=region, retries=5)
        events: list[dict[str, Any]] = []
        paginator = client.get_paginator("lookup_events")
        async for page in paginator.paginate(
            LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}]
        ):
            events.extend(page["Events"])
        for trail in trails:
            by = trail["broken_by"]
            match = [
                e
                for e in events
                if e["EventName"] == by["event"]
                and abs(
                    _epoch(e["EventTime"]) - datetime.fromisoformat(by["event_time"]).timestamp()
                )
                < 1
            ]
            assert match, (trail["name"], by)
            record = json.loads(match[0]["CloudTrailEvent"])
            issuer = record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
            assert issuer == by["actor"]
            assert record["awsRegion"] == region and record["recipientAccountId"] == account
            # Actors share the seeding's clients: each call still carries its own actor's
            # user agent and source IP (sandbox/seeding.py, ClientPool).
            agent, ip = (
                (CLI_UA, "203.0.113.24")
                if "ci-deployer" in issuer
                else (CONSOLE_UA, "198.51.100.7")
            )
            assert record["userAgent"].startswith(agent + " ") and record["sourceIPAddress"] == ip


async def test_lookup_events_filters_pages_and_limits_rate(
    mutable: Sandbox, aws_client: AwsClientFactory
) -> None:
    s3 = mutable.boto3_client("s3", account=PROD, region="eu-west-1")
    bucket = "lookup-test-bucket"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, "", [PROD], None))
    s3.delete_bucket_policy(Bucket=bucket)
    client = await aws_client("cloudtrail", account=PROD, region="eu-west-1", sb=mutable)
    by_bucket = [{"AttributeKey": "ResourceName", "AttributeValue": bucket}]
    mutable.control.call("POST", "config", {"lookup_events_rps": 2.0})
    try:
        since = time.time()
        first = await client.lookup_events(LookupAttributes=by_bucket, MaxResults=2)
        assert [e["EventName"] for e in first["Events"]] == [
            "DeleteBucketPolicy",
            "PutBucketPolicy",
        ]
        second = await client.lookup_events(
            LookupAttributes=by_bucket, MaxResults=2, NextToken=first["NextToken"]
        )
        assert [e["EventName"] for e in second["Events"]] == [
            "CreateBucket"
        ] and "NextToken" not in second
        with pytest.raises(
            ClientError
        ) as err:  # LookupEvents allows 2 requests/s per account-region
            await client.lookup_events(LookupAttributes=by_bucket)
        assert err.value.response["Error"]["Code"] == "ThrottlingException"
        log = mutable.request_log(
            since=since, operation="LookupEvents", account=PROD, region="eu-west-1"
        )
        assert [e["status"] for e in log] == [200, 200, 400]
    finally:
        mutable.control.call("POST", "config", {"lookup_events_rps": None})
    assert first["Events"][0]["Username"] == "sandbox-test"
    record = json.loads(first["Events"][0]["CloudTrailEvent"])
    assert (
        record["requestParameters"]["bucketName"] == bucket and record["awsRegion"] == "eu-west-1"
    )
    earlier = await client.lookup_events(
        StartTime=datetime.fromtimestamp(time.time() - 7200),
        EndTime=datetime.fromtimestamp(time.time() - 3600),
        LookupAttributes=by_bucket,
    )
    assert earlier["Events"] == []


# -- process hygiene -------------------------------------------------------------------------


def test_standalone_cli_prints_the_endpoint_and_stops_cleanly() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--scenario", "empty"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("AWS_ENDPOINT_URL="):
                break
        assert any(line.startswith("AWS_ENDPOINT_URL=http://127.0.0.1:") for line in lines)
        assert any("AWS_SHARED_CREDENTIALS_FILE" in line for line in lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_spawn_returns_at_once_and_stop_ends_a_server_never_started() -> None:
    """The demo spawns the server before the TUI's imports; quitting before the estate
    started must leave no server, and a stopped sandbox never spawns again."""
    from sandbox import SandboxError
    from sandbox.harness import SCENARIO_NAMES
    from sandbox.scenarios import SCENARIOS

    assert tuple(SCENARIOS) == SCENARIO_NAMES
    sb = Sandbox(scenario="empty").spawn()
    pid = sb.pid
    assert pid is not None and sb.spawn().pid == pid and not sb.endpoint_url
    sb.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(SandboxError):
        sb.start()


def test_symmetric_keys_share_one_private_key_made_on_first_use() -> None:
    """moto would make an RSA key per KMS key (sandbox/moto_speed.py); asymmetric keys
    still get their own, and signing with one still verifies."""
    from moto.kms.models import Key

    from sandbox.moto_speed import install

    install()

    def key(spec: str, usage: str = "ENCRYPT_DECRYPT") -> Any:
        return Key(None, usage, spec, "", "111111111111", "eu-west-1")

    one, two = key("SYMMETRIC_DEFAULT"), key("SYMMETRIC_DEFAULT")
    assert one.id != two.id and one.key_material != two.key_material
    assert one.private_key.public_key() == two.private_key.public_key()
    rsa = key("RSA_2048", "SIGN_VERIFY")
    assert rsa.private_key.public_key() != one.private_key.public_key()
    signature = rsa.private_key.sign(b"trail", "RSASSA_PSS_SHA_256")
    assert rsa.private_key.verify(b"trail", signature, "RSASSA_PSS_SHA_256")


def test_the_cached_dispatcher_finds_the_backends_moto_finds() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from sandbox.moto_speed import SERVICES, CachedDispatcher

    cached, moto = (
        CachedDispatcher(create_backend_app),
        DomainDispatcherApplication(create_backend_app),
    )
    hosts = [f"{s}.{r}.amazonaws.com" for s in SERVICES for r in ("us-east-1", "eu-west-1")]
    hosts += ["moto_api", "s3", "iam", "sts.amazonaws.com", None]
    for host in hosts * 2:  # the second time from the cache
        assert cached.get_backend_for_host(host) == moto.get_backend_for_host(host), host
    assert cached.get_backend_for_host("cloudtrail.eu-west-1.amazonaws.com") == "cloudtrail"


def test_the_server_spawned_first_is_stopped_when_the_demo_cannot_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    """`trailtop --demo --once` spawns the estate's server before its own imports
    (tui/cli.py); refused afterwards (here: a debug log it cannot write), it exits 2 and
    leaves no server behind."""
    import tui.demo
    from tui.cli import main

    made: list[Any] = []
    real = tui.demo.new_sandbox

    def spy() -> Any:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(tui.demo, "new_sandbox", spy)
    log = tmp_path / "missing" / "debug.log"
    assert main(["--demo", "--once", "--debug-log", str(log)]) == 2
    assert "--debug-log" in capsys.readouterr().err
    assert len(made) == 1 and made[0].pid is not None, "spawned before the arguments were judged"
    with pytest.raises(ProcessLookupError):
        os.kill(made[0].pid, 0)
