"""Organization trails read once from their reader (owner or delegated administrator):
coverage, from plain data."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.engine.org_coverage import (
    apply_org_coverage,
    org_coverages,
    org_covered_pairs,
    read_elsewhere,
    trail_readers,
)
from core.model import OrgCoverage, State, TrailConfig, TrailView, ViewKey

MGMT, A, B, C = "111111111111", "222222222222", "333333333333", "444444444444"
REGIONS = ["us-east-1", "eu-west-1"]
ORG = TrailConfig(
    name="org",
    arn=f"arn:aws:cloudtrail:us-east-1:{MGMT}:trail/org",
    home_region="us-east-1",
    multi_region=True,
    organization_trail=True,
)


@dataclass
class Acct:
    account_id: str
    regions: list[str] = field(default_factory=lambda: list(REGIONS))
    org_id: str | None = None


@dataclass
class Failure:
    account_id: str | None
    reason: str


def _trails() -> dict[tuple[str, str], list[TrailConfig]]:
    return {(MGMT, r): [ORG] for r in REGIONS} | {(a, r): [] for a in (A, B) for r in REGIONS}


def test_coverage_lists_the_listing_names_and_the_unreachable_with_their_reason() -> None:
    listing = {MGMT: "management", A: "alpha", B: "", C: "gamma"}
    cov = org_coverages(
        [Acct(MGMT), Acct(A), Acct(B)],
        [Failure(C, "assume role failed: AccessDenied")],
        _trails(),
        {A: frozenset({ORG.arn})},
        {MGMT: listing},
        {MGMT: "o-abc"},
        trail_readers([MGMT, A, B], {}),
    )[ORG.arn]
    assert cov.accounts == tuple(sorted(listing)) and cov.read_from == MGMT
    assert cov.organization_id == "o-abc"
    assert dict(cov.unreachable) == {C: "assume role failed: AccessDenied"}
    assert dict(cov.names) == {MGMT: "management", A: "alpha", C: "gamma"}


def test_without_a_listing_the_accounts_that_showed_the_trail_are_covered() -> None:
    cov = org_coverages(
        [Acct(MGMT), Acct(A), Acct(B)],
        [],
        _trails(),
        {A: frozenset({ORG.arn})},
        {},
        {},
        trail_readers([MGMT, A, B], {}),
    )[ORG.arn]
    assert cov.accounts == (MGMT, A) and not cov.unreachable


def test_a_single_region_org_trail_covers_its_home_region_only() -> None:
    single = TrailConfig(
        name="org1", arn=ORG.arn + "1", home_region="eu-west-1", organization_trail=True
    )
    trails = _trails() | {(MGMT, "eu-west-1"): [single], (MGMT, "us-east-1"): []}
    readers = trail_readers([MGMT, A], {})
    pairs = org_covered_pairs([Acct(MGMT), Acct(A)], trails, {}, {MGMT: {MGMT: "", A: ""}}, readers)
    assert pairs == {(A, "eu-west-1"), (MGMT, "eu-west-1")}


def _owner_view(region: str, logging: bool | None) -> TrailView:
    cov = OrgCoverage(ORG.arn, None, MGMT, (MGMT, A, B))
    status = None if logging is None else {"IsLogging": logging}
    return TrailView(
        key=ViewKey(MGMT, region, ORG.arn),
        profile=None,
        trail=ORG,
        status=status,
        findings=(),
        state=State.UNKNOWN if logging is None else State.OK,
        org_coverage=cov,
    )


def test_members_follow_the_owners_view_region_by_region() -> None:
    enabled = {MGMT: REGIONS, A: REGIONS, B: ["us-east-1"]}
    logging_: dict[tuple[str, str], bool | None] = {(A, "eu-west-1"): False}
    views = [_owner_view("us-east-1", True), _owner_view("eu-west-1", None)]
    apply_org_coverage(views, enabled, logging_)
    assert logging_[(A, "us-east-1")] is True and logging_[(B, "us-east-1")] is True
    # Unknown from the owner: no claim for the member either way.
    assert logging_[(A, "eu-west-1")] is None
    assert (B, "eu-west-1") not in logging_  # not an enabled region of B


def test_a_stopped_org_trail_leaves_members_uncovered() -> None:
    logging_: dict[tuple[str, str], bool | None] = {}
    apply_org_coverage([_owner_view("us-east-1", False)], {A: ["us-east-1"]}, logging_)
    assert logging_.get((A, "us-east-1"), False) is False


def test_a_member_whose_org_trail_owner_was_not_read_is_unknown_not_uncovered() -> None:
    from core.engine.org_coverage import unknown_org_coverage

    collapsed = {A: frozenset({ORG.arn})}
    # The owner's discovery failed: no view carries the trail. A is covered by
    # configuration (no confirming call) and its coverage is unknown.
    pairs = org_covered_pairs([Acct(MGMT), Acct(A)], {}, collapsed, {}, {MGMT: MGMT, A: A})
    assert {(A, r) for r in REGIONS} <= pairs
    logging_: dict[tuple[str, str], bool | None] = {(A, "us-east-1"): True}
    unknown_org_coverage([], [Acct(MGMT), Acct(A)], collapsed, logging_)
    assert logging_ == {(A, "us-east-1"): True, (A, "eu-west-1"): None}
    # Once a view of the owner carries it, nothing is overridden here.
    fresh: dict[tuple[str, str], bool | None] = {}
    unknown_org_coverage([_owner_view("us-east-1", True)], [Acct(A)], collapsed, fresh)
    assert fresh == {}


def test_the_owner_reads_its_trails_when_reached_else_a_reached_delegated_administrator() -> None:
    # Reached: the owner reads, whoever administers.
    assert trail_readers([MGMT, A, B], {MGMT: frozenset({B})})[MGMT] == MGMT
    # Not reached: the first reached administrator (by id), never an unreached one.
    assert trail_readers([A, B, C], {MGMT: frozenset({C, B})})[MGMT] == B
    assert MGMT not in trail_readers([A], {MGMT: frozenset({B})})
    assert MGMT not in trail_readers([A, B], {})


def test_members_copies_collapse_into_the_readers_but_the_reader_keeps_its_own() -> None:
    readers = trail_readers([A, B, C], {MGMT: frozenset({B})})
    assert read_elsewhere(readers, A)(ORG) and read_elsewhere(readers, C)(ORG)
    assert not read_elsewhere(readers, B)(ORG)
    # A member's own trail is never left to anyone.
    own = TrailConfig("own", f"arn:aws:cloudtrail:us-east-1:{A}:trail/own", "us-east-1")
    assert not read_elsewhere(readers, A)(own)
    # Nobody reads it: every copy stays a view (MANAGED_ELSEWHERE).
    assert not read_elsewhere(trail_readers([A, C], {}), A)(ORG)


def test_a_delegated_administrator_reads_the_trail_for_the_unreached_owner() -> None:
    trails = {(a, r): [ORG] for a in (A, B) for r in REGIONS}
    listing = {MGMT: "management", A: "alpha", B: "security"}
    readers = trail_readers([A, B], {MGMT: frozenset({B})})
    covs = org_coverages(
        [Acct(A), Acct(B)],
        [Failure(MGMT, "not configured")],
        trails,
        {A: frozenset({ORG.arn})},
        {B: listing},
        {},
        readers,
    )
    cov = covs[ORG.arn]
    assert cov.read_from == B and cov.read_as == "delegated_administrator"
    assert cov.accounts == (MGMT, A, B)
    assert dict(cov.unreachable) == {MGMT: "not configured"}
    # C, listed but never collapsed (its trails unread), is covered by the reader's trail;
    # with nobody reading it, it is not.
    c_pairs = {(C, r) for r in REGIONS}
    listed = {B: {MGMT: "", A: "", B: "", C: ""}}
    assert c_pairs <= org_covered_pairs([Acct(A), Acct(B), Acct(C)], trails, {}, listed, readers)
    nobody = trail_readers([A, B, C], {})
    assert not c_pairs & org_covered_pairs([Acct(A), Acct(B), Acct(C)], trails, {}, listed, nobody)


def test_a_listing_made_by_another_account_of_the_organization_is_used() -> None:
    readers = trail_readers([A, B], {MGMT: frozenset({B})})
    covs = org_coverages(
        [Acct(A), Acct(B)],
        [],
        {(B, r): [ORG] for r in REGIONS},
        {},
        {A: {MGMT: "", A: "", B: "", C: "gamma"}},
        {},
        readers,
    )
    assert covs[ORG.arn].accounts == (MGMT, A, B, C)
    assert covs[ORG.arn].read_as == "delegated_administrator"


def test_posture_is_said_by_the_reader_who_administers_not_by_a_member() -> None:
    from core.judge.evaluate import posture_findings

    key = ViewKey(B, "us-east-1", ORG.arn)
    assert posture_findings(ORG, key) == []  # validation off, but B is a plain member here
    said = {f.code for f in posture_findings(ORG, key, administers=True)}
    assert "LOG_FILE_VALIDATION_DISABLED" in said
    assert posture_findings(ORG, ViewKey(B, "eu-west-1", ORG.arn), administers=True) == []
