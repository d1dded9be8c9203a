"""Organization trails read once, from their owner: who they cover, and what that covers.

An organization trail logs every account of its Organization (CloudTrail User Guide,
"Creating a trail for an organization"). trailtop reads its status once per region from
the account that owns it, so a member's copy of it is not a view of its own; these pure
functions say which accounts such a trail covers, and carry the owner's verdict over to
the members' region coverage. Plain data in, plain data out: tested without AWS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from core.judge.evaluate import view_covers_region
from core.model import OrgCoverage, State, TrailConfig, TrailView

Trails = Mapping[tuple[str, str], Sequence[TrailConfig]]


class _Reached(Protocol):
    """What is needed of a reached account (core.aws.collect.Account)."""

    @property
    def account_id(self) -> str: ...
    @property
    def regions(self) -> list[str]: ...
    @property
    def org_id(self) -> str | None: ...


class _Failed(Protocol):
    """What is needed of a target that could not be reached (core.aws.collect.TargetError)."""

    @property
    def account_id(self) -> str | None: ...
    @property
    def reason(self) -> str: ...


def _own_org_trails(a: _Reached, trails: Trails) -> dict[str, TrailConfig]:
    return {
        c.arn: c
        for r in a.regions
        for c in trails.get((a.account_id, r), ())
        if c.organization_trail and c.owner_account == a.account_id
    }


def org_coverages(
    accounts: Sequence[_Reached],
    failures: Sequence[_Failed],
    trails: Trails,
    collapsed: Mapping[str, frozenset[str]],
    listings: Mapping[str, Mapping[str, str]],
    org_ids: Mapping[str, str | None],
) -> dict[str, OrgCoverage]:
    """Each organization trail read from its owner, with the accounts it logs: the
    owner's Organization listing, plus every account that showed the trail (`collapsed`);
    those trailtop cannot reach are named with the reason."""
    reached = {a.account_id for a in accounts}
    failed = {e.account_id: e.reason for e in failures if e.account_id}
    seen_from: dict[str, set[str]] = {}
    for acct_id, arns in collapsed.items():
        if acct_id in reached:
            for arn in arns:
                seen_from.setdefault(arn, set()).add(acct_id)
    out: dict[str, OrgCoverage] = {}
    for a in accounts:
        for cfg in _own_org_trails(a, trails).values():
            listing = listings.get(a.account_id, {})
            covered = sorted(set(listing) | seen_from.get(cfg.arn, set()) | {a.account_id})
            out[cfg.arn] = OrgCoverage(
                trail_arn=cfg.arn,
                organization_id=org_ids.get(a.account_id) or a.org_id,
                read_from=a.account_id,
                accounts=tuple(covered),
                unreachable={x: failed.get(x, "not reached") for x in covered if x not in reached},
                names={x: name for x, name in listing.items() if name},
            )
    return out


def org_covered_pairs(
    accounts: Sequence[_Reached],
    trails: Trails,
    collapsed: Mapping[str, frozenset[str]],
    listings: Mapping[str, Mapping[str, str]],
) -> set[tuple[str, str]]:
    """(account, region) pairs that an organization trail read from its owner covers by
    configuration (whether it logs there is the owner's view's to say). An account that
    showed an organization trail of a reached owner is covered in all its regions even
    when the owner's trails could not be read this time: its coverage is then unknown, not
    missing (see `unknown_org_coverage`)."""
    out: set[tuple[str, str]] = set()
    by_id = {a.account_id: a for a in accounts}
    for acct_id, arns in collapsed.items():
        if arns and acct_id in by_id:
            out.update((acct_id, r) for r in by_id[acct_id].regions)
    for a in accounts:
        org_trails = _own_org_trails(a, trails)
        if not org_trails:
            continue
        own = set(org_trails)
        members = set(listings.get(a.account_id, {}))
        members |= {x for x, arns in collapsed.items() if not arns.isdisjoint(own)}
        for m in members & set(by_id):
            for c in org_trails.values():
                for r in by_id[m].regions if c.multi_region else [c.home_region]:
                    out.add((m, r))
    return out


def apply_org_coverage(
    views: Sequence[TrailView],
    enabled: Mapping[str, Sequence[str]],
    logging_: dict[tuple[str, str], bool | None],
) -> None:
    """A member covered by an organization trail read from its owner is covered where the
    owner's view of that trail says the trail logs; unknown where that view is unknown
    (no claim is made either way). `logging_` is updated in place."""
    regions_of: dict[str, frozenset[str]] | None = None
    for v in views:
        cov = v.org_coverage
        if cov is None:
            continue
        verdict: bool | None
        if v.state is State.UNKNOWN and v.status is None:
            verdict = None
        else:
            verdict = view_covers_region(v.status, v.findings)
        if verdict is False:
            continue  # no claim is carried over from a trail that does not log
        if regions_of is None:
            regions_of = {m: frozenset(rs) for m, rs in enabled.items()}
        region, owner = v.key.region, v.key.account_id
        for member in cov.accounts:
            if member == owner or region not in regions_of.get(member, ()):
                continue
            k = (member, region)
            if logging_.get(k) is not True:
                logging_[k] = verdict


def unknown_org_coverage(
    views: Sequence[TrailView],
    accounts: Sequence[_Reached],
    collapsed: Mapping[str, frozenset[str]],
    logging_: dict[tuple[str, str], bool | None],
) -> None:
    """An account whose copy of an organization trail was left to its owner, when no view
    of the owner carries that trail (the owner's trails could not be read): no claim about
    its regions, rather than "not covered" everywhere. `logging_` is updated in place."""
    carried = {v.org_coverage.trail_arn for v in views if v.org_coverage is not None}
    for a in accounts:
        if collapsed.get(a.account_id, frozenset()) - carried:
            for r in a.regions:
                if logging_.get((a.account_id, r)) is not True:
                    logging_[(a.account_id, r)] = None


def organization_trails(views: Sequence[TrailView]) -> tuple[OrgCoverage, ...]:
    """Each organization trail the views carry, once (its views share one OrgCoverage)."""
    return tuple(
        {v.org_coverage.trail_arn: v.org_coverage for v in views if v.org_coverage}.values()
    )
