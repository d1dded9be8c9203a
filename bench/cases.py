"""The reference cases: `ceiling` (raw pre-signed HTTP) and `sequential` (a plain boto3 loop).

Both run in the bench's own process against the sandbox started by `bench/__main__.py`.
Nothing here imports `core/`: these are what *any* client could do, not trailtop.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

MGMT = "123456789012"


@dataclass(frozen=True)
class Prepared:
    """One request exactly as botocore would put it on the wire (signed once, up front)."""

    op: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
_OPS = {"describe_trails": "DescribeTrails", "get_trail_status": "GetTrailStatus"}


def estate_credentials(sb: Any) -> dict[str, Any]:
    """Frozen credentials per account of the estate (members via the Organization role)."""
    role = sb.manifest["organization"]["role_name"]
    out: dict[str, Any] = {}
    for acct in sb.manifest["accounts"]:
        session = sb.session(None if acct == MGMT else acct, role_name=role)
        out[acct] = session.get_credentials().get_frozen_credentials()
    return out


def sweep_requests(
    sb: Any,
    credentials: dict[str, Any],
    regions: list[str] | None = None,
    describe: bool = True,
) -> list[Prepared]:
    """DescribeTrails per account-region + GetTrailStatus per view (by ARN), SigV4-signed
    once up front with botocore's signer, in the JSON-1.1 shape botocore sends."""
    wanted = sorted(set(regions or sb.manifest["regions"]))
    views: dict[tuple[str, str], list[str]] = {}
    for t in sb.manifest["trails"]:
        for v in t["views"]:
            views.setdefault((v["account"], v["region"]), []).append(t["arn"])
    url = sb.endpoint_url.rstrip("/") + "/"
    out: list[Prepared] = []
    for acct, creds in credentials.items():
        for region in wanted:
            signer = SigV4Auth(creds, "cloudtrail", region)
            calls: list[tuple[str, dict[str, Any]]] = []
            if describe:
                calls.append(("describe_trails", {"includeShadowTrails": True}))
            calls += [("get_trail_status", {"Name": arn}) for arn in views.get((acct, region), [])]
            for op, params in calls:
                body = json.dumps(params).encode()
                req = AWSRequest(
                    method="POST",
                    url=url,
                    data=body,
                    headers={
                        "X-Amz-Target": _TARGET + _OPS[op],
                        "Content-Type": "application/x-amz-json-1.1",
                        "User-Agent": "trailtop-bench-ceiling",
                    },
                )
                signer.add_auth(req)
                headers = {
                    k: v.decode() if isinstance(v, bytes) else str(v)
                    for k, v in req.headers.items()
                }
                out.append(Prepared(op, "POST", url, headers, body))
    return out


async def _send_all(reqs: list[Prepared], concurrency: int) -> tuple[float, int, int]:
    """Send every request with `concurrency` workers; returns (seconds, ok, failed)."""
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    ok = failed = 0
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as http:
        queue = iter(reqs)

        async def worker() -> None:
            nonlocal ok, failed
            for r in queue:
                try:
                    async with http.request(
                        r.method, r.url, headers=r.headers, data=r.body
                    ) as resp:
                        await resp.read()
                        if resp.status < 300:
                            ok += 1
                        else:
                            failed += 1
                except aiohttp.ClientError:
                    failed += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0, ok, failed


def ceiling(reqs: list[Prepared], concurrency: int) -> dict[str, Any]:
    seconds, ok, failed = asyncio.run(_send_all(reqs, concurrency))
    return {
        "requests": len(reqs),
        "seconds": seconds,
        "ok": ok,
        "failed": failed,
        "concurrency": concurrency,
    }


def sequential(sb: Any, accounts: list[str] | None = None) -> dict[str, Any]:
    """The script a user would write: for each account, assume the role, then for each
    region DescribeTrails and GetTrailStatus per trail, one call after another (timed from
    the first call; role assumption and client creation included)."""
    mgmt = boto3.Session(profile_name="bench-mgmt", region_name="us-east-1")
    role = sb.manifest["organization"]["role_name"]
    regions = list(sb.manifest["regions"])
    all_accounts = list(sb.manifest["accounts"])
    chosen = accounts or all_accounts
    views = 0
    t0 = time.perf_counter()
    sts = mgmt.client("sts", endpoint_url=sb.endpoint_url)
    for acct in chosen:
        if acct == MGMT:
            session = mgmt
        else:
            c = sts.assume_role(
                RoleArn=f"arn:aws:iam::{acct}:role/{role}", RoleSessionName="audit"
            )["Credentials"]
            session = boto3.Session(
                aws_access_key_id=c["AccessKeyId"],
                aws_secret_access_key=c["SecretAccessKey"],
                aws_session_token=c["SessionToken"],
            )
        for region in regions:
            ct = session.client("cloudtrail", region_name=region, endpoint_url=sb.endpoint_url)
            for trail in ct.describe_trails(includeShadowTrails=True)["trailList"]:
                st = ct.get_trail_status(Name=trail["TrailARN"])
                views += 1
                _ = st.get("LatestDeliveryError")
    return {
        "seconds": time.perf_counter() - t0,
        "views": views,
        "accounts": len(chosen),
        "of_accounts": len(all_accounts),
    }
