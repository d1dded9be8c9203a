"""The sandbox at organization scale: kept-alive connections, ListTrails as the account-wide
list AWS documents, and the ``org`` scenario's shape (at a small size).

Connection reuse is read from the server's own counter (``connections`` in GET
/_sandbox/requests), not from what the client believes it did.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from sandbox import Sandbox
from sandbox.handlers import InvalidNextToken, page_of
from sandbox.regions import DEFAULT_REGIONS
from tests.conftest import AwsClientFactory

MGMT = "123456789012"
PROD = "111111111111"


def _connection(sb: Sandbox) -> http.client.HTTPConnection:
    url = urlsplit(sb.endpoint_url)
    return http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)


def _usage(sb: Sandbox) -> tuple[int, int]:
    """(requests, connections that carried one) the server counted so far."""
    answer = sb.requests()
    return int(answer["total"]), int(answer["connections"])


def test_one_socket_answers_control_moto_error_and_head_requests(sandbox: Sandbox) -> None:
    conn = _connection(sandbox)
    try:
        conn.request("GET", "/_sandbox/health")
        first = conn.getresponse()
        assert json.loads(first.read())["ok"] is True
        sock = conn.sock
        assert sock is not None and not first.will_close
        for method, path, status in (
            ("GET", "/_sandbox/no-such-route", 404),  # the control plane's error answer
            ("GET", "/", 200),  # moto's own answer (ListBuckets)
            ("HEAD", "/_sandbox/health", 200),  # Content-Length, no body
            ("GET", "/_sandbox/health", 200),
        ):
            conn.request(method, path)
            response = conn.getresponse()
            body = response.read()
            assert response.status == status, (method, path)
            assert not response.will_close, (method, path)
            if method != "HEAD":
                assert int(response.getheader("Content-Length") or -1) == len(body) > 0
            # http.client opens a new socket when the server closed the last one.
            assert conn.sock is sock, (method, path)
    finally:
        conn.close()


async def test_sdk_calls_reuse_connections_through_faults(
    sandbox: Sandbox, aws_client: AwsClientFactory, sandbox_faults: Any
) -> None:
    client = await aws_client("cloudtrail", account=PROD, region="us-west-2")
    sync = sandbox.boto3_client("cloudtrail", account=PROD, region="eu-west-1")
    await client.list_trails()
    sync.list_trails()
    requests_before, connections_before = _usage(sandbox)
    sandbox_faults.add(
        "throttle", service="cloudtrail", operation="ListTrails", region="us-west-2", count=2
    )
    sandbox_faults.add("latency", service="cloudtrail", latency_ms=5, count=3)
    errors = []
    for _ in range(6):
        try:
            await client.list_trails()
        except ClientError as err:
            errors.append(err.response["Error"]["Code"])
        sync.list_trails()
    requests_after, connections_after = _usage(sandbox)
    assert errors == ["ThrottlingException", "ThrottlingException"]
    assert requests_after - requests_before == 12
    # Both clients were already connected: throttled and delayed answers keep the socket.
    assert connections_after == connections_before

    sandbox_faults.add("drop", service="cloudtrail", operation="ListTrails", account=PROD)
    with pytest.raises(ConnectionClosedError):
        await client.list_trails()
    sandbox_faults.clear()
    assert "Trails" in await client.list_trails()
    # The dropped connection is gone; the next call needed exactly one new one.
    assert _usage(sandbox)[1] == connections_after + 1


def test_an_idle_connection_is_closed_by_the_server(sandbox: Sandbox) -> None:
    default = sandbox.control.call("GET", "connections")["idle_timeout"]
    sandbox.control.call("POST", "connections", {"idle_timeout": 0.5})
    try:
        idle = _connection(sandbox)
        try:
            idle.request("GET", "/_sandbox/health")
            answer = idle.getresponse()
            assert answer.status == 200 and not answer.will_close
            answer.read()  # the whole answer (Content-Length): nothing more is sent
            assert idle.sock is not None
            waited = time.monotonic()
            assert idle.sock.recv(1) == b""  # the server closed it: its thread is gone
            assert 0.3 < time.monotonic() - waited < 5.0
        finally:
            idle.close()
    finally:
        sandbox.control.call("POST", "connections", {"idle_timeout": default})


def test_page_of_hands_out_opaque_tokens_and_refuses_foreign_ones() -> None:
    items = list(range(7))
    seen, token, pages = [], None, 0
    while True:
        page, token = page_of(items, token, 3)
        seen += page
        pages += 1
        if token is None:
            break
        assert not token.isdigit()  # not a bare offset
    assert (seen, pages) == (items, 3)
    assert page_of(items, None, 10) == (items, None)
    for bad in ("garbage", "dHJhaWxzOjA=", "dHJhaWxzOi0x", "bG9va3VwOjM="):  # 0, -1, lookup:3
        with pytest.raises(InvalidNextToken):
            page_of(items, bad, 3)


def _members(sb: Sandbox) -> dict[str, str]:
    return {m["name"]: m["id"] for m in sb.manifest["organization"]["members"]}


def test_org_scenario_shape_and_account_wide_list_trails(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sb = sandbox_factory(
        "org",
        delivery_interval=3600,
        scenario_args={"accounts": 12, "regions": 3, "local_every": 10, "broken": 1},
    )
    m = sb.manifest
    regions = list(DEFAULT_REGIONS[:3])
    members = _members(sb)
    org_id = m["organization"]["id"]
    assert sorted(members) == [f"org-{i:04d}" for i in range(1, 12)]
    assert set(m["accounts"]) == {MGMT, *members.values()}
    assert m["regions"] == regions and "bench-mgmt" in m["profiles"]
    org_entry, *local = m["trails"]
    assert org_entry["organization_trail"] and org_entry["multi_region"]
    assert org_entry["covers_accounts"] == 12
    assert [(v["account"], v["region"]) for v in org_entry["views"]] == [(MGMT, r) for r in regions]
    # The first member and every tenth after it: org-0001 and org-0011.
    assert sorted(e["account"] for e in local) == sorted([members["org-0001"], members["org-0011"]])
    assert all(e["multi_region"] and len(e["views"]) == 3 for e in local)
    assert [e["broken"] for e in local].count(True) == 1
    assert m["size"] == {"accounts": 12, "regions": 3, "views": 9, "local_trails": 2, "broken": 1}

    orgs = sb.boto3_client("organizations")
    listed = [a for p in orgs.get_paginator("list_accounts").paginate() for a in p["Accounts"]]
    assert {a["Id"]: a["Name"] for a in listed if a["Id"] != MGMT} == {
        v: k for k, v in members.items()
    }
    policy = json.loads(
        sb.boto3_client("s3").get_bucket_policy(Bucket=org_entry["bucket"])["Policy"]
    )
    resources = json.dumps([s.get("Resource") for s in policy["Statement"]])
    assert f"AWSLogs/{org_id}/*" in resources and f"AWSLogs/{MGMT}/*" in resources

    broken = next(e for e in local if e["broken"])
    sb.deliver()
    status = sb.boto3_client(
        "cloudtrail", account=broken["account"], region=broken["home_region"]
    ).get_trail_status(Name=broken["arn"])
    if "S3_DELIVERY_ERROR" in broken["expected_codes"]:
        assert status.get("LatestDeliveryError")
    else:
        assert status["IsLogging"] is False

    org_row = {"TrailARN": org_entry["arn"], "Name": "org-trail", "HomeRegion": regions[0]}
    plain = members["org-0002"]
    assert sb.boto3_client("cloudtrail", account=plain, region=regions[2]).list_trails()[
        "Trails"
    ] == [org_row]
    with_local = next(e for e in local if e["account"] == members["org-0011"])
    own = sb.boto3_client("cloudtrail", account=with_local["account"], region=regions[2])
    assert sorted(t["TrailARN"] for t in own.list_trails()["Trails"]) == sorted(
        [org_entry["arn"], with_local["arn"]]
    )

    # The management account: a single-region trail of another region is listed everywhere
    # with its home region (DescribeTrails, regional, does not show it).
    sb.boto3_client("s3").create_bucket(Bucket="org-test-extra")
    clients = {r: sb.boto3_client("cloudtrail", region=r) for r in DEFAULT_REGIONS}
    east, west = clients[regions[0]], clients[regions[1]]
    west.create_trail(Name="west-only", S3BucketName="org-test-extra")
    rows = east.list_trails()["Trails"]
    assert {
        "TrailARN": f"arn:aws:cloudtrail:{regions[1]}:{MGMT}:trail/west-only",
        "Name": "west-only",
        "HomeRegion": regions[1],
    } in rows
    assert [r["TrailARN"] for r in rows].count(org_entry["arn"]) == 1
    assert "west-only" not in [t["Name"] for t in east.describe_trails()["trailList"]]

    # Over 50 trails: pages of 50 with an opaque token (five trails per region, as AWS allows).
    for i in range(50):
        clients[DEFAULT_REGIONS[i % 17]].create_trail(
            Name=f"page-{i:02d}", S3BucketName="org-test-extra"
        )
    pages = [p["Trails"] for p in east.get_paginator("list_trails").paginate()]
    assert [len(p) for p in pages] == [50, 2]
    assert len({t["TrailARN"] for p in pages for t in p}) == 52
    with pytest.raises(ClientError) as refused:
        east.list_trails(NextToken="not-a-token")
    assert refused.value.response["Error"]["Code"] == "InvalidNextTokenException"

    # Kept-alive connections do not hold the server up.
    kept = _connection(sb)
    kept.request("GET", "/_sandbox/health")
    kept.getresponse().read()
    assert sb.requests()["open_connections"] >= 2  # this one and the request's own
    started = time.monotonic()
    sb.stop()
    assert time.monotonic() - started < 3.0
    kept.close()
