"""JSON-protocol answers turned into the SDK's dicts by a converter built once per shape.

Why: botocore's JSON parser walks the output shape for every answer, looking up a handler
per member by name; for a GetTrailStatus that walk, and parsing its timestamps again, cost
more CPU than sending the request. `converter(shape, timestamp_parser)` builds, once, a
function doing what `botocore.parsers.BaseJSONParser` does for that shape: members read by
their wire name, absent or null members left out, lists kept sparse, timestamps through the
client's own timestamp parser. Shapes holding anything else (blobs, documents, unions,
event streams, JSON-value strings) get no converter, and the SDK's parser is used.
The unit tests compare the result with botocore's parser answer by answer.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, Final

from botocore.parsers import DEFAULT_TIMESTAMP_PARSER
from botocore.utils import get_tzinfo_options
from dateutil.tz import tzlocal

Convert = Callable[[Any], Any]

#: Types the JSON parser returns as they came off the wire.
_AS_IS: Final = frozenset({"string", "boolean", "integer", "long", "float", "double", "byte"})


class Unsupported(Exception):
    """This answer does not fit the converter: parse it with the SDK."""


def converter(shape: Any, timestamp_parser: Callable[[Any], Any]) -> Convert | None:
    """A function from `json.loads` output to the SDK's parsed dict, or None."""
    try:
        return _build(shape, epoch_timestamps(timestamp_parser), ())
    except Unsupported:
        return None


def epoch_timestamps(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`parse`, or where it is botocore's default parser, the same for epoch numbers (what
    the JSON protocol sends) with one local time zone object instead of a new one per
    value: the default parser answers `datetime.fromtimestamp(value, tzlocal())`, and
    building that `tzlocal` was most of a GetTrailStatus answer's parsing. The datetimes
    are equal, with the same offset; anything else goes to `parse`."""
    if parse is not DEFAULT_TIMESTAMP_PARSER or tuple(get_tzinfo_options()) != (tzlocal,):
        return parse
    local = tzlocal()
    # A zone without daylight saving time (a server's UTC, typically) is a fixed offset:
    # dateutil's tzlocal.fromutc then adds that offset and nothing else.
    fixed = None if getattr(local, "_hasdst", True) else local.utcoffset(None)
    utc = datetime.UTC

    def stamp(value: Any) -> Any:
        if isinstance(value, (int, float)):
            try:
                if fixed is not None:
                    wall = datetime.datetime.fromtimestamp(value, utc) + fixed
                    return wall.replace(tzinfo=local)
                return datetime.datetime.fromtimestamp(value, local)
            except (OSError, OverflowError, ValueError):
                pass
        return parse(value)

    return stamp


def _build(shape: Any, stamp: Convert, stack: tuple[str, ...]) -> Convert | None:
    """None means 'as is'; raises Unsupported for a shape the converter does not do."""
    kind = shape.type_name
    if kind in _AS_IS:
        if kind == "string" and shape.serialization.get("jsonvalue"):
            raise Unsupported
        return None
    if kind == "timestamp":
        return stamp
    if shape.name in stack:
        raise Unsupported  # a recursive shape: the SDK's parser walks it
    inner = (*stack, shape.name)
    if kind == "list":
        item = _build(shape.member, stamp, inner)
        if item is None:
            return _plain_list
        return lambda v: [None if x is None else item(x) for x in _is(v, list)]
    if kind == "map":
        if _build(shape.key, stamp, inner) is not None:
            raise Unsupported
        val = _build(shape.value, stamp, inner)
        if val is None:
            return lambda v: dict(_is(v, dict))
        return lambda v: {k: val(x) for k, x in _is(v, dict).items()}
    if kind == "structure":
        if (
            getattr(shape, "is_document_type", False)
            or getattr(shape, "is_tagged_union", False)
            or shape.serialization.get("eventstream")
            or getattr(shape, "event_stream_name", None)
        ):
            raise Unsupported
        members = [
            (str(m.serialization.get("name", name)), name, _build(m, stamp, inner))
            for name, m in shape.members.items()
        ]
        return lambda v: _structure(members, v)
    raise Unsupported


def _is(value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise Unsupported
    return value


def _plain_list(value: Any) -> list[Any]:
    return list(_is(value, list))


def _structure(members: list[tuple[str, str, Convert | None]], value: Any) -> Any:
    if value is None:
        return None
    get = _is(value, dict).get
    out: dict[str, Any] = {}
    for wire, name, conv in members:
        raw = get(wire)
        if raw is not None:
            out[name] = raw if conv is None else conv(raw)
    return out
