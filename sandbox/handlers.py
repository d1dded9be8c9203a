"""AWS operations the sandbox answers itself instead of moto (or corrects after moto).

GetTrailStatus (delivery emulation), LookupEvents (Event history), the trail listings that
must show organization trails to member accounts, GetEventSelectors (AWS's default selector
for a trail that never had one put, and shadow or organization trails by ARN), region
discovery, and CloudTrail's delegated administrator (sandbox/organizations.py).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .destinations import TrailRef, request_payment_xml
from .emulation import Emulation
from .organizations import (
    deregister_organization_delegated_admin,
    list_delegated_administrators_for_member,
    register_organization_delegated_admin,
)
from .protocol import CallInfo, WireResponse, error_response, json_response
from .regions import describe_regions_xml, list_regions
from .trail_views import account_trails, describe, not_found_message, resolve, visible_trails

Handler = Callable[[Emulation, CallInfo], WireResponse | None]
T = TypeVar("T")

#: Trails per ListTrails page (AWS documents no page size; 50 keeps paging exercised).
LIST_TRAILS_PAGE = 50
_TOKEN_PREFIX = "trails:"


def _trail_not_found(info: CallInfo, name: str) -> WireResponse:
    return error_response(
        "json", 400, "TrailNotFoundException", not_found_message(info.account, info.region, name)
    )


def _name_param(info: CallInfo) -> str | None:
    name = info.params.get("Name")
    return name if isinstance(name, str) and name else None


def get_trail_status(emu: Emulation, info: CallInfo) -> WireResponse | None:
    name = _name_param(info)
    if name is None or len(name) < 3:
        return None  # let moto produce its validation error
    trail = resolve(info.account, info.region, name)
    if trail is None:
        return _trail_not_found(info, name)
    ref = TrailRef(trail=trail, view_account=info.account, view_region=info.region)
    overrides = emu.faults.status_overrides(info.account, info.region, ref.arn)
    return json_response(emu.delivery.status(ref, overrides))


def get_trail(emu: Emulation, info: CallInfo) -> WireResponse | None:
    name = _name_param(info)
    if name is None or len(name) < 3:
        return None
    trail = resolve(info.account, info.region, name)
    if trail is None:
        return _trail_not_found(info, name)
    return json_response({"Trail": describe(trail)})


#: What GetEventSelectors answers for a trail created without selectors. AWS
#: (PutEventSelectors): "By default, trails created without specific event selectors are
#: configured to log all read and write management events, and no data events"; the
#: EventSelector reference gives the defaults (ReadWriteType All, IncludeManagementEvents
#: true). moto answers two empty lists instead.
DEFAULT_EVENT_SELECTOR: dict[str, Any] = {
    "ReadWriteType": "All",
    "IncludeManagementEvents": True,
    "DataResources": [],
    "ExcludeManagementEventSources": [],
}


def get_event_selectors(emu: Emulation, info: CallInfo) -> WireResponse | None:
    """A trail's selectors by name or ARN (any view of it, as for GetTrailStatus): the
    basic ones with their documented defaults, else the advanced ones, else AWS's default.
    moto keeps stale advanced selectors after basic ones are put (AWS keeps one kind), so
    basic selectors win when both are stored."""
    name = info.params.get("TrailName")
    if not isinstance(name, str) or len(name) < 3:
        return None
    trail = resolve(info.account, info.region, name)
    if trail is None:
        return _trail_not_found(info, name)
    answer: dict[str, Any] = {"TrailARN": trail.arn}
    basic = list(getattr(trail, "event_selectors", None) or [])
    advanced = list(getattr(trail, "advanced_event_selectors", None) or [])
    if basic:
        answer["EventSelectors"] = [{**DEFAULT_EVENT_SELECTOR, **s} for s in basic]
    elif advanced:
        answer["AdvancedEventSelectors"] = advanced
    else:
        answer["EventSelectors"] = [dict(DEFAULT_EVENT_SELECTOR)]
    return json_response(answer)


def describe_trails(emu: Emulation, info: CallInfo) -> WireResponse | None:
    include = info.params.get("includeShadowTrails", True)
    trails = visible_trails(info.account, info.region, include_shadows=bool(include))
    wanted = info.params.get("trailNameList") or []
    if wanted:
        trails = [
            t
            for t in trails
            if t.arn in wanted
            or (
                t.trail_name in wanted
                and t.region_name == info.region
                and t.account_id == info.account
            )
        ]
    return json_response({"trailList": [describe(t) for t in trails]})


class InvalidNextToken(ValueError):
    """A NextToken this server did not hand out."""


def page_of(items: Sequence[T], token: str | None, size: int) -> tuple[list[T], str | None]:
    """One page of ``items`` from an opaque token (None: the first page), with the token of
    the next page (None after the last). A token that is not one of ours raises; one past
    the end (trails deleted between pages) gives an empty last page."""
    offset = 0
    if token:
        try:
            text = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidNextToken(token) from None
        if not text.startswith(_TOKEN_PREFIX) or not text[len(_TOKEN_PREFIX) :].isdigit():
            raise InvalidNextToken(token)
        offset = int(text[len(_TOKEN_PREFIX) :])
        if offset <= 0:
            raise InvalidNextToken(token)
    end = offset + size
    following = (
        base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{end}".encode()).decode()
        if end < len(items)
        else None
    )
    return list(items[offset:end]), following


def list_trails(emu: Emulation, info: CallInfo) -> WireResponse | None:
    """Every trail of the calling account, in every region, plus the organization trails
    it sees as a member; the same answer from any regional endpoint, 50 per page.

    AWS CloudTrail API Reference, "ListTrails": "Lists trails that are in the current
    account", each with Name, TrailARN and HomeRegion, paged by NextToken
    (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_ListTrails.html).
    AWS does not document whether a regional endpoint filters the list; the sandbox answers
    the account-wide list. The page lists no error for a bad token; the sandbox answers
    CloudTrail's InvalidNextTokenException ("A token that is not valid ...").
    """
    token = info.params.get("NextToken")
    try:
        trails, following = page_of(
            account_trails(info.account), str(token) if token else None, LIST_TRAILS_PAGE
        )
    except InvalidNextToken:
        return error_response(
            "json", 400, "InvalidNextTokenException", "The NextToken is not valid."
        )
    answer: dict[str, Any] = {
        "Trails": [
            {"TrailARN": t.arn, "Name": t.trail_name, "HomeRegion": t.region_name} for t in trails
        ]
    }
    if following is not None:
        answer["NextToken"] = following
    return json_response(answer)


def lookup_events(emu: Emulation, info: CallInfo) -> WireResponse | None:
    if not emu.events.allow_lookup(info.account, info.region):
        return error_response("json", 400, "ThrottlingException", "Rate exceeded")
    try:
        return json_response(emu.events.lookup(info.account, info.region, info.params))
    except ValueError as err:
        code, message = err.args if len(err.args) == 2 else ("InvalidParameterException", str(err))
        return error_response("json", 400, code, message)


def describe_regions(emu: Emulation, info: CallInfo) -> WireResponse | None:
    body = describe_regions_xml(emu.regions.enabled(info.account), info.params)
    return WireResponse(
        200, body, [("Content-Type", "text/xml;charset=UTF-8"), ("Content-Length", str(len(body)))]
    )


def account_list_regions(emu: Emulation, info: CallInfo) -> WireResponse | None:
    payload = list_regions(emu.regions.enabled(info.account), info.params)
    body = json.dumps(payload).encode()
    return WireResponse(
        200, body, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )


def get_bucket_request_payment(emu: Emulation, info: CallInfo) -> WireResponse | None:
    """moto answers ``?requestPayment`` with an object listing; answer it as S3 does."""
    if not info.bucket:
        return None
    body = request_payment_xml(info.bucket)
    if body is None:
        return error_response("xml", 404, "NoSuchBucket", "The specified bucket does not exist")
    return WireResponse(
        200, body, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
    )


HANDLERS: dict[tuple[str, str], Handler] = {
    ("s3", "GetBucketRequestPayment"): get_bucket_request_payment,
    ("cloudtrail", "RegisterOrganizationDelegatedAdmin"): lambda emu, info: (
        register_organization_delegated_admin(info)
    ),
    ("cloudtrail", "DeregisterOrganizationDelegatedAdmin"): lambda emu, info: (
        deregister_organization_delegated_admin(info)
    ),
    ("organizations", "ListDelegatedAdministrators"): lambda emu, info: (
        list_delegated_administrators_for_member(info)
    ),
    ("cloudtrail", "GetTrailStatus"): get_trail_status,
    ("cloudtrail", "GetTrail"): get_trail,
    ("cloudtrail", "GetEventSelectors"): get_event_selectors,
    ("cloudtrail", "DescribeTrails"): describe_trails,
    ("cloudtrail", "ListTrails"): list_trails,
    ("cloudtrail", "LookupEvents"): lookup_events,
    ("ec2", "DescribeRegions"): describe_regions,
    ("account", "ListRegions"): account_list_regions,
}


def handler_for(info: CallInfo) -> Handler | None:
    return HANDLERS.get((info.service, info.operation))


def parse_json(body: bytes) -> dict[str, Any] | None:
    try:
        loaded = json.loads(body or b"null")
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None
