"""The fast path's Signature Version 4 against botocore's own signer, the reference."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence

from core.aws.fast_call import sigv4_headers

JSON_HEADERS = {
    "X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.GetTrailStatus",
    "Content-Type": "application/x-amz-json-1.1",
    "User-Agent": "trailtop test",
}
FORM = "application/x-www-form-urlencoded; charset=utf-8"
QUERY_BODY = percent_encode_sequence(
    {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": "arn:aws:iam::1:role/R x"}
).encode()


@pytest.mark.parametrize(
    ("url", "host", "service", "headers", "body", "token"),
    [
        (
            "https://cloudtrail.eu-west-1.amazonaws.com/",
            "cloudtrail.eu-west-1.amazonaws.com",
            "cloudtrail",
            JSON_HEADERS,
            b'{"Name": "arn:aws:cloudtrail:eu-west-1:111111111111:trail/t"}',
            "session-token/with+odd=chars",
        ),
        (
            "http://127.0.0.1:4566/",
            "127.0.0.1:4566",
            "sts",
            {"Content-Type": FORM, "X-Odd": "  two   spaces  "},
            QUERY_BODY,
            None,
        ),
        (
            "https://ec2.us-east-1.amazonaws.com/",
            "ec2.us-east-1.amazonaws.com",
            "ec2",
            {},
            b"",
            None,
        ),
    ],
)
def test_signature_matches_botocore(
    url: str, host: str, service: str, headers: dict[str, str], body: bytes, token: str | None
) -> None:
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    reference = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    SigV4Auth(creds, service, "eu-west-1").add_auth(reference)
    amz_date = reference.headers["X-Amz-Date"]

    ours = sigv4_headers(
        method="POST",
        host=host,
        path="/",
        body=body,
        headers=headers,
        access_key=creds.access_key,
        secret_key=creds.secret_key,
        token=token,
        region="eu-west-1",
        service=service,
        amz_date=amz_date,
    )
    assert ours["Authorization"] == reference.headers["Authorization"]
    assert ours["Host"] == host
    assert ours.get("X-Amz-Security-Token") == reference.headers.get("X-Amz-Security-Token")


def test_a_different_secret_or_body_changes_the_signature() -> None:
    args = {
        "method": "POST",
        "host": "h",
        "path": "/",
        "headers": {},
        "access_key": "AK",
        "token": None,
        "region": "us-east-1",
        "service": "cloudtrail",
        "amz_date": "20261201T000000Z",
    }
    base = sigv4_headers(body=b"{}", secret_key="a", **args)["Authorization"]
    assert sigv4_headers(body=b"{}", secret_key="b", **args)["Authorization"] != base
    assert sigv4_headers(body=b"{ }", secret_key="a", **args)["Authorization"] != base


def test_kept_signing_keys_follow_the_secret_the_day_and_the_region() -> None:
    from core.aws.clients import RequestCounter
    from core.aws.fast_call import FastCaller, derive_key

    caller = FastCaller(RequestCounter(), "ua")
    creds = Credentials("AK", "secret-1")
    first = caller._signing_key(creds, "secret-1", "20261201", "us-east-1", "cloudtrail")
    assert first == derive_key("secret-1", "20261201", "us-east-1", "cloudtrail")
    assert caller._signing_key(creds, "secret-1", "20261201", "us-east-1", "cloudtrail") is first
    for secret, day, region in (
        ("secret-2", "20261201", "us-east-1"),  # renewed credentials
        ("secret-2", "20261202", "us-east-1"),  # the next day
        ("secret-2", "20261202", "eu-west-1"),
    ):
        got = caller._signing_key(creds, secret, day, region, "cloudtrail")
        assert got == derive_key(secret, day, region, "cloudtrail")
    # Only the current secret and day are kept, per credentials object.
    assert list(caller._keys[creds][2]) == [
        ("us-east-1", "cloudtrail"),
        ("eu-west-1", "cloudtrail"),
    ]
    del creds
    assert len(caller._keys) == 0, "dropped with the credentials"


@pytest.mark.parametrize("fast", [True, False])
def test_the_setting_reaches_every_pool(fast: bool) -> None:
    from aiobotocore.config import AioConfig

    from core.engine.sweep import Engine
    from core.settings import load_settings

    settings, _ = load_settings(None, {"poll": {"fast_reads": fast}})
    collector = Engine(settings).collector
    assert collector.pool.fast_reads is fast
    assert collector.derived_pool(AioConfig()).fast_reads is fast


class _Captured(Exception):
    """Raised by the test's before-send hook once the SDK has signed: nothing is sent."""


@pytest.mark.parametrize(
    ("setting", "region"),
    [("legacy", "eu-west-1"), ("regional", "eu-west-1"), ("regional", "aws-global")],
)
async def test_sts_is_signed_for_the_region_the_sdk_signs_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, setting: str, region: str
) -> None:
    """STS's global endpoint signs for us-east-1 whatever the client's region: the fast
    path leaves it to the SDK, and signs a regional endpoint as the SDK does."""
    from core.aws.clients import RequestCounter, new_session
    from core.aws.fast_call import FastCaller

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_STS_REGIONAL_ENDPOINTS", setting)
    session = new_session()
    async with session.create_client(
        "sts", region_name=region, aws_access_key_id="AKID", aws_secret_access_key="secret"
    ) as client:
        seen: dict[str, str] = {}

        def capture(request: Any, **_: Any) -> None:
            seen["auth"] = request.headers["Authorization"].decode()
            raise _Captured

        client.meta.events.register_first("before-send", capture)
        with pytest.raises(_Captured):
            await client.get_caller_identity()
        sdk_region = seen["auth"].split("Credential=")[1].split("/")[2]
        route = FastCaller(RequestCounter(), "ua")._route(client)
        if "sts.amazonaws.com" in client.meta.endpoint_url:
            assert route is None  # the global endpoint: the SDK makes the call
        else:
            assert route is not None and route.region == sdk_region
