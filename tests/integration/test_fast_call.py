"""The fast read path answers exactly what the SDK answers, over HTTP to the emulated estate,
and hands back to the SDK whatever it should not handle itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiobotocore.credentials import AioCredentials
from botocore.exceptions import ClientError, EndpointConnectionError

from core.aws.clients import ClientPool, credentials_session, make_config
from core.aws.errors import describe_error
from sandbox import Sandbox
from tests.integration.test_faults import free_port

REGION = "us-east-1"


def _pool(endpoint: str, fast: bool, attempts: int = 3) -> ClientPool:
    config = make_config(connect_timeout=2, read_timeout=10, max_attempts=attempts, pool_limit=8)
    return ClientPool(config, endpoint, fast_reads=fast)


@pytest.fixture
async def pools(sandbox: Sandbox) -> AsyncIterator[tuple[ClientPool, ClientPool, Any]]:
    frozen = sandbox.session(None).get_credentials().get_frozen_credentials()
    session = credentials_session(
        AioCredentials(frozen.access_key, frozen.secret_key, frozen.token)
    )
    fast, sdk = _pool(sandbox.endpoint_url, True), _pool(sandbox.endpoint_url, False)
    try:
        yield fast, sdk, session
    finally:
        await fast.close()
        await sdk.close()


def _body(resp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


async def test_reads_answer_what_the_sdk_answers(
    pools: tuple[ClientPool, ClientPool, Any],
) -> None:
    fast, sdk, session = pools
    trails = await sdk.call(session, "cloudtrail", REGION, "list_trails")
    arns = [t["TrailARN"] for t in trails["Trails"]]
    assert arns, "the demo estate's management account has trails"
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("cloudtrail", "list_trails", {}),
        ("cloudtrail", "describe_trails", {"trailNameList": arns, "includeShadowTrails": False}),
        ("ec2", "describe_regions", {}),
        ("sts", "get_caller_identity", {}),
        *[("cloudtrail", "get_trail_status", {"Name": a}) for a in arns],
        *[("cloudtrail", "get_event_selectors", {"TrailName": a}) for a in arns],
    ]
    for service, op, kw in calls:
        region = REGION
        if op in ("get_trail_status", "get_event_selectors"):
            region = kw.get("Name", kw.get("TrailName", "")).split(":")[3]
        before = fast._fast().answered
        ours = await fast.call(session, service, region, op, **kw)
        theirs = await sdk.call(session, service, region, op, **kw)
        assert fast._fast().answered == before + 1, f"{op} was not made on the fast path"
        if op == "get_trail_status":  # delivery times move between the two reads
            assert set(ours) == set(theirs)
            assert ours["IsLogging"] == theirs["IsLogging"]
        else:
            assert _body(ours) == _body(theirs), op
        assert ours["ResponseMetadata"]["HTTPStatusCode"] == 200
    # Every attempt is counted, as the SDK counts its own.
    assert fast.counter.total == len(calls)
    # Sent over trailtop's own client, one kept-alive connection for them all.
    wire = fast._fast()._wire
    assert wire is not None and wire.made == 1
    assert fast._fast().open_connections() == 1
    assert fast.counter.by_op == sdk.counter.by_op | {"ListTrails": 1}


async def test_assume_role_parses_credentials_as_the_sdk_does(
    pools: tuple[ClientPool, ClientPool, Any], sandbox: Sandbox
) -> None:
    fast, sdk, session = pools
    role = sandbox.manifest["assume_roles"][0]["role_arn"]
    kw = {"RoleArn": role, "RoleSessionName": "trailtop-test"}
    ours = await fast.call(session, "sts", REGION, "assume_role", **kw)
    theirs = await sdk.call(session, "sts", REGION, "assume_role", **kw)
    assert fast._fast().answered == 1
    for resp in (ours, theirs):
        assert set(resp["Credentials"]) == {
            "AccessKeyId",
            "SecretAccessKey",
            "SessionToken",
            "Expiration",
        }
    assert type(ours["Credentials"]["Expiration"]) is type(theirs["Credentials"]["Expiration"])
    assert (
        ours["AssumedRoleUser"]["Arn"].split("/")[:2]
        == theirs["AssumedRoleUser"]["Arn"].split("/")[:2]
    )


async def test_an_error_is_the_sdk_exception_with_the_same_code(
    pools: tuple[ClientPool, ClientPool, Any],
) -> None:
    fast, sdk, session = pools
    arn = f"arn:aws:cloudtrail:{REGION}:123456789012:trail/no-such-trail"
    caught: list[ClientError] = []
    for pool in (fast, sdk):
        with pytest.raises(ClientError) as info:
            await pool.call(session, "cloudtrail", REGION, "get_trail_status", Name=arn)
        caught.append(info.value)
    ours, theirs = caught
    # Each client has its own modeled exception classes: the same name, both ClientErrors.
    assert type(ours).__name__ == type(theirs).__name__ == "TrailNotFoundException"
    assert ours.response["Error"] == theirs.response["Error"]
    assert ours.operation_name == theirs.operation_name == "GetTrailStatus"
    assert describe_error(ours) == describe_error(theirs)
    assert fast._fast().answered == 1


async def test_throttling_is_handed_to_the_sdk_which_retries(
    pools: tuple[ClientPool, ClientPool, Any], sandbox_faults: Any
) -> None:
    fast, sdk, session = pools
    arn = (await sdk.call(session, "cloudtrail", REGION, "list_trails"))["Trails"][0]["TrailARN"]
    region = arn.split(":")[3]
    sandbox_faults.add(
        "throttle",
        service="cloudtrail",
        operation="GetTrailStatus",
        account="123456789012",
        count=1,
    )
    resp = await fast.call(session, "cloudtrail", region, "get_trail_status", Name=arn)
    assert "IsLogging" in resp
    assert fast._fast().answered == 0  # declined: the SDK made the call that succeeded
    assert fast.counter.total == 2  # the throttled attempt and the SDK's
    assert fast.counter.throttled == 1


async def test_an_unreachable_endpoint_raises_the_sdk_error() -> None:
    pool = _pool(f"http://127.0.0.1:{free_port()}", True, attempts=1)
    session = credentials_session(AioCredentials("AKID", "secret", None))
    try:
        with pytest.raises(EndpointConnectionError) as info:
            await pool.call(session, "cloudtrail", REGION, "list_trails")
        assert describe_error(info.value).startswith("endpoint unreachable")
        assert pool._fast().answered == 0
    finally:
        await pool.close()
