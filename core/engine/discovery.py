"""The describe phase of a sweep: which accounts are due, discovering one account, the
regions where nothing was found, and the first sweep's account-by-account reads.

A mixin of `Engine` (core/engine/sweep.py), which holds the state these methods keep:
the trails per account and region, when each was described, why a describe failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.aws.collect import Account, Collector, gather_settled
from core.aws.errors import describe_error, needs_sso_login
from core.engine.org_coverage import Readers, org_covered_pairs, read_elsewhere, trail_readers
from core.model import TrailConfig, ViewKey
from core.settings import Settings

log = logging.getLogger(__name__)

#: Seconds between two partial snapshots while the first sweep reads account by account.
FIRST_ROWS_EVERY = 1.0
Pair = tuple[Account, str]
#: An account and the regions of it a sweep (or a partial) speaks for.
Span = tuple[Account, Sequence[str]]
Planned = tuple[Account, ViewKey, TrailConfig]


@dataclass
class StatusRound:
    """What the status phase learned this sweep."""

    #: When the statuses were read: the `now` of judging too.
    now: datetime
    errors: dict[str, str] = field(default_factory=dict)
    #: The first error per (account, region), which the target row reports.
    region_errors: dict[tuple[str, str], str] = field(default_factory=dict)


def merge_round(into: StatusRound, more: StatusRound) -> None:
    into.now = max(into.now, more.now)
    into.errors.update(more.errors)
    for k, v in more.region_errors.items():
        into.region_errors.setdefault(k, v)


class DiscoveryPhase:
    """Discovery's methods; the state is the Engine's (declared here for the type checker)."""

    settings: Settings
    accounts: list[Account]
    trails: dict[tuple[str, str], list[TrailConfig]]
    described_at: dict[tuple[str, str], int]
    describe_errors: dict[tuple[str, str], str]
    collapsed: dict[str, frozenset[str]]
    _force_describe: set[tuple[str, str]]
    _sso_login: set[str]
    clock: Callable[[], datetime]

    @property
    def collector(self) -> Collector:
        raise NotImplementedError

    def readers(self) -> Readers:
        """Who reads each management account's organization trails (core/engine/org_coverage.py)."""
        return trail_readers([a.account_id for a in self.accounts], self.collector.trail_admins)

    def _say(self, what: str) -> None:
        raise NotImplementedError

    async def _read_statuses(self, planned: list[Planned], n: int) -> StatusRound:
        raise NotImplementedError

    async def _describe(self, n: int, force_all: bool) -> int:
        """Discover the trails of every account with a region due; returns the calls made.

        An account is discovered as a whole (ListTrails, then DescribeTrails per home
        Region: core/aws/collect.py `Collector.discover`), so one due region re-reads the
        account. An organization trail seen from a member whose reader trailtop reaches (the
        owner, or a CloudTrail delegated administrator) is not a view of the member: the
        reader's views carry it, with its coverage.
        """
        every = self.settings.poll.describe_every_sweeps

        trails, described_at, forced = self.trails, self.described_at, self._force_describe
        errors, read_before = self.describe_errors, n - every

        def due(a: Account) -> bool:
            # Every account-region of the estate, every sweep: kept to lookups.
            for r in a.regions:
                k = (a.account_id, r)
                if (
                    k not in trails
                    or k in errors
                    or k in forced
                    or described_at.get(k, 0) <= read_before
                ):
                    return True
            return False

        accounts = [a for a in self.accounts if a.regions and (force_all or due(a))]
        self._force_describe.clear()
        col = self.collector
        readers = self.readers()

        def discover(a: Account) -> Any:
            return col.discover(a, read_elsewhere(readers, a.account_id))

        calls = 0
        for a, found, exc in await gather_settled(accounts, discover):
            calls += self._take_discovery(a, found, exc, n)
        return calls + await self._confirm_empty_regions(accounts, readers)

    def _take_discovery(self, a: Account, found: Any, exc: BaseException | None, n: int) -> int:
        """Keep what discovering one account found (or why it failed); returns its calls."""
        if exc is not None or found is None:
            reason = describe_error(exc) if exc is not None else "no answer"
            if exc is not None and needs_sso_login(exc):
                self._sso_login.add(a.profile or "default")
            log.debug("discovering trails of %s failed: %s", a.account_id, reason)
            for r in a.regions:
                self.describe_errors[(a.account_id, r)] = reason
            return 0
        self.collapsed[a.account_id] = frozenset(found.collapsed)
        for r in a.regions:
            k = (a.account_id, r)
            if r in found.errors:
                self.describe_errors[k] = found.errors[r]
                continue
            self.describe_errors.pop(k, None)
            kept = [c for c in self.trails.get(k, ()) if c.arn in found.unknown]
            self.trails[k] = found.per_region.get(r, []) + kept
            self.described_at[k] = n
        return int(found.calls)

    async def _first_rows(
        self, n: int, force_all: bool, emit: Callable[[list[Account], StatusRound], None]
    ) -> tuple[int, StatusRound]:
        """The first sweep's discovery and status reads, account by account: `concurrency`
        accounts at a time, each discovered and its statuses read on its own, and `emit`
        called with the accounts done so far at most every `FIRST_ROWS_EVERY` seconds. So
        rows appear as accounts answer instead of after every account is discovered (the
        calls are the same; phases as a whole would queue every account's ListTrails
        before the first status read). Returns the calls of discovery and the statuses."""
        col = self.collector
        readers = self.readers()
        round_ = StatusRound(self.clock())
        done: list[Account] = []
        read: set[str] = set()
        self._force_describe.clear()  # every account is discovered now
        gate = asyncio.Semaphore(self.settings.poll.concurrency)
        calls = 0
        last = time.monotonic()

        async def one(a: Account) -> None:
            nonlocal calls, last
            async with gate:
                found, exc = None, None
                try:
                    found = await col.discover(a, read_elsewhere(readers, a.account_id))
                except Exception as e:  # noqa: BLE001 - kept as the account's describe error
                    exc = e
                calls += self._take_discovery(a, found, exc, n)
                planned = self._planned([a])
                read.update(k.id for _a, k, _c in planned)
                merge_round(round_, await self._read_statuses(planned, n))
            done.append(a)
            self._say(f"reading trails: {len(done)} of {len(self.accounts)} accounts")
            if time.monotonic() - last >= FIRST_ROWS_EVERY and len(done) < len(self.accounts):
                last = time.monotonic()
                emit(list(done), round_)

        await asyncio.gather(*(one(a) for a in self.accounts))
        calls += await self._confirm_empty_regions(self.accounts, readers)
        left = [p for p in self._planned(self.accounts) if p[1].id not in read]
        if left:  # trails only the empty-region check found: rare
            merge_round(round_, await self._read_statuses(left, n))
        return calls, round_

    def _planned(self, accounts: list[Account]) -> list[Planned]:
        return [
            (a, ViewKey(a.account_id, r, cfg.arn), cfg)
            for a in accounts
            for r in a.regions
            for cfg in self.trails.get((a.account_id, r), [])
        ]

    async def _confirm_empty_regions(self, accounts: list[Account], readers: Readers) -> int:
        """Ask DescribeTrails in each region where discovery found no trail at all (and no
        organization trail covers the account): a region that would be reported as not
        covered. The call confirms the region answers (an opt-in region not enabled fails
        here, so nothing is claimed about it) and that no trail of the region was left out
        of ListTrails. A healthy estate has no such region: this costs nothing there."""
        if not accounts:
            return 0
        covered = org_covered_pairs(
            self.accounts, self.trails, self.collapsed, self.collector.org_listings, readers
        )
        empty = [
            (a, r)
            for a in accounts
            for r in a.regions
            if (a.account_id, r) in self.trails
            and not self.trails[(a.account_id, r)]
            and (a.account_id, r) not in covered
        ]
        col = self.collector
        for (a, r), trails, exc in await gather_settled(empty, lambda p: col.describe(*p)):
            k = (a.account_id, r)
            if exc is not None:
                self.describe_errors[k] = describe_error(exc)
                continue
            elsewhere = read_elsewhere(readers, a.account_id)
            extra = [c for c in trails or [] if not elsewhere(c)]
            if extra:
                log.warning(
                    "ListTrails in %s did not list %s, which DescribeTrails shows in %s",
                    a.account_id,
                    ", ".join(c.arn for c in extra),
                    r,
                )
                self.trails[k] = extra
        return len(empty)
