"""Reaching accounts and reading trails: sessions, role fan-out, regions, describe, status.

Every call here can fail for reasons that belong to one target only (a missing profile,
expired keys, AccessDenied, throttling, an opt-in region, an endpoint that is down); those
become `TargetError`s or per-view reasons and never abort the sweep.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioDeferredRefreshableCredentials
from aiobotocore.session import AioSession

from core.aws.clients import ClientPool, credentials_session, new_session
from core.aws.errors import describe_error, error_code, needs_sso_login
from core.aws.trail_admins import TrailAdmins
from core.model import TrailConfig
from core.util.arn import account_of
from core.util.error_codes import CREDENTIAL
from core.util.times import utcnow

log = logging.getLogger(__name__)


T = TypeVar("T")

DEFAULT_GLOBAL_REGION = "us-east-1"


@dataclass
class Account:
    """An account reached by some credentials, with the regions to poll in it."""

    account_id: str
    profile: str | None
    session: AioSession
    via: str
    home_region: str
    alias: str | None = None
    regions: list[str] = field(default_factory=list)
    org_id: str | None = None
    #: The account whose Organization listing named this one (members reached by the
    #: Organization role), and the name it is listed under there.
    listed_by: str | None = None
    org_name: str | None = None

    @property
    def label(self) -> str:
        return self.alias or self.account_id


@dataclass
class Discovery:
    """The trails an account has, per polled region, as one discovery pass found them."""

    per_region: dict[str, list[TrailConfig]] = field(default_factory=dict)
    #: Regions whose trails could not be read, with the reason.
    errors: dict[str, str] = field(default_factory=dict)
    #: Trails listed whose configuration could not be read (their home Region failed):
    #: what was known of them before is kept in the other regions.
    unknown: set[str] = field(default_factory=set)
    #: Organization trails of other accounts left out because their owner (or the
    #: CloudTrail delegated administrator reading them) is reached: summarised from the
    #: reader's views instead (core/model.py OrgCoverage).
    collapsed: set[str] = field(default_factory=set)
    calls: int = 0


@dataclass(frozen=True)
class TargetError:
    """Something that could not be reached: a whole profile/account, or one region of it."""

    profile: str | None
    account_id: str | None
    region: str | None
    reason: str
    #: The profile's IAM Identity Center session is over: a human must log in again.
    sso_login: bool = False


class Limiter:
    """Bounds API calls in flight across every target (settings.poll.concurrency)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._sem: asyncio.Semaphore | None = None

    async def run(self, coro: Awaitable[T]) -> T:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.limit)
        try:
            await self._sem.acquire()
        except BaseException:
            # Cancelled while waiting (the sweep stopped): the call never started, so it is
            # closed rather than left for the collector to warn about.
            close = getattr(coro, "close", None)
            if close is not None:
                close()
            raise
        try:
            return await coro
        finally:
            self._sem.release()


@dataclass
class Collector:
    pool: ClientPool
    limiter: Limiter
    #: Sessions are kept across re-resolutions so their clients (and connections) are reused.
    _profile_sessions: dict[str | None, AioSession] = field(default_factory=dict)
    _role_sessions: dict[tuple[str, str], AioSession] = field(default_factory=dict)
    #: The session each role session was assumed from: its credentials renew from there.
    _role_bases: dict[tuple[str, str], AioSession] = field(default_factory=dict)
    #: When assumed-role credentials are renewed is decided on this clock (the engine's),
    #: so renewal before expiry can be tested without waiting an hour.
    clock: Callable[[], datetime] = utcnow
    #: Other pools of clients made from these sessions (Event history's): every session's
    #: clients live and die together, whichever pool holds them.
    _derived: list[ClientPool] = field(default_factory=list)

    #: What the shared config and credentials files looked like when profiles were read.
    _files_seen: tuple[tuple[str, int, int], ...] | None = None
    #: Each reached account's Organization listing (active accounts: id -> name), by the
    #: account that listed it, from the last resolve.
    org_listings: dict[str, dict[str, str]] = field(default_factory=dict)
    #: CloudTrail's delegated administrators, by the management account of their
    #: Organization, as the reached profiles' accounts were told at the last resolve.
    trail_admins: dict[str, frozenset[str]] = field(default_factory=dict)
    _admins: TrailAdmins = field(default_factory=TrailAdmins)

    def profiles_edited(self) -> bool:
        """Whether the shared config or credentials file changed since profiles were read;
        if so, every profile session (and every role assumed from one) is forgotten, so the
        next resolve reads the edited profiles. One stat per file: cheap enough per sweep."""
        seen = _shared_files_signature()
        if self._files_seen is None or seen == self._files_seen:
            self._files_seen = seen
            return False
        self._files_seen = seen
        log.info("shared AWS config or credentials file changed: reading profiles again")
        for session in list(self._profile_sessions.values()):
            self.forget_session(session)
        return True

    def derived_pool(self, config: AioConfig) -> ClientPool:
        """A pool with its own client configuration whose clients follow these sessions."""
        pool = ClientPool(config, self.pool.endpoint_url, fast_reads=self.pool.fast_reads)
        self._derived.append(pool)
        return pool

    @property
    def pools(self) -> list[ClientPool]:
        return [self.pool, *self._derived]

    async def call(self, session: AioSession, service: str, region: str, op: str, **kw: Any) -> Any:
        return await self.limiter.run(self.pool.call(session, service, region, op, **kw))

    # -- accounts -------------------------------------------------------------------------

    async def resolve_accounts(
        self,
        profiles: list[str],
        regions: list[str],
        assume_roles: list[tuple[str, str, str]],
        org_role_name: str | None,
    ) -> tuple[list[Account], list[TargetError]]:
        """Every account to poll: each profile's own, then role and Organization fan-out.

        The same account reached twice is polled once (the first route wins).
        """
        accounts: dict[str, Account] = {}
        errors: list[TargetError] = []
        bases: list[Account] = []
        for profile in profiles or [None]:  # type: ignore[list-item]
            try:
                base = await self._account_for_profile(profile)
            except Exception as exc:  # noqa: BLE001 - one profile's failure is its own
                errors.append(
                    TargetError(
                        profile, None, None, describe_error(exc), sso_login=needs_sso_login(exc)
                    )
                )
                continue
            if base.account_id not in accounts:
                accounts[base.account_id] = base
                bases.append(base)

        fanout: list[tuple[Account, str, str, str]] = []
        listed: dict[str, tuple[str, str]] = {}  # member -> (listing account, its name there)
        self.org_listings = {}
        for base in bases:
            for role_arn, external_id, session_name in assume_roles:
                fanout.append((base, role_arn, external_id, session_name))
            if org_role_name:
                try:
                    members = await self._org_accounts(base)
                except Exception as exc:  # noqa: BLE001
                    errors.append(
                        TargetError(
                            base.profile,
                            base.account_id,
                            None,
                            "organization accounts not listed: " + describe_error(exc),
                        )
                    )
                    members = {}
                if members:
                    self.org_listings[base.account_id] = members
                for acct, name in members.items():
                    if acct != base.account_id:
                        listed.setdefault(acct, (base.account_id, name))
                        fanout.append(
                            (base, f"arn:aws:iam::{acct}:role/{org_role_name}", "", "trailtop")
                        )

        # Every profile may fan out to the same accounts: assume each account's role once,
        # through its first route, and try the next route only if that one fails.
        routes: dict[str, list[tuple[Account, str, str, str]]] = {}
        for entry in fanout:
            acct_id = account_of(entry[1])
            if acct_id not in accounts:
                routes.setdefault(acct_id, []).append(entry)

        async def reach(
            acct_id: str, entries: list[tuple[Account, str, str, str]]
        ) -> Account | TargetError:
            failure: TargetError | None = None
            for base, arn, ext, name in entries:
                try:
                    return await self._assumed_account(base, arn, ext, name)
                except Exception as exc:  # noqa: BLE001 - the next route may work
                    failure = failure or TargetError(
                        base.profile,
                        acct_id,
                        None,
                        "assume role failed: " + describe_error(exc),
                        sso_login=needs_sso_login(exc),
                    )
            assert failure is not None
            return failure

        for res in await asyncio.gather(*(reach(a, e) for a, e in routes.items())):
            if isinstance(res, TargetError):
                errors.append(res)
            else:
                accounts.setdefault(res.account_id, res)
        for acct_id, (by, name) in listed.items():
            found = accounts.get(acct_id)
            if found is not None and found.listed_by is None:
                found.listed_by, found.org_name = by, name or None

        async def fill(acct: Account) -> None:
            try:
                acct.regions = list(regions) if regions else await self._enabled_regions(acct)
            except Exception as exc:  # noqa: BLE001
                errors.append(
                    TargetError(
                        acct.profile,
                        acct.account_id,
                        None,
                        "regions not listed: " + describe_error(exc),
                    )
                )
                acct.regions = []
            # An Organization member is labelled by its name in the Organization listing
            # (no call); only accounts reached otherwise are asked for their IAM alias.
            acct.alias = acct.org_name if acct.listed_by else await self._alias(acct)

        await asyncio.gather(*(fill(a) for a in accounts.values()))
        self.trail_admins = await self._admins.refresh(
            self._org_call, bases, profiles or [None], self.clock()
        )
        return list(accounts.values()), errors

    async def _org_call(self, acct: Account, op: str, **kw: Any) -> Any:
        return await self.call(acct.session, "organizations", acct.home_region, op, **kw)

    async def _account_for_profile(self, profile: str | None) -> Account:
        session = self._profile_sessions.get(profile)
        cached = session is not None
        if session is None:
            session = new_session(profile)
            self._profile_sessions[profile] = session
        region = session.get_config_variable("region") or DEFAULT_GLOBAL_REGION
        try:
            ident = await self.call(session, "sts", region, "get_caller_identity")
        except Exception as exc:
            if not cached or error_code(exc) not in CREDENTIAL:
                raise
            # The endpoint no longer accepts what this session holds (a role profile's
            # cached role session after a restart or revocation, rotated keys): read the
            # profile again, once, so its role is assumed afresh from its source.
            log.info("profile %s: credentials rejected, reading the profile again", profile)
            self.forget_session(session)
            session = new_session(profile)
            self._profile_sessions[profile] = session
            region = session.get_config_variable("region") or DEFAULT_GLOBAL_REGION
            ident = await self.call(session, "sts", region, "get_caller_identity")
        return Account(
            account_id=str(ident["Account"]),
            profile=profile,
            session=session,
            via=f"profile:{profile or 'default'}",
            home_region=region,
        )

    def forget_session(self, session: AioSession) -> bool:
        """Drop a session whose credentials were rejected (an assumed role's or a profile's)
        and close its clients in every pool, so the next resolve reaches the account
        afresh. Returns whether the session was still cached here."""
        found = False
        for key, cached in list(self._role_sessions.items()):
            if cached is session:
                self._drop_role(key)
                found = True
            elif self._role_bases.get(key) is session:
                # Assumed from the forgotten session: it would renew through it.
                self._drop_role(key)
        for name, cached in list(self._profile_sessions.items()):
            if cached is session:
                del self._profile_sessions[name]
                found = True
        for pool in self.pools:
            pool.forget_session(session)
        return found

    def _drop_role(self, key: tuple[str, str]) -> None:
        role = self._role_sessions.pop(key)
        self._role_bases.pop(key, None)
        for pool in self.pools:
            pool.forget_session(role)

    def retain(self, accounts: list[Account]) -> None:
        """Keep sessions and clients for these accounts and the configured profiles only.

        Called after each resolve: a role session whose account left (an Organization
        member removed, a role no longer configured) is dropped with its clients, so what
        is held stays bounded by the targets however long trailtop runs.
        """
        live = {id(a.session) for a in accounts}
        for key, session in list(self._role_sessions.items()):
            if id(session) not in live:
                self._drop_role(key)
        keep = [a.session for a in accounts] + list(self._profile_sessions.values())
        for pool in self.pools:
            pool.retain(keep)

    @property
    def live_sessions(self) -> int:
        """Sessions cached here (profiles' and assumed roles')."""
        return len(self._profile_sessions) + len(self._role_sessions)

    async def assume_role(
        self,
        base: AioSession,
        role_arn: str,
        region: str,
        *,
        session_name: str = "trailtop",
        external_id: str = "",
    ) -> AioSession:
        """A session whose credentials come from sts:AssumeRole and refresh before expiry."""

        async def refresh() -> dict[str, Any]:
            kw: dict[str, Any] = {
                "RoleArn": role_arn,
                "RoleSessionName": session_name or "trailtop",
            }
            if external_id:
                kw["ExternalId"] = external_id
            resp = await self.call(base, "sts", region, "assume_role", **kw)
            c = resp["Credentials"]
            exp = c["Expiration"]
            if isinstance(exp, datetime):
                exp = exp.astimezone(UTC).isoformat()
            return {
                "access_key": c["AccessKeyId"],
                "secret_key": c["SecretAccessKey"],
                "token": c["SessionToken"],
                "expiry_time": exp,
            }

        # Renewed by botocore ahead of expiry (15 minutes advisory, 10 mandatory), from the
        # base session, whose own credentials renew the same way: a role chain renews
        # from its source.
        creds = AioDeferredRefreshableCredentials(
            refresh_using=refresh, method="assume-role", time_fetcher=self.clock
        )
        # Fetch once now so a bad role is reported at once, not on every later call.
        await creds.get_frozen_credentials()
        return credentials_session(creds)

    async def _assumed_account(
        self, base: Account, role_arn: str, external_id: str, session_name: str
    ) -> Account:
        key = (base.account_id, role_arn)
        session = self._role_sessions.get(key)
        if session is not None and self._role_bases.get(key) is not base.session:
            self._drop_role(key)  # its source session was replaced: assume it afresh
            session = None
        if session is None:
            log.info("assuming %s from %s (%s)", role_arn, base.account_id, base.via)
            session = await self.assume_role(
                base.session,
                role_arn,
                base.home_region,
                session_name=session_name,
                external_id=external_id,
            )
            self._role_sessions[key] = session
            self._role_bases[key] = base.session
        return Account(
            account_id=account_of(role_arn),
            profile=base.profile,
            session=session,
            via=f"role:{role_arn}",
            home_region=base.home_region,
        )

    async def _org_accounts(self, base: Account) -> dict[str, str]:
        """Active accounts of the base account's Organization: id -> name."""
        out: dict[str, str] = {}
        token: str | None = None
        while True:
            kw: dict[str, Any] = {"NextToken": token} if token else {}
            resp = await self.call(
                base.session, "organizations", base.home_region, "list_accounts", **kw
            )
            for a in resp.get("Accounts", []):
                if a.get("Status") == "ACTIVE":
                    out[str(a["Id"])] = str(a.get("Name") or "")
            token = resp.get("NextToken")
            if not token:
                return out

    async def _enabled_regions(self, acct: Account) -> list[str]:
        resp = await self.call(
            acct.session,
            "ec2",
            acct.home_region,
            "describe_regions",
            Filters=[{"Name": "opt-in-status", "Values": ["opt-in-not-required", "opted-in"]}],
        )
        return sorted(r["RegionName"] for r in resp.get("Regions", []))

    async def _alias(self, acct: Account) -> str | None:
        try:
            resp = await self.call(acct.session, "iam", acct.home_region, "list_account_aliases")
        except Exception as exc:  # noqa: BLE001 - the alias is a nicety; an id is enough
            log.debug("account alias of %s: %s", acct.account_id, describe_error(exc))
            return None
        aliases = resp.get("AccountAliases") or []
        return str(aliases[0]) if aliases else None

    async def org_id(self, acct: Account) -> str | None:
        if acct.org_id is None:
            try:
                resp = await self._org_call(acct, "describe_organization")
                acct.org_id = str(resp["Organization"]["Id"])
            except Exception as exc:  # noqa: BLE001 - not in an Organization, or not allowed
                log.debug("organization of %s: %s", acct.account_id, describe_error(exc))
                acct.org_id = ""
        return acct.org_id or None

    # -- trails ---------------------------------------------------------------------------

    async def discover(self, acct: Account, collapse: Callable[[TrailConfig], bool]) -> Discovery:
        """The account's trails in each of its regions, with as few calls as AWS allows.

        ListTrails names every trail "in the current account" with its home Region (API
        Reference); each home Region is then asked once, DescribeTrails by ARN, for the
        configurations. A multi-region trail has a view in every polled region, a
        single-region trail in its home Region only, as DescribeTrails with shadow trails
        would show them region by region. AWS does not document whether a regional endpoint
        filters ListTrails: it is asked in the account's home region, and if it fails
        (not allowed, not offered) the account is described region by region instead.

        `collapse(cfg)`: an organization trail of another account that is summarised from
        its reader's views (the owner's or a delegated administrator's), so it gets no view
        here.
        """
        out = Discovery()
        try:
            listed = await self.list_trails(acct, out)
        except Exception as exc:  # noqa: BLE001 - the per-region path still works
            if error_code(exc) in CREDENTIAL:
                raise
            log.info(
                "ListTrails in %s failed (%s): describing region by region",
                acct.account_id,
                describe_error(exc),
            )
            return await self._discover_per_region(acct, collapse, out)
        by_home: dict[str, list[str]] = {}
        for arn, home in listed:
            by_home.setdefault(home, []).append(arn)
        configs: list[TrailConfig] = []
        for home, arns in sorted(by_home.items()):
            try:
                configs += await self.describe_arns(acct, home, arns)
            except Exception as exc:  # noqa: BLE001 - only the trails homed there are unknown
                out.errors[home] = describe_error(exc)
                out.unknown.update(arns)
            out.calls += 1
        for r in acct.regions:
            out.per_region.setdefault(r, [])
        for cfg in configs:
            if collapse(cfg):
                out.collapsed.add(cfg.arn)
                continue
            for r in acct.regions if cfg.multi_region else [cfg.home_region]:
                if r in out.per_region:
                    out.per_region[r].append(cfg)
        return out

    async def _discover_per_region(
        self, acct: Account, collapse: Callable[[TrailConfig], bool], out: Discovery
    ) -> Discovery:
        results = await gather_settled(acct.regions, lambda r: self.describe(acct, r))
        out.calls += len(acct.regions)
        for r, trails, exc in results:
            if exc is not None:
                out.errors[r] = describe_error(exc)
                continue
            kept = []
            for cfg in trails or []:
                if collapse(cfg):
                    out.collapsed.add(cfg.arn)
                else:
                    kept.append(cfg)
            out.per_region[r] = kept
        return out

    async def list_trails(self, acct: Account, out: Discovery) -> list[tuple[str, str]]:
        """(ARN, home region) of every trail ListTrails names, each once."""
        seen: dict[str, str] = {}
        token: str | None = None
        while True:
            kw: dict[str, Any] = {"NextToken": token} if token else {}
            resp = await self.call(
                acct.session, "cloudtrail", acct.home_region, "list_trails", **kw
            )
            out.calls += 1
            for t in resp.get("Trails", []):
                arn, home = t.get("TrailARN"), t.get("HomeRegion")
                if arn and home:
                    seen.setdefault(str(arn), str(home))
            token = resp.get("NextToken")
            if not token:
                return list(seen.items())

    async def describe_arns(self, acct: Account, region: str, arns: list[str]) -> list[TrailConfig]:
        """Configurations of these trails (by ARN, as a shadow or another account's
        organization trail needs) from one region, the trails' home Region."""
        resp = await self.call(
            acct.session,
            "cloudtrail",
            region,
            "describe_trails",
            trailNameList=arns,
            includeShadowTrails=True,
        )
        wanted = set(arns)
        seen: dict[str, TrailConfig] = {}
        for raw in resp.get("trailList", []):
            cfg = TrailConfig.from_describe(raw)
            if cfg.arn in wanted and cfg.arn not in seen:
                seen[cfg.arn] = cfg
        return list(seen.values())

    async def describe(self, acct: Account, region: str) -> list[TrailConfig]:
        resp = await self.call(
            acct.session, "cloudtrail", region, "describe_trails", includeShadowTrails=True
        )
        seen: dict[str, TrailConfig] = {}
        for raw in resp.get("trailList", []):
            cfg = TrailConfig.from_describe(raw)
            if cfg.arn and cfg.arn not in seen:
                seen[cfg.arn] = cfg
        return list(seen.values())

    async def status(self, acct: Account, region: str, trail_arn: str) -> dict[str, Any]:
        # By ARN, always: a shadow trail or an org trail is not found by name.
        resp = await self.call(
            acct.session, "cloudtrail", region, "get_trail_status", Name=trail_arn
        )
        resp.pop("ResponseMetadata", None)
        return dict(resp)


def _shared_files_signature() -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of the files botocore reads profiles from."""
    out = []
    for var, default in (
        ("AWS_CONFIG_FILE", "~/.aws/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
    ):
        path = os.path.expanduser(os.environ.get(var) or default)
        try:
            st = os.stat(path)
        except OSError:
            out.append((path, -1, -1))
        else:
            out.append((path, st.st_mtime_ns, st.st_size))
    return tuple(out)


async def gather_settled(
    items: list[T], fn: Callable[[T], Awaitable[Any]]
) -> list[tuple[T, Any | None, BaseException | None]]:
    """Run fn over items concurrently; pair each item with its result or its exception."""
    results = await asyncio.gather(*(fn(i) for i in items), return_exceptions=True)
    out: list[tuple[T, Any | None, BaseException | None]] = []
    for item, res in zip(items, results, strict=True):
        if isinstance(res, BaseException):
            if isinstance(res, asyncio.CancelledError):
                raise res
            out.append((item, None, res))
        else:
            out.append((item, res, None))
    return out
