"""The per-shape converters give botocore's own parser's answer, shape by shape, for every
operation of the JSON-protocol services trailtop reads on its fast path."""

from __future__ import annotations

import base64
import json
from typing import Any

import botocore.session
import pytest
from botocore.parsers import DEFAULT_TIMESTAMP_PARSER, JSONParser
from botocore.utils import parse_timestamp

from core.aws.json_shapes import converter, epoch_timestamps

SERVICES = ("cloudtrail", "kms", "logs")


def sample(shape: Any, variant: int, depth: int = 0) -> Any:
    """A wire value for `shape` (member names as the wire spells them); `variant` changes
    which optional members are present, the list sizes and the timestamps' forms."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 6:
            return {}
        out: dict[str, Any] = {}
        for i, (name, member) in enumerate(shape.members.items()):
            if (i + variant) % 3 == 2:
                continue  # absent
            wire = member.serialization.get("name", name)
            out[wire] = None if (i + variant) % 5 == 4 else sample(member, variant, depth + 1)
        out["NotInTheModel"] = "ignored"
        return out
    if kind == "list":
        items = [sample(shape.member, variant + k, depth + 1) for k in range(variant % 3)]
        return items + [None] if variant % 2 else items
    if kind == "map":
        return {f"k{k}": sample(shape.value, variant, depth + 1) for k in range(2)}
    if kind == "timestamp":
        return ["2026-03-01T12:34:56Z", 1767225600.25, 1767225600, "1767225601"][variant % 4]
    if kind == "boolean":
        return variant % 2 == 0
    if kind in ("integer", "long"):
        return 7 + variant
    if kind in ("float", "double"):
        return 1.5 + variant
    if kind == "blob":
        return base64.b64encode(b"blob").decode()
    return f"text-{variant}-<b>[red]"


def _operations() -> list[tuple[str, str]]:
    session = botocore.session.get_session()
    out = []
    for service in SERVICES:
        model = session.get_service_model(service)
        out += [(service, op) for op in model.operation_names]
    return out


@pytest.mark.parametrize("variant", range(6))
def test_every_converter_answers_what_botocore_parses(variant: int) -> None:
    session = botocore.session.get_session()
    parser = JSONParser()
    built = 0
    for service, op in _operations():
        shape = session.get_service_model(service).operation_model(op).output_shape
        if shape is None:
            continue
        conv = converter(shape, parse_timestamp)
        if conv is None:
            continue
        built += 1
        wire = sample(shape, variant)
        body = json.dumps(wire).encode()
        theirs = parser._handle_json_body(body, shape)
        assert conv(json.loads(body)) == theirs, f"{service} {op}"
    assert built > 50, "converters were built for most operations"


def test_the_fast_paths_operations_all_get_a_converter() -> None:
    session = botocore.session.get_session()
    model = session.get_service_model("cloudtrail")
    for op in ("GetTrailStatus", "DescribeTrails", "ListTrails", "GetEventSelectors"):
        assert converter(model.operation_model(op).output_shape, parse_timestamp) is not None, op


def test_blobs_and_documents_are_left_to_botocore() -> None:
    session = botocore.session.get_session()
    kms = session.get_service_model("kms")
    # Encrypt's output holds a blob (CiphertextBlob).
    assert converter(kms.operation_model("Encrypt").output_shape, parse_timestamp) is None


@pytest.mark.parametrize(
    "value",
    [1767225600.5, 1767225600, 0, True, "1767225601", "2026-03-01T12:34:56Z", 1e20],
)
def test_epoch_timestamps_are_the_default_parsers_datetimes(value: Any) -> None:
    stamp = epoch_timestamps(DEFAULT_TIMESTAMP_PARSER)
    assert stamp is not DEFAULT_TIMESTAMP_PARSER, "the default parser gets the faster path"
    try:
        theirs = parse_timestamp(value)
    except (ValueError, RuntimeError) as exc:
        with pytest.raises(type(exc)):
            stamp(value)
        return
    ours = stamp(value)
    assert ours == theirs
    assert ours.utcoffset() == theirs.utcoffset()
    assert ours.isoformat() == theirs.isoformat()


def test_a_custom_timestamp_parser_is_used_as_it_is() -> None:
    def custom(value: Any) -> Any:
        return ("custom", value)

    assert epoch_timestamps(custom) is custom
    session = botocore.session.get_session()
    shape = session.get_service_model("cloudtrail").operation_model("GetTrailStatus").output_shape
    conv = converter(shape, custom)
    assert conv is not None
    assert conv({"LatestDeliveryTime": 5})["LatestDeliveryTime"] == ("custom", 5)


@pytest.mark.parametrize("wire", [[1, 2], "text", 3])
def test_an_answer_of_the_wrong_kind_is_refused(wire: Any) -> None:
    from core.aws.json_shapes import Unsupported

    session = botocore.session.get_session()
    shape = session.get_service_model("cloudtrail").operation_model("DescribeTrails").output_shape
    conv = converter(shape, parse_timestamp)
    assert conv is not None
    with pytest.raises(Unsupported):
        conv(wire)
    with pytest.raises(Unsupported):
        conv({"trailList": wire})


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "Europe/Berlin", "America/New_York"])
def test_epoch_timestamps_match_in_every_kind_of_local_zone(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        stamp = epoch_timestamps(DEFAULT_TIMESTAMP_PARSER)
        # Winter and summer, around a daylight saving change, and an old date.
        for value in (1767225600.5, 1782864000, 1774746000, 1774749600.25, 86400):
            ours, theirs = stamp(value), parse_timestamp(value)
            assert (ours, ours.utcoffset(), ours.isoformat()) == (
                theirs,
                theirs.utcoffset(),
                theirs.isoformat(),
            ), (zone, value)
    finally:
        monkeypatch.undo()
        time.tzset()
