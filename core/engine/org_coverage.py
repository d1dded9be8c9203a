"""Organization trails read once, from their reader: who they cover, and what it covers.

An organization trail logs every account of its Organization (CloudTrail User Guide,
"Creating a trail for an organization"). trailtop reads its status once per region from
its reader: the account that owns it (the management account) when trailtop reaches it,
else a CloudTrail delegated administrator it reaches, which "can perform the same
administrative tasks (except as noted) in CloudTrail as the management account"
(CloudTrail User Guide, "Organization delegated administrator"). A member's copy of it is
then not a view of its own; these pure functions say who reads each trail, which accounts
it covers, and carry the reader's verdict over to the members' region coverage. Plain
data in, plain data out: tested without AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from core.judge.evaluate import view_covers_region
from core.model import OrgCoverage, State, TrailConfig, TrailView

Trails = Mapping[tuple[str, str], Sequence[TrailConfig]]
#: The reader of each management account's organization trails: management -> reader.
Readers = Mapping[str, str]


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


def trail_readers(reached: Sequence[str], admins: Mapping[str, frozenset[str]]) -> dict[str, str]:
    """Who reads the organization trails of each management account: the management
    account itself when reached; else the first reached CloudTrail delegated administrator
    (`admins`: management account -> administrators, as Organizations lists them). An
    owner absent from the result has no reader: its members' copies stay views."""
    out = {a: a for a in reached}
    ids = set(reached)
    for management, admin_ids in admins.items():
        if management not in ids:
            chosen = sorted(admin_ids & ids)
            if chosen:
                out[management] = chosen[0]
    return out


def read_elsewhere(readers: Readers, account_id: str) -> Callable[[TrailConfig], bool]:
    """Whether a trail seen from `account_id` is a copy of an organization trail that its
    reader (another account trailtop reaches) speaks for: not a view of this account,
    whose coverage the reader's views carry."""

    def collapse(cfg: TrailConfig) -> bool:
        if not cfg.organization_trail:
            return False
        reader = readers.get(cfg.owner_account)
        return reader is not None and reader != account_id

    return collapse


def reads_trail(readers: Readers, account_id: str, cfg: TrailConfig) -> bool:
    """Whether `account_id`'s views of this organization trail carry its status."""
    return cfg.organization_trail and readers.get(cfg.owner_account) == account_id


def administers(readers: Readers, account_id: str, cfg: TrailConfig) -> bool:
    """Whether `account_id` reads this organization trail without owning it: a CloudTrail
    delegated administrator, judged, diagnosed and offered plans as the owner would be."""
    return reads_trail(readers, account_id, cfg) and account_id != cfg.owner_account


def _own_org_trails(a: _Reached, trails: Trails, readers: Readers) -> dict[str, TrailConfig]:
    return {
        c.arn: c
        for r in a.regions
        for c in trails.get((a.account_id, r), ())
        if reads_trail(readers, a.account_id, c)
    }


def _listing(
    owner: str, reader: str, listings: Mapping[str, Mapping[str, str]]
) -> Mapping[str, str]:
    """The Organization listing of the trail's Organization: the reader's own, else one
    that names the owner (another profile's account listed it)."""
    if reader in listings:
        return listings[reader]
    return next((m for _by, m in sorted(listings.items()) if owner in m), {})


def org_coverages(
    accounts: Sequence[_Reached],
    failures: Sequence[_Failed],
    trails: Trails,
    collapsed: Mapping[str, frozenset[str]],
    listings: Mapping[str, Mapping[str, str]],
    org_ids: Mapping[str, str | None],
    readers: Readers,
) -> dict[str, OrgCoverage]:
    """Each organization trail read from its reader, with the accounts it logs: the
    Organization listing, plus every account that showed the trail (`collapsed`), plus
    its owner; those trailtop cannot reach are named with the reason."""
    reached = {a.account_id for a in accounts}
    failed = {e.account_id: e.reason for e in failures if e.account_id}
    seen_from: dict[str, set[str]] = {}
    for acct_id, arns in collapsed.items():
        if acct_id in reached:
            for arn in arns:
                seen_from.setdefault(arn, set()).add(acct_id)
    out: dict[str, OrgCoverage] = {}
    for a in accounts:
        for cfg in _own_org_trails(a, trails, readers).values():
            owner = cfg.owner_account
            listing = _listing(owner, a.account_id, listings)
            covered = sorted(
                set(listing) | seen_from.get(cfg.arn, set()) | {a.account_id, owner} - {""}
            )
            out[cfg.arn] = OrgCoverage(
                trail_arn=cfg.arn,
                organization_id=org_ids.get(owner) or org_ids.get(a.account_id) or a.org_id,
                read_from=a.account_id,
                owner_account=owner,
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
    readers: Readers,
) -> set[tuple[str, str]]:
    """(account, region) pairs that an organization trail read from its reader covers by
    configuration (whether it logs there is the reader's view's to say). An account that
    showed an organization trail with a reached reader is covered in all its regions even
    when the reader's trails could not be read this time: its coverage is then unknown,
    not missing (see `unknown_org_coverage`)."""
    out: set[tuple[str, str]] = set()
    by_id = {a.account_id: a for a in accounts}
    for acct_id, arns in collapsed.items():
        if arns and acct_id in by_id:
            out.update((acct_id, r) for r in by_id[acct_id].regions)
    for a in accounts:
        org_trails = _own_org_trails(a, trails, readers)
        if not org_trails:
            continue
        own = set(org_trails)
        members: set[str] = set()
        for c in org_trails.values():
            members |= set(_listing(c.owner_account, a.account_id, listings))
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
    """A member covered by an organization trail read from its reader is covered where the
    reader's view of that trail says the trail logs; unknown where that view is unknown
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
    """An account whose copy of an organization trail was left to its reader, when no view
    of the reader carries that trail (the reader's trails could not be read): no claim about
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
