"""Who administers CloudTrail for an Organization, as Organizations tells the profiles.

An organization trail is read from its owner (the management account) when trailtop
reaches it, else from a CloudTrail delegated administrator it reaches
(core/engine/org_coverage.py). Who administers is asked, never assumed:
`ListDelegatedAdministrators` with `ServicePrincipal=cloudtrail.amazonaws.com` answers in
the management account and in any member that is "a delegated administrator for an AWS
service" (Organizations API reference); other members are refused. It is asked of the
profiles' own accounts only (a handful), never of every member, and per Organization only
until one account answers.

What was learned must not flicker: a passing failure (throttling, a network error, a
profile whose credentials failed this time) keeps the last answer, so the members' copies
of an organization trail do not turn back into views for a sweep. Only a final answer
changes it: the Organization's list, a refusal, or "not in an Organization".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.aws.errors import describe_error, error_code
from core.util.error_codes import ACCESS

if TYPE_CHECKING:
    from core.aws.collect import Account

log = logging.getLogger(__name__)

CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"
#: How long an account that was refused the question is not asked it again (an account
#: rarely becomes a delegated administrator; asking a plain member every sweep would only
#: add an AccessDenied event to its log each time).
REASK_REFUSED = timedelta(hours=1)
#: DescribeOrganization's answer for an account in no Organization: final.
NOT_IN_ORGANIZATION = "AWSOrganizationsNotInUseException"

Call = Callable[..., Awaitable[Any]]


@dataclass
class _Told:
    """What one profile's account said."""

    account_id: str
    #: Its Organization's management account; "" when it is in none.
    management: str
    org_id: str = ""
    #: The Organization's CloudTrail administrators, as last answered (None: never).
    admins: frozenset[str] | None = None
    answered_at: datetime | None = None
    refused_at: datetime | None = None


class TrailAdmins:
    """CloudTrail's delegated administrators per management account, kept across resolves."""

    def __init__(self) -> None:
        #: By profile (None: the default credentials).
        self._told: dict[str | None, _Told] = {}
        #: Profiles whose account was refused DescribeOrganization, and when.
        self._org_refused: dict[str | None, tuple[str, datetime]] = {}

    def by_management(self) -> dict[str, frozenset[str]]:
        """Each Organization's administrators, from the latest answer about it."""
        latest: dict[str, _Told] = {}
        for t in self._told.values():
            if t.management and t.admins is not None and t.answered_at is not None:
                seen = latest.get(t.management)
                if seen is None or (seen.answered_at or t.answered_at) < t.answered_at:
                    latest[t.management] = t
        return {m: t.admins for m, t in latest.items() if t.admins is not None}

    async def refresh(
        self,
        call: Call,
        bases: Sequence[Account],
        profiles: Sequence[str | None],
        now: datetime,
    ) -> dict[str, frozenset[str]]:
        """Ask what is due; `call(account, op, **params)` calls Organizations as the account.
        `profiles`: the configured ones (an answer from a profile no longer configured is
        forgotten; one whose profile failed this time is kept)."""
        for gone in [p for p in self._told if p not in profiles]:
            del self._told[gone]
        await asyncio.gather(*(self._management(call, b, now) for b in bases))
        groups: dict[str, list[Account]] = {}
        for b in bases:
            t = self._told.get(b.profile)
            if t is not None and t.account_id == b.account_id and t.management:
                groups.setdefault(t.management, []).append(b)
        for group in groups.values():
            # The account that answered last time is asked first; one answer is enough.
            group.sort(key=lambda b: self._told[b.profile].answered_at is None)
            for b in group:
                if await self._ask(call, b, now):
                    break
        return self.by_management()

    async def _management(self, call: Call, base: Account, now: datetime) -> None:
        """The base's Organization, asked once per profile and account."""
        t = self._told.get(base.profile)
        if t is not None and t.account_id == base.account_id:
            base.org_id = base.org_id or t.org_id or None
            return
        refused = self._org_refused.get(base.profile)
        if refused and refused[0] == base.account_id and now - refused[1] < REASK_REFUSED:
            return
        try:
            resp = await call(base, "describe_organization")
            org = resp["Organization"]
            # MasterAccountId is the management account (AWS kept the field's old name).
            told = _Told(base.account_id, str(org.get("MasterAccountId") or ""), str(org["Id"]))
        except Exception as exc:  # noqa: BLE001 - in no Organization, or not this time
            log.debug("organization of %s: %s", base.account_id, describe_error(exc))
            code = error_code(exc)
            if code == NOT_IN_ORGANIZATION:
                self._told[base.profile] = _Told(base.account_id, "")
            elif code in ACCESS:
                self._org_refused[base.profile] = (base.account_id, now)
            return
        self._org_refused.pop(base.profile, None)
        self._told[base.profile] = told
        base.org_id = told.org_id

    async def _ask(self, call: Call, base: Account, now: datetime) -> bool:
        """Ask one account; whether it answered."""
        t = self._told[base.profile]
        if t.refused_at is not None and now - t.refused_at < REASK_REFUSED:
            return False
        try:
            resp = await call(
                base, "list_delegated_administrators", ServicePrincipal=CLOUDTRAIL_PRINCIPAL
            )
        except Exception as exc:  # noqa: BLE001 - refused to a plain member, or not this time
            log.debug("ListDelegatedAdministrators in %s: %s", base.account_id, describe_error(exc))
            code = error_code(exc)
            if code in ACCESS:
                t.refused_at, t.admins, t.answered_at = now, None, None
            elif code == NOT_IN_ORGANIZATION:  # the Organization is gone: final
                self._told[base.profile] = _Told(base.account_id, "")
            return False
        listed = resp.get("DelegatedAdministrators", [])
        t.admins = frozenset(str(a["Id"]) for a in listed if a.get("Id"))
        t.answered_at, t.refused_at = now, None
        return True
