"""The canned endpoint's request key: the same question asked twice is one key."""

from __future__ import annotations

from bench.canned import credential_scope, operation, request_key

AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20240102/eu-west-1/cloudtrail/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc"
)
JSON = {"Content-Type": "application/x-amz-json-1.1", "Authorization": AUTH}


def _json(target: str, body: bytes, **headers: str) -> tuple[str, ...]:
    h = {**JSON, "X-Amz-Target": f"CloudTrail_20131101.{target}", **headers}
    return request_key("POST", "/", "", h, body)


def test_scope_and_operation_come_from_the_signature_and_target() -> None:
    assert credential_scope(AUTH) == ("AKIAEXAMPLE", "eu-west-1", "cloudtrail")
    assert credential_scope("") == ("", "", "")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert operation("POST", "/", form, b"Action=AssumeRole&Version=2011-06-15") == "AssumeRole"
    assert operation("GET", "/bucket", {}, b"") == "GET /bucket"


def test_signature_date_and_time_window_do_not_change_the_key() -> None:
    a = _json("LookupEvents", b'{"StartTime": 1, "MaxResults": 50}', **{"X-Amz-Date": "1"})
    b = _json("LookupEvents", b'{"MaxResults": 50, "StartTime": 2}', **{"X-Amz-Date": "2"})
    assert a == b


def test_region_key_and_arguments_do_change_the_key() -> None:
    base = _json("GetTrailStatus", b'{"Name": "t1"}')
    assert _json("GetTrailStatus", b'{"Name": "t2"}') != base
    other_region = {**JSON, "Authorization": AUTH.replace("eu-west-1", "us-east-1")}
    assert request_key("POST", "/", "", {**other_region, "X-Amz-Target": "x.GetTrailStatus"},
                       b'{"Name": "t1"}') != base  # fmt: skip
    assert _json("DescribeTrails", b'{"Name": "t1"}') != base
