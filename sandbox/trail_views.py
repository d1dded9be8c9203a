"""Which trails an account sees in a region, and how a name or ARN resolves, as in AWS.

moto resolves a bare name for a shadow trail and does not show organization trails to member
accounts. Real CloudTrail needs the ARN for shadows and shows the organization's trail in
every member account; trailtop is built against the real behaviour, so the sandbox is too.
"""

from __future__ import annotations

from typing import Any

from moto.cloudtrail.models import Trail, cloudtrail_backends

from .destinations import org_of, trails_of


def _org_trails_for_member(account: str) -> list[Trail]:
    org = org_of(account)
    if org is None or org[1] == account:
        return []
    return [t for t in trails_of(org[1]) if t.is_org_trail]


def visible_trails(account: str, region: str, include_shadows: bool = True) -> list[Trail]:
    """Trails DescribeTrails lists for this account in this region."""
    own = list(cloudtrail_backends[account][region].trails.values())
    if not include_shadows:
        return own
    shadows = [t for t in trails_of(account) if t.region_name != region and t.is_multi_region]
    members = [
        t for t in _org_trails_for_member(account) if t.region_name == region or t.is_multi_region
    ]
    return own + shadows + members


def account_trails(account: str) -> list[Trail]:
    """Every trail ListTrails lists for an account, whichever region is called: its own in
    every region (a multi-region trail once, by its home region) and the organization
    trails of its organization's management account (once each), ordered by ARN."""
    found = {t.arn: t for t in trails_of(account)}
    for trail in _org_trails_for_member(account):
        found.setdefault(trail.arn, trail)
    return [found[arn] for arn in sorted(found)]


def resolve(account: str, region: str, name: str) -> Trail | None:
    """A trail by ARN (any visible view) or by bare name (home region, own trails only)."""
    if name.startswith("arn:"):
        return next((t for t in visible_trails(account, region) if t.arn == name), None)
    return cloudtrail_backends[account][region].trails.get(name)


def not_found_message(account: str, region: str, name: str) -> str:
    arn = name if name.startswith("arn:") else f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"
    return f"Unknown trail: {arn} for the user: {account}"


def describe(trail: Trail) -> dict[str, Any]:
    """DescribeTrails' entry for a trail, with AWS's habit of omitting empty fields."""
    desc: dict[str, Any] = trail.description(include_region=True)
    desc["HasCustomEventSelectors"] = bool(trail.event_selectors or trail.advanced_event_selectors)
    desc["HasInsightSelectors"] = bool(trail.insight_selectors)
    if not trail.sns_topic_name:
        desc.pop("SnsTopicName", None)
        desc.pop("SnsTopicARN", None)
    elif str(trail.sns_topic_name).startswith("arn:"):
        desc["SnsTopicARN"] = trail.sns_topic_name
        desc["SnsTopicName"] = str(trail.sns_topic_name).rsplit(":", 1)[-1]
    return {k: v for k, v in desc.items() if v is not None and v != ""}
