"""The resolve phase of a sweep: which accounts are reached, and who reads each
Organization's trails.

Accounts are resolved on the first sweep, every `poll.describe_every_sweeps` sweeps, and on
the next sweep after any account-level error (or an edit of the shared AWS files), so a
fixed profile or role recovers without a restart. An account no longer reached is said so
once and forgotten; one whose route failed this time keeps its last session.

A mixin of `Engine` (core/engine/sweep.py), like `DiscoveryPhase`, whose state it shares.
"""

from __future__ import annotations

import logging

from core.aws.collect import TargetError
from core.engine.discovery import DiscoveryPhase
from core.model import Notice
from core.util.arn import account_of

log = logging.getLogger(__name__)


class ResolvePhase(DiscoveryPhase):
    """Resolving's methods; the state is the Engine's (declared here for the type checker)."""

    account_errors: list[TargetError]
    _notices: list[Notice]
    _force_resolve: bool
    #: Who read each trail owner's organization trails at the last resolve.
    _readers_seen: dict[str, str] | None

    async def _resolve_if_due(self, n: int, force_all: bool) -> None:
        force_resolve, self._force_resolve = self._force_resolve, False
        if self.collector.profiles_edited():
            force_resolve = True
        every = self.settings.poll.describe_every_sweeps
        if n == 1 or force_all or force_resolve or self.account_errors or (n - 1) % every == 0:
            await self._resolve_accounts()

    async def _resolve_accounts(self) -> None:
        aws = self.settings.aws
        org_role = aws.organization.role_name if aws.organization.enabled else None
        accounts, errors = await self.collector.resolve_accounts(
            list(aws.profiles),
            list(aws.regions),
            [(r.role_arn, r.external_id, r.session_name) for r in aws.assume_roles],
            org_role,
        )
        for e in errors:
            log.info("target %s/%s not reached: %s", e.profile, e.account_id, e.reason)
        if accounts or not self.accounts:
            # An account whose route failed this time (its profile, role or Organization
            # listing errored) keeps its last session: its views then fail call by call with
            # the real reason and keep their last good data, instead of vanishing.
            found = {a.account_id for a in accounts}
            failed = {e.profile for e in errors}
            accounts += [
                a for a in self.accounts if a.account_id not in found and a.profile in failed
            ]
            kept = {a.account_id for a in accounts}
            for gone in (a for a in self.accounts if a.account_id not in kept):
                # Reached before, not reached now, and no route to it failed: it left (an
                # Organization member removed, a role no longer configured). Say so once.
                self._notices.append(
                    Notice(
                        "account-removed",
                        gone.account_id,
                        f"Account {gone.label} is no longer reached ({gone.via}): it is no "
                        "longer an active member of the Organization or no longer configured; "
                        "its views are removed.",
                    )
                )
                log.info("account %s no longer reached (%s)", gone.account_id, gone.via)
            self.accounts = accounts
            kept_ids = {a.account_id for a in accounts}
            for table in (self.trails, self.described_at, self.describe_errors):
                for k in [k for k in table if k[0] not in kept_ids]:
                    del table[k]  # an account that left: forget what was read there
            for gone_id in [k for k in self.collapsed if k not in kept_ids]:
                del self.collapsed[gone_id]
        self.account_errors = errors
        self.collector.retain(self.accounts)
        self._follow_readers()

    def _follow_readers(self) -> None:
        """When the reader of an Organization's trails changes (its management account or a
        delegated administrator is reached, or no longer is), every account is described
        again at once: which copies are views depends on the reader, and a member left
        collapsed without a reader would be watched by no view."""
        owners = {
            c.owner_account for ts in self.trails.values() for c in ts if c.organization_trail
        }
        owners |= {account_of(arn) for arns in self.collapsed.values() for arn in arns}
        readers = self.readers()
        before, self._readers_seen = self._readers_seen, dict(readers)
        if before is not None and any(before.get(m) != readers.get(m) for m in owners if m):
            log.info("the reader of an organization trail changed: describing every account")
            self._force_describe.update((a.account_id, r) for a in self.accounts for r in a.regions)
