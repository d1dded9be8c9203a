"""core/util: ARNs, times and the one sanitiser, on the shapes AWS and attackers produce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.util.arn import Arn, account_of, log_group_name, partition_of, region_of
from core.util.text import JSON_RAW, plain
from core.util.times import iso, parse_time


@pytest.mark.parametrize(
    ("arn", "partition", "service", "region", "account", "leaf"),
    [
        ("arn:aws:cloudtrail:us-east-1:111111111111:trail/main", "aws", "cloudtrail",
         "us-east-1", "111111111111", "main"),
        ("arn:aws-us-gov:kms:us-gov-west-1:222222222222:key/0f6b-4a52", "aws-us-gov", "kms",
         "us-gov-west-1", "222222222222", "0f6b-4a52"),
        ("arn:aws-cn:sns:cn-north-1:333333333333:trail-notify", "aws-cn", "sns", "cn-north-1",
         "333333333333", "trail-notify"),
        ("arn:aws:iam::444444444444:role/service/CloudTrailToCW", "aws", "iam", "",
         "444444444444", "CloudTrailToCW"),
        ("arn:aws:s3:::audit-bucket", "aws", "s3", "", "", "audit-bucket"),
    ],
)  # fmt: skip
def test_arn_fields_come_from_the_arn(
    arn: str, partition: str, service: str, region: str, account: str, leaf: str
) -> None:
    a = Arn.parse(arn)
    assert (a.partition, a.service, a.region, a.account, a.leaf) == (
        partition,
        service,
        region,
        account,
        leaf,
    )
    assert str(a) == arn
    assert partition_of(arn) == partition and account_of(arn) == account


@pytest.mark.parametrize("bad", ["", None, "main", "arn:aws:s3", "urn:aws:s3:::b:c", "a:b:c:d:e:f"])
def test_malformed_arns_give_empty_fields_never_an_exception(bad: str | None) -> None:
    a = Arn.parse(bad)
    assert not a.valid and a.account == "" and str(a) == ""
    assert region_of(bad, "eu-west-1") == "eu-west-1"
    assert partition_of(bad) == "aws"


def test_log_group_names() -> None:
    arn = "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/cloudtrail/main:*"
    assert log_group_name(arn) == "/aws/cloudtrail/main"
    assert log_group_name(arn[:-2]) == "/aws/cloudtrail/main"
    assert log_group_name("/already/a/name") == "/already/a/name"


def test_parse_time_accepts_every_shape_and_returns_aware_utc() -> None:
    t = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    plus2 = timezone(timedelta(hours=2))
    for value in (
        t,
        t.replace(tzinfo=None),
        t.astimezone(plus2),
        "2026-11-27T18:00:00Z",
        "2026-11-27T20:00:00+02:00",
        t.timestamp(),
        int(t.timestamp()),
    ):
        got = parse_time(value)
        assert got == t and got is not None and got.utcoffset() == timedelta(0), value
    for junk in (None, "", "yesterday", True, object()):
        assert parse_time(junk) is None


def test_iso_is_utc_to_the_second() -> None:
    t = datetime(2026, 11, 27, 20, 0, 5, 999, tzinfo=timezone(timedelta(hours=2)))
    assert iso(t) == "2026-11-27T18:00:05Z"
    assert iso(None) is None


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),  # ESC: a screen clear, shown not obeyed
        ("x\x9by", "x\\x9by"),  # C1 CSI
        ("r\u202eevil", "r\\u202eevil"),  # bidi override
        ("tab\there", "tab\\x09here"),
        ("line\nbreak", "line\\x0abreak"),
        ("[bold]not markup[/]", "[bold]not markup[/]"),  # markup is literal text here
    ],
)
def test_plain_escapes_controls_visibly(raw: str, shown: str) -> None:
    assert plain(raw) == shown


def test_plain_multiline_keeps_newlines_only_and_truncates() -> None:
    assert plain("a\nb\x1bc", multiline=True) == "a\nb\\x1bc"
    assert plain("x" * 50, max_len=10) == "x" * 9 + "…"
    assert plain(None) == ""


def test_json_raw_covers_what_json_leaves_unescaped() -> None:
    for c in (0x7F, 0x9B, 0x202E, 0x2028, 0xFEFF):
        assert chr(c).translate(JSON_RAW) == f"\\u{c:04x}"
