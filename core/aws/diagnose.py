"""Destination diagnostics: read buckets, keys, topics, log groups and roles (I/O).

Cost rule: destinations are shared (one bucket serves a multi-region trail's 17 views), so
each is read at most once per sweep, and only when
- it was never read, or the operator asked for a full refresh,
- a view that uses it changed (its status errors, IsLogging or its configuration), or
- `poll.diagnose_refresh_seconds` passed since it was read.
Judging (core/judge/rootcause.py) is pure and runs every sweep on the cached facts.

Who reads: each destination with the credentials of the account that owns it, whenever
trailtop reaches that account (a profile, an assume_roles role or the Organization role),
because AWS refuses cross-account reads of bucket policies, keys and topics unless a policy
grants them. Owners come from the ARN (keys, topics, log groups, roles) or, for a bucket,
from ListBuckets of the reached accounts (one call per account per refresh). A KMS-encrypted
topic's or log group's key is read with the key owner's credentials too, with the resource.

Event selectors are a setting of the trail, not of a view: GetEventSelectors is asked once
per trail (by ARN, in its home region, as its owner when reached, else as a viewer), on the
same refresh rule, for every trail seen, so each of its views (a member account's view of
an organization trail included) says whether the trail records management events there.

Which views are diagnosed: those in the account that owns the trail, and those of an
organization trail in the CloudTrail delegated administrator that reads it when its owner
is not reached (`ViewInput.administers`: core/engine/org_coverage.py). A plain member's
view of an organization trail is MANAGED_ELSEWHERE (core/judge/evaluate.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.aws.destination_reads import DestId, DestinationReader
from core.aws.errors import describe_error, error_code
from core.judge.delivery_settings import event_selector_findings
from core.judge.facts import Destinations, Fact
from core.judge.rootcause import root_causes
from core.model import STATUS_ERROR_FIELDS, Finding, TrailConfig
from core.util.arn import account_of
from core.util.error_codes import NOT_FOUND

if TYPE_CHECKING:
    from core.aws.collect import Account, Collector
    from core.engine.protocols import ViewInput


log = logging.getLogger(__name__)


#: The codes S3 answers a bucket read by an account that does not own the bucket.
_NOT_OWNER = frozenset({"AccessDenied", "MethodNotAllowed"})
#: Accounts asked for their bucket list at once while looking for a bucket's owner.
_OWNER_BATCH = 32
#: Destinations whose read answers about the caller's own account only: a log group
#: (DescribeLogGroups lists the caller's groups) and a role (GetRole takes a name).
OWN_ACCOUNT = frozenset({"log_group", "role"})
#: Which destinations a finding's channel is about (its evidence names their owner).
_CHANNEL_KINDS: dict[str, tuple[str, ...]] = {
    "s3": ("bucket",),
    "digest": ("bucket",),
    "kms": ("key",),
    "sns": ("topic",),
    "cloudwatch": ("log_group", "role"),
}


def _rediagnose_signature(v: ViewInput) -> tuple[Any, ...]:
    """What, when it changes, makes a view's destinations worth reading again at once."""
    st = v.status or {}
    return (v.trail, st.get("IsLogging"), *(st.get(f) for f in STATUS_ERROR_FIELDS))


def destinations_of(trail: TrailConfig) -> list[DestId]:
    out: list[DestId] = []
    if trail.s3_bucket:
        out.append(("bucket", trail.s3_bucket))
    if trail.kms_key_id:
        out.append(("key", trail.kms_key_id))
    if trail.sns_topic_arn:
        out.append(("topic", trail.sns_topic_arn))
    if trail.log_group_arn:
        out.append(("log_group", trail.log_group_arn))
    if trail.cw_role_arn:
        out.append(("role", trail.cw_role_arn))
    return out


def _arn_owner(d: DestId) -> str | None:
    """The owner of a destination whose identifier is an ARN (keys, topics, groups, roles)."""
    return account_of(d[1]) or None if d[0] != "bucket" else None


class DestinationDiagnoser:
    def __init__(
        self,
        refresh_seconds: float,
        clock: Any = time.monotonic,
        reach_hint: str = "",
    ) -> None:
        self.refresh_seconds = refresh_seconds
        #: How an operator would reach an account trailtop does not reach ("{account}" is
        #: replaced), e.g. the Organization role's ARN pattern.
        self.reach_hint = reach_hint
        self.reader = DestinationReader(reach_hint)
        self._clock = clock
        self._facts: dict[DestId, tuple[Fact, float]] = {}
        self.org_ids: dict[str, str | None] = {}
        self._signatures: dict[str, tuple[Any, ...]] = {}
        #: The last root causes per view, with what they were judged from (`_root_causes`).
        self._judged: dict[str, tuple[TrailConfig, tuple[Any, ...], str | None, list[Finding]]] = {}
        #: Bucket names per reached account (ListBuckets), refreshed with the facts.
        self._listed: dict[str, tuple[frozenset[str] | None, float]] = {}
        #: ListBuckets in flight, by account (askers at the same time share one).
        self._listing: dict[str, asyncio.Future[frozenset[str] | None]] = {}
        #: The account that owns each destination, where known.
        self.owners: dict[DestId, str] = {}
        #: The destinations judged for each view in the last diagnose() (remediation plans
        #: are made from these documents).
        self.destinations: dict[str, Destinations] = {}
        #: Each trail's configuration when its event selectors were last read.
        self._trail_configs: dict[str, TrailConfig] = {}

    @property
    def calls(self) -> int:
        """Destination reads so far (the engine counts them per sweep)."""
        return self.reader.calls

    async def diagnose(
        self,
        collector: Collector,
        views: Sequence[ViewInput],
        now: datetime,
        force: bool,
        accounts: Sequence[Account] = (),
    ) -> dict[str, list[Finding]]:
        reached: dict[str, Account] = {a.account_id: a for a in accounts}
        for v in views:
            reached.setdefault(v.account.account_id, v.account)
        self.reader.reached = reached
        t = self._clock()
        judged = [v for v in views if v.key.account_id == v.trail.owner_account or v.administers]
        self.reader.located = frozenset(
            v.trail.s3_bucket for v in judged if v.trail.kms_key_id and v.trail.s3_bucket
        )
        self.reader.unkeyed = frozenset(
            v.trail.s3_bucket for v in judged if not v.trail.kms_key_id and v.trail.s3_bucket
        )
        reader_of: dict[DestId, Account] = {}
        region_of_dest: dict[DestId, str] = {}
        due: set[DestId] = set()
        for v in judged:
            sig = _rediagnose_signature(v)
            changed = self._signatures.get(v.key.id) != sig
            self._signatures[v.key.id] = sig
            for d in destinations_of(v.trail):
                region_of_dest.setdefault(d, v.trail.home_region)
                # Read as the trail's owner when reached, else as the first viewer.
                reader_of.setdefault(d, reached.get(v.trail.owner_account, v.account))
                cached = self._facts.get(d)
                if force or cached is None or changed or t - cached[1] >= self.refresh_seconds:
                    due.add(d)
        ordered = sorted(due)
        owners_before = dict(self.owners)
        # Every trail seen (judged or not): its event selectors, one read per trail, as its
        # owner when reached, else as a viewer.
        trails = _trails_seen(views)
        selectors_due = [
            a for a, (cfg, _) in sorted(trails.items()) if self._selectors_due(a, cfg, t, force)
        ]
        readers = {a: reached.get(trails[a][0].owner_account, trails[a][1]) for a in selectors_due}
        results = await asyncio.gather(
            *(
                self._read_as_owner(collector, reached, d, reader_of[d], region_of_dest[d], t)
                for d in ordered
            ),
            *(self.reader.selectors(collector, readers[a], trails[a][0]) for a in selectors_due),
            return_exceptions=True,
        )
        for arn, res in zip(selectors_due, results[len(ordered) :], strict=True):
            if isinstance(res, BaseException):
                if isinstance(res, asyncio.CancelledError):
                    raise res
                res = Fact("selectors", arn, None, describe_error(res))
            self._facts[("selectors", arn)] = (res, t)
            self._trail_configs[arn] = trails[arn][0]
        results = results[: len(ordered)]
        for d, res in zip(ordered, results, strict=True):
            if isinstance(res, BaseException):
                if isinstance(res, asyncio.CancelledError):
                    raise res
                res = Fact(d[0], d[1], None, describe_error(res))
            if d[0] == "bucket" and self._unowned(res, reached):
                # Refused, and no reached account lists it: say who listed it before, the
                # judge decides with the view's status whether the name changed hands.
                former = owners_before.get(d)
                res = replace(res, data={**res.data, "unowned": True, "former_owner": former})
            self._facts[d] = (res, t)

        # Every trail owner's organization (aws:SourceOrgID is in CloudTrail's request context
        # for single-account trails of an organization's accounts too), asked concurrently:
        # one DescribeOrganization per account, cached on the account.
        owner_accounts = {
            v.trail.owner_account: reached.get(v.trail.owner_account, v.account) for v in judged
        }
        found_ids = await asyncio.gather(*(collector.org_id(a) for a in owner_accounts.values()))
        org_ids: dict[str, str | None] = dict(zip(owner_accounts, found_ids, strict=True))

        out: dict[str, list[Finding]] = {}
        self.destinations = {}
        self.org_ids = org_ids
        for v in judged:
            facts = {d[0]: self._facts[d][0] for d in destinations_of(v.trail)}
            bucket = facts.get("bucket")
            if bucket is not None and bucket.data.get("unowned"):
                err = (v.status or {}).get("LatestDeliveryError")
                facts["bucket"] = replace(bucket, data={**bucket.data, "delivery_error": err})
            dest = Destinations(
                bucket=facts.get("bucket"),
                key=facts.get("key"),
                topic=facts.get("topic"),
                log_group=facts.get("log_group"),
                role=facts.get("role"),
            )
            self.destinations[v.key.id] = dest
            selectors = self._facts.get(("selectors", v.trail.arn))
            if selectors is not None:
                dest = replace(dest, selectors=selectors[0])
            found = self._root_causes(v, dest, now, org_ids.get(v.trail.owner_account))
            if found:
                out[v.key.id] = [self._with_owner(f, v.trail) for f in found]
        judged_ids = {v.key.id for v in judged}
        for gone in [k for k in self._judged if k not in judged_ids]:
            del self._judged[gone]  # a view no longer judged here: bounded by the views
        for v in views:
            # Views diagnosed elsewhere (a member's view of an organization trail) still say
            # whether the trail records management events in their region.
            cached = self._facts.get(("selectors", v.trail.arn))
            if v.key.id in judged_ids or cached is None:
                continue
            found = event_selector_findings(v.trail, v.key, cached[0], say_unread=False)
            if found:
                out[v.key.id] = found
        return out

    def _root_causes(
        self, v: ViewInput, dest: Destinations, now: datetime, org_id: str | None
    ) -> list[Finding]:
        """root_causes for a view, judged again only when its trail, its destinations' facts
        (re-read objects are new objects) or its organization changed: policy evaluation was
        a quarter of a warm sweep's CPU, spent re-deriving the same answer every sweep."""
        facts = (dest.bucket, dest.key, dest.topic, dest.log_group, dest.role, dest.selectors)
        cached = self._judged.get(v.key.id)
        if (
            cached is not None
            and cached[0] == v.trail
            and cached[2] == org_id
            and all(a is b for a, b in zip(cached[1], facts, strict=True))
        ):
            return cached[3]
        found = root_causes(v.trail, v.key, dest, now, org_id)
        self._judged[v.key.id] = (v.trail, facts, org_id, found)
        return found

    def _selectors_due(self, arn: str, cfg: TrailConfig, t: float, force: bool) -> bool:
        """Read a trail's selectors when never read, on a full refresh, when the trail's
        configuration changed, or after the refresh period (like the destinations)."""
        cached = self._facts.get(("selectors", arn))
        return (
            force
            or cached is None
            or self._trail_configs.get(arn) != cfg
            or t - cached[1] >= self.refresh_seconds
        )

    def _with_owner(self, f: Finding, trail: TrailConfig) -> Finding:
        """Name the account that owns the destination in the evidence: where to look, and
        where a fix is made (it is often not the trail's account)."""
        kinds = _CHANNEL_KINDS.get(f.channel.value, ())
        owners = {
            k: o
            for k, ident in destinations_of(trail)
            if k in kinds and (o := self.owners.get((k, ident)))
        }
        if not owners or "owner_account" in f.evidence:
            return f
        owner = owners.get("bucket") or next(iter(owners.values()))
        return replace(f, evidence={**f.evidence, "owner_account": owner})

    def _unowned(self, fact: Fact, reached: dict[str, Account]) -> bool:
        """The bucket read was refused (403 AccessDenied, or 405 MethodNotAllowed, which S3
        answers a caller outside the owner's account) and every reached account's ListBuckets
        is known and lacks the name."""
        if fact.exists is not None or fact.data.get("error_code") not in _NOT_OWNER:
            return False
        for acct in reached:
            listed = self._listed.get(acct)
            if listed is None or listed[0] is None or fact.ident in listed[0]:
                return False
        return True

    def owner_of(self, kind: str, ident: str) -> str | None:
        """The account that owns a destination, where trailtop found out."""
        return self.owners.get((kind, ident))

    # -- owners ---------------------------------------------------------------------------

    async def _read_as_owner(
        self,
        col: Collector,
        reached: dict[str, Account],
        d: DestId,
        fallback: Account,
        region: str,
        t: float,
    ) -> Fact:
        """Read `d` with its owner's credentials when trailtop reaches the owner.

        Real AWS refuses a cross-account read of a bucket policy, key or topic unless a
        policy grants it, so a destination in another account (the landing-zone layout: the
        bucket in a log-archive account, the key in a security account) is only diagnosable
        from that account. When the owner is not reached, the read is tried as the trail's
        owner (a policy may grant it) and a refusal names the account that would be needed.
        """
        owner = _arn_owner(d) or (fallback.account_id if d[0] != "bucket" else None)
        if d[0] == "bucket":
            owner = await self._bucket_owner(col, reached, d[1], fallback, region, t)
        if owner:
            self.owners[d] = owner
        reader = reached.get(owner) if owner else None
        if reader is None and owner and owner != fallback.account_id and d[0] in OWN_ACCOUNT:
            # Asked of another account, the answer would be about that account's own
            # resources ("no such log group"), not the owner's: nothing is asked.
            fact = Fact(d[0], d[1], None, None)
            return _not_reached(fact, owner, self.reach_hint, len(reached))
        fact = await self.reader.read(col, reader or fallback, d, region)
        if reader is None and fact.exists is None:
            fact = _not_reached(fact, owner, self.reach_hint, len(reached))
        return fact

    async def _bucket_owner(
        self,
        col: Collector,
        reached: dict[str, Account],
        name: str,
        first: Account,
        region: str,
        t: float,
    ) -> str | None:
        """Which reached account lists `name` (one ListBuckets per account per refresh).

        Bucket names carry no account; ListBuckets answers only the caller's own buckets.
        The trail owner's account is asked first (the usual case), the others only when
        it does not own the bucket.
        """
        names = await self._listed_buckets(col, first, region, t)
        if names is not None and name in names:
            return first.account_id
        others = [a for a in reached.values() if a.account_id != first.account_id]
        if not others or await self._bucket_missing(col, first, name, region):
            return None  # a deleted bucket has no owner to find: no account is asked
        # Asked a batch at a time: a 1,000-account Organization must not wait for its
        # accounts one after another, nor ask them all when an early one owns the bucket.
        for i in range(0, len(others), _OWNER_BATCH):
            batch = others[i : i + _OWNER_BATCH]
            found = await asyncio.gather(*(self._listed_buckets(col, a, region, t) for a in batch))
            for acct, listed in zip(batch, found, strict=True):
                if listed is not None and name in listed:
                    return acct.account_id
        return None

    async def _bucket_missing(self, col: Collector, acct: Account, name: str, region: str) -> bool:
        """S3 answers NoSuchBucket for a bucket that does not exist, whoever asks, and
        AccessDenied for one that exists in another account (GetBucketPolicy: a permission
        trailtop's read-only policy already has)."""
        try:
            await self.reader.call(col, acct, "s3", region, "get_bucket_policy", Bucket=name)
        except Exception as exc:  # noqa: BLE001 - only a 404 means missing
            return error_code(exc) in NOT_FOUND["bucket"]
        return False

    async def _listed_buckets(
        self, col: Collector, acct: Account, region: str, t: float
    ) -> frozenset[str] | None:
        """The buckets `acct` lists; one ListBuckets (pages) however many destinations ask
        for the same account at once."""
        cached = self._listed.get(acct.account_id)
        if cached is not None and t - cached[1] < self.refresh_seconds:
            return cached[0]
        task = self._listing.get(acct.account_id)
        if task is None:
            task = asyncio.ensure_future(self._list_buckets(col, acct, region, t))
            self._listing[acct.account_id] = task
            key = acct.account_id

            def forget(_done: asyncio.Future[frozenset[str] | None]) -> None:
                self._listing.pop(key, None)

            task.add_done_callback(forget)
        # Shielded: one asker cancelled does not cancel the others' answer.
        return await asyncio.shield(task)

    async def _list_buckets(
        self, col: Collector, acct: Account, region: str, t: float
    ) -> frozenset[str] | None:
        names: set[str] | None = set()
        try:
            token: str | None = None
            while True:
                kw: dict[str, Any] = {"ContinuationToken": token} if token else {}
                resp = await self.reader.call(col, acct, "s3", region, "list_buckets", **kw)
                assert names is not None
                names.update(b["Name"] for b in resp.get("Buckets", []))
                token = resp.get("ContinuationToken")
                if not token:
                    break
        except Exception as exc:  # noqa: BLE001 - then that account's buckets are unknown
            log.debug("ListBuckets in %s: %s", acct.account_id, describe_error(exc))
            names = None
        frozen = frozenset(names) if names is not None else None
        self._listed[acct.account_id] = (frozen, t)
        return frozen


def _trails_seen(views: Sequence[ViewInput]) -> dict[str, tuple[TrailConfig, Account]]:
    """Each trail ARN with its configuration and a viewer: the owner's view when there is
    one, so the configuration compared between sweeps does not depend on the views' order."""
    trails: dict[str, tuple[TrailConfig, Account]] = {}
    for v in views:
        arn = v.trail.arn
        if arn and (arn not in trails or v.key.account_id == v.trail.owner_account):
            trails[arn] = (v.trail, v.account)
    return trails


def _not_reached(fact: Fact, owner: str | None, hint: str, reached: int) -> Fact:
    """A destination read without its owner's credentials and refused: say whose they are."""
    if owner:
        how = hint.format(account=owner) if hint else f"read access in account {owner}"
        why = f"owned by account {owner}, which trailtop does not reach (needs {how})"
    else:
        why = (
            f"owned by none of the {reached} accounts trailtop reaches; reach the account "
            "that owns it (for a landing zone, the log-archive account) through assume_roles "
            "or the Organization role"
        )
    detail = f"{why}; {fact.error}" if fact.error else why
    return Fact(fact.kind, fact.ident, None, detail, foreign=False, data=fact.data)
