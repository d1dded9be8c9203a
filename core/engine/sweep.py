"""The engine: what is known between sweeps, and one sweep as a sequence of named phases.

A sweep runs, in order (each phase a method, each logged at debug level with its cost):
resolve accounts -> describe trails -> read statuses -> diagnose destinations -> judge
views (and plan fixes) -> find culprits -> assemble targets, placeholders and coverage.

Re-describe rule (trail configurations change rarely): an account-region is described on
the first sweep, then every `poll.describe_every_sweeps` sweeps, and at once when
- its last describe failed,
- a status read for one of its views says the trail is gone (TrailNotFoundException), or
- the operator asks for a full refresh.
Status is read for every view on every sweep: it is the thing being watched.

A first sweep that publishes partial snapshots (the TUI's) discovers and reads each account
on its own instead (core/engine/discovery.py `_first_rows`): rows appear as accounts answer.
When accounts are resolved is core/engine/resolve.py's.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.aws.clients import ClientPool, make_config
from core.aws.collect import Account, Collector, Limiter, TargetError, gather_settled
from core.aws.errors import describe_error, error_code, needs_sso_login
from core.aws.history import CulpritFinder
from core.engine.discovery import Planned, Span, StatusRound
from core.engine.org_coverage import (
    administers,
    apply_org_coverage,
    org_coverages,
    organization_trails,
    reads_trail,
    unknown_org_coverage,
)
from core.engine.protocols import Diagnoser, ViewInput
from core.engine.resolve import ResolvePhase
from core.engine.sweep_parts import (
    PhaseTimer,
    SweepPhase,
    changed,
    diagnostics_failed,
    placeholder,
)
from core.fix.documents import documents_from
from core.fix.model import ApplyResult, Plan
from core.fix.plans import attach_plan_ids, plans_for
from core.judge.evaluate import (
    Thresholds,
    coverage_gaps,
    judge_view,
    view_covers_region,
)
from core.model import (
    CoverageGap,
    Finding,
    Notice,
    Snapshot,
    State,
    SweepStats,
    TargetResult,
    TrailConfig,
    TrailView,
    ViewKey,
)
from core.mute import MuteBook, apply_mutes
from core.settings import Settings
from core.util.error_codes import CREDENTIAL, NOT_FOUND
from core.util.times import utcnow

if TYPE_CHECKING:
    from core.judge.facts import Destinations

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass
class _StatusMemo:
    status: dict[str, Any]
    at: datetime
    sweep: int


@dataclass
class Engine(ResolvePhase):
    """Holds what is known between sweeps; `sweep()` produces the next Snapshot."""

    settings: Settings
    endpoint_url: str | None = None
    clock: Clock = utcnow
    diagnoser: Diagnoser | None = None
    #: Who broke it: attaches `cause_event` to findings after judging.
    culprits: CulpritFinder | None = None
    #: Known, accepted findings: marked, and no longer counted (core/mute.py).
    mutes: MuteBook | None = None

    sweep_no: int = 0
    accounts: list[Account] = field(default_factory=list)
    account_errors: list[TargetError] = field(default_factory=list)
    trails: dict[tuple[str, str], list[TrailConfig]] = field(default_factory=dict)
    described_at: dict[tuple[str, str], int] = field(default_factory=dict)
    describe_errors: dict[tuple[str, str], str] = field(default_factory=dict)
    statuses: dict[str, _StatusMemo] = field(default_factory=dict)
    previous: Snapshot | None = None
    last_success_at: datetime | None = None
    _force_describe: set[tuple[str, str]] = field(default_factory=set)
    _readers_seen: dict[str, str] | None = None
    _notices: list[Notice] = field(default_factory=list)
    _force_all: bool = False
    _force_resolve: bool = False
    #: Profiles whose IAM Identity Center session ended during this sweep.
    _sso_login: set[str] = field(default_factory=set)
    _collector: Collector | None = None
    #: Organization trails of other accounts each account saw, by account, whose reader
    #: is reached: they are shown once, from the reader, with the accounts they cover.
    collapsed: dict[str, frozenset[str]] = field(default_factory=dict)
    #: Told what the sweep in flight is doing ("reading 1717 trail statuses"), for the UI.
    progress: Callable[[str], None] | None = None
    #: Each view's plans with what they were made from (`_plans`).
    _plans_made: dict[str, tuple[tuple[Any, ...], tuple[Any, ...], list[Plan]]] = field(
        default_factory=dict
    )
    #: Each fully read account's target results, reused while nothing about it changes.
    _ok_targets: dict[str, tuple[tuple[Any, ...], list[TargetResult]]] = field(default_factory=dict)

    @property
    def collector(self) -> Collector:
        if self._collector is None:
            poll = self.settings.poll
            config = make_config(
                connect_timeout=poll.connect_timeout_seconds,
                read_timeout=poll.read_timeout_seconds,
                max_attempts=poll.max_attempts,
                pool_limit=poll.concurrency,
            )
            endpoint = self.endpoint_url or self.settings.aws.endpoint_url or None
            self._collector = Collector(
                ClientPool(config, endpoint, fast_reads=poll.fast_reads),
                Limiter(poll.concurrency),
                clock=self.clock,
            )
        return self._collector

    def request_full_refresh(self) -> None:
        self._force_all = True

    def settle(self) -> float:
        """Between sweeps: collect the garbage the last one left in reference cycles.

        A sweep's exceptions, tracebacks and futures outlive the young collections that run
        during it, so they reach the oldest generation, which Python collects only once it
        has grown by a quarter. Left to that, a long-running process keeps many sweeps of
        such garbage at a time, and its resident size creeps up with each new high-water
        mark (the soak measured 1.2-1.5 MB per 100 sweeps on three of five seeds; collected
        here, 0.04-0.59 on all five). Run in the idle time of the monitor and of `watch`,
        never inside a sweep, and never raises (a failure is logged: it must not end a
        watch). Returns the CPU seconds the process spent meanwhile.
        """
        t0 = time.process_time()
        try:
            found = gc.collect()
        except Exception:  # noqa: BLE001 - a finaliser's error must not stop the engine
            log.warning("collecting garbage between sweeps failed", exc_info=True)
            found = -1
        spent = time.process_time() - t0
        log.debug("settle: %d unreachable objects collected in %.0f ms", found, 1000 * spent)
        return spent

    async def close(self) -> None:
        if self.culprits is not None:
            await self.culprits.close()
        if self._collector is not None:
            await self._collector.pool.close()
            self._collector = None

    # -- the sweep ------------------------------------------------------------------------

    def _say(self, what: str) -> None:
        if self.progress is not None:
            self.progress(what)

    async def sweep(self, publish: Callable[[Snapshot], None] | None = None) -> Snapshot:
        """One sweep. With `publish`, the first sweep also hands over partial snapshots:
        every second while accounts are discovered and read, and once every status is read
        (before destinations are diagnosed, the slow part of a cold start), so rows appear
        as accounts answer; later sweeps have the last complete one."""
        self.sweep_no += 1
        n = self.sweep_no
        started = self.clock()
        t0 = time.perf_counter()
        col = self.collector
        col.pool.counter.reset()
        force_all, self._force_all = self._force_all, False
        self._sso_login = set()
        timer = PhaseTimer(n)

        with timer(SweepPhase.RESOLVE):
            self._say("reaching accounts (profiles, roles, Organization)")
            await self._resolve_if_due(n, force_all)
        spans: list[Span] = [(a, a.regions) for a in self.accounts]
        first = publish if self.previous is None else None  # partials: first sweep only
        if first is not None:

            def emit(done: list[Account], so_far: StatusRound) -> None:
                # A region where nothing was found is confirmed only once every account
                # is read (an organization trail may cover it): until then no claim.
                part: list[Span] = [
                    (
                        a,
                        [
                            r
                            for r in a.regions
                            if self.trails.get((a.account_id, r))
                            or (a.account_id, r) in self.describe_errors
                        ],
                    )
                    for a in done
                ]
                first(self._partial(n, part, self._planned(done), so_far, started, t0))

            with timer(SweepPhase.DESCRIBE):  # with the status reads, account by account
                describe_calls, round_ = await self._first_rows(n, force_all, emit)
            planned = self._planned(self.accounts)
        else:
            with timer(SweepPhase.DESCRIBE):
                self._say(f"finding trails in {len(self.accounts)} accounts")
                describe_calls = await self._describe(n, force_all)
            planned = self._planned(self.accounts)
            with timer(SweepPhase.STATUS):
                self._say(f"reading {len(planned)} trail statuses")
                round_ = await self._read_statuses(planned, n)
        now = round_.now
        if first is not None:
            first(self._partial(n, spans, planned, round_, started, t0))
        with timer(SweepPhase.DIAGNOSE):
            self._say("diagnosing destinations (buckets, keys, topics, roles)")
            diag, diag_calls = await self._diagnose(planned, now, force_all)
        with timer(SweepPhase.JUDGE):
            views, plans = self._judge(planned, round_, diag, now, n)
        with timer(SweepPhase.CULPRITS):
            self._say("looking up who changed what (Event history)")
            views = await self._attach_culprits(views, now)
        with timer(SweepPhase.ASSEMBLE):
            targets, placeholders = self._targets(spans, round_.region_errors, now)
            views.extend(placeholders)
            coverage = self._coverage(spans, views)
            if self.mutes is not None:  # after coverage: it reads the judged states
                views, coverage, said = self.mutes.apply(views, coverage, now)
                self._notices.extend(said)
            live = {v.id for v in views}
            for vid in [k for k in self.statuses if k not in live]:
                del self.statuses[vid]  # a deleted trail: forget its status
            for vid in [k for k in self._plans_made if k not in live]:
                del self._plans_made[vid]

        throttled = col.pool.counter.throttled
        requests, _by_op = col.pool.counter.reset()
        finished = self.clock()
        if all(t.ok for t in targets):
            self.last_success_at = finished
        snap = Snapshot(
            sweep=n,
            generated_at=finished,
            started_at=started,
            duration=time.perf_counter() - t0,
            targets=tuple(targets),
            views=tuple(views),
            coverage=tuple(coverage),
            stats=SweepStats(
                requests=requests,
                describe_calls=describe_calls,
                status_calls=len(planned),
                diagnostic_calls=diag_calls,
                errors=sum(1 for t in targets if not t.ok),
                throttled=throttled,
            ),
            changed=changed(self.previous, views),
            removed=frozenset(
                v.id for v in (self.previous.views if self.previous else ()) if v.id not in live
            ),
            last_success_at=self.last_success_at,
            org_ids={a.account_id: a.org_id for a in self.accounts if a.org_id},
            plans=plans,
            notices=tuple(self._notices),
            organization_trails=organization_trails(views),
            sso_login_needed=tuple(
                sorted(
                    self._sso_login
                    | {e.profile or "default" for e in self.account_errors if e.sso_login}
                )
            ),
        )
        self._notices.clear()
        log.debug(
            "sweep %d: %d views, %d targets (%d in error), %d requests, %s",
            n,
            len(views),
            len(targets),
            snap.stats.errors,
            requests,
            timer.summary(),
        )
        self.previous = snap
        return snap

    def _partial(
        self,
        n: int,
        spans: list[Span],
        planned: list[Planned],
        round_: StatusRound,
        started: datetime,
        t0: float,
    ) -> Snapshot:
        """The first sweep's rows from their statuses alone: no root causes, plans or
        culprits yet, marked `partial` (nothing alerts or exits on it)."""
        views, _plans = self._judge(planned, round_, {}, round_.now, n)
        targets, placeholders = self._targets(spans, round_.region_errors, round_.now)
        views.extend(placeholders)
        coverage = self._coverage(spans, views)
        if self.mutes is not None:  # marked only; expiries are said by the complete sweep
            muted = apply_mutes(views, coverage, self.mutes.mutes, round_.now)
            views, coverage = muted.views, muted.coverage
        return Snapshot(
            sweep=n,
            generated_at=self.clock(),
            started_at=started,
            duration=time.perf_counter() - t0,
            targets=tuple(targets),
            views=tuple(views),
            coverage=tuple(coverage),
            organization_trails=organization_trails(views),
            partial=True,
        )

    # -- phases -----------------------------------------------------------------------------

    async def _read_statuses(self, planned: list[Planned], n: int) -> StatusRound:
        col = self.collector
        results = await gather_settled(planned, lambda v: col.status(v[0], v[1].region, v[2].arn))
        now = self.clock()
        out = StatusRound(now)
        for (a, key, _cfg), status, exc in results:
            if exc is None:
                self.statuses[key.id] = _StatusMemo(dict(status or {}), now, n)
                continue
            reason = describe_error(exc)
            out.errors[key.id] = reason
            if needs_sso_login(exc):
                self._sso_login.add(a.profile or "default")
            out.region_errors.setdefault((a.account_id, key.region), reason)
            code = error_code(exc)
            if code in NOT_FOUND["trail"]:
                self._force_describe.add((a.account_id, key.region))
            elif code in CREDENTIAL:
                # Credentials the endpoint no longer accepts (revoked, expired, or issued
                # before the endpoint restarted): reach the account afresh next sweep, and
                # re-read everything known about the estate (trails, destinations), which
                # may have changed meanwhile, instead of trusting what was cached.
                if col.forget_session(a.session):
                    log.info("session of %s rejected (%s): reaching it afresh", a.account_id, code)
                self._force_resolve = True
                self._force_all = True
        return out

    async def _diagnose(
        self, planned: list[Planned], now: datetime, force_all: bool
    ) -> tuple[dict[str, list[Finding]], int]:
        if self.diagnoser is None:
            return {}, 0
        readers = self.readers()
        inputs = [
            ViewInput(
                a,
                key,
                cfg,
                memo.status if (memo := self.statuses.get(key.id)) else None,
                administers=administers(readers, key.account_id, cfg),
            )
            for a, key, cfg in planned
        ]
        before = self.diagnoser.calls
        try:
            diag = await self.diagnoser.diagnose(
                self.collector, inputs, now, force_all, self.accounts
            )
        except Exception as exc:  # noqa: BLE001 - diagnostics never take the sweep down
            log.warning("diagnostics failed: %s", describe_error(exc), exc_info=True)
            failed = diagnostics_failed(describe_error(exc))
            diag = {key.id: [failed] for _a, key, _cfg in planned}
        return diag, self.diagnoser.calls - before

    def _plans(
        self,
        cfg: TrailConfig,
        key: ViewKey,
        findings: tuple[Finding, ...],
        dest: Destinations,
        org_ids: Mapping[str, str | None],
        administers: bool,
    ) -> list[Plan]:
        """The view's remediation plans, made again only when what they are made from
        changed: the trail, the finding codes, the destination facts (the same objects
        until the diagnoser reads them again), the organization, the bucket's owner."""
        owner = (
            self.diagnoser.owner_of("bucket", cfg.s3_bucket)
            if self.diagnoser is not None and cfg.s3_bucket
            else None
        )
        org_id = org_ids.get(cfg.owner_account)
        made_from = (cfg, tuple(f.code for f in findings), org_id, administers, owner)
        facts = tuple(getattr(dest, f.name) for f in fields(dest))
        kept = self._plans_made.get(key.id)
        if (
            kept is not None
            and kept[0] == made_from
            and all(a is b for a, b in zip(kept[1], facts, strict=True))
        ):
            return kept[2]
        docs = replace(documents_from(dest), bucket_owner=owner)
        plans = plans_for(cfg, key, findings, docs, org_id, administers=administers)
        self._plans_made[key.id] = (made_from, facts, plans)
        return plans

    def _judge(
        self,
        planned: list[Planned],
        round_: StatusRound,
        diag: Mapping[str, list[Finding]],
        now: datetime,
        n: int,
    ) -> tuple[list[TrailView], dict[str, Plan]]:
        th = self.settings.thresholds
        thresholds = Thresholds(
            s3_stale_seconds=th.s3_stale_seconds,
            cloudwatch_stale_seconds=th.cloudwatch_stale_seconds,
            digest_stale_seconds=th.digest_stale_seconds,
        )
        views: list[TrailView] = []
        plans: dict[str, Plan] = {}
        destinations = self.diagnoser.destinations if self.diagnoser is not None else {}
        org_ids = self.diagnoser.org_ids if self.diagnoser is not None else {}
        readers = self.readers()
        covers = org_coverages(
            self.accounts,
            self.account_errors,
            self.trails,
            self.collapsed,
            self.collector.org_listings,
            org_ids,
            readers,
        )
        for a, key, cfg in planned:
            memo = self.statuses.get(key.id)
            err = round_.errors.get(key.id)
            reads = reads_trail(readers, key.account_id, cfg)
            admin = administers(readers, key.account_id, cfg)
            j = judge_view(
                cfg,
                key,
                memo.status if memo else None,
                now,
                thresholds,
                status_error=err,
                last_success=memo.at if memo else None,
                diagnostics=diag.get(key.id, ()),
                administers=admin,
            )
            findings = j.findings
            # No finding, no plan (plans_for answers [] then): documents are not built.
            if findings and key.id in destinations and err is None:
                view_plans = self._plans(cfg, key, findings, destinations[key.id], org_ids, admin)
                if view_plans:
                    findings = attach_plan_ids(findings, view_plans)
                    plans.update((p.id, p) for p in view_plans)
            views.append(
                TrailView(
                    key=key,
                    profile=a.profile,
                    trail=cfg,
                    status=memo.status if memo else None,
                    findings=findings,
                    state=j.state,
                    account_alias=a.alias,
                    status_at=memo.at if memo else None,
                    status_sweep=memo.sweep if memo else 0,
                    stale=memo is not None and n - memo.sweep >= 2,
                    org_coverage=covers.get(cfg.arn) if reads else None,
                )
            )
        return views, plans

    async def _attach_culprits(self, views: list[TrailView], now: datetime) -> list[TrailView]:
        if self.culprits is None:
            return views
        try:
            return await self.culprits.attach(self.collector, self.accounts, views, now)
        except Exception as exc:  # noqa: BLE001 - who-broke-it never takes a sweep down
            log.warning("culprit lookup failed: %s", describe_error(exc), exc_info=True)
            return views

    # -- remediation ------------------------------------------------------------------------

    async def apply_plan(
        self,
        plan_id: str,
        *,
        confirm_extra: bool = False,
        bindings: Mapping[str, str] | None = None,
        refusal: str | None = None,
    ) -> tuple[ApplyResult, Snapshot | None]:
        """Apply one plan of the last snapshot, then sweep again at once (full refresh).

        ``refusal`` is the caller's own reason not to write (no terminal to confirm on, the
        operator cancelled): nothing is written, and the refusal is audited like any other.

        Everything that makes a write safe lives in core/fix/apply.py: the enabled
        switch, the extra confirmation, the re-read of the document, the audit line.
        """
        from core.engine.remediate import apply_plan

        return await apply_plan(
            self, plan_id, confirm_extra=confirm_extra, bindings=bindings, refusal=refusal
        )

    # -- helpers of the phases ----------------------------------------------------------------

    def _targets(
        self,
        spans: list[Span],
        region_errors: dict[tuple[str, str], str],
        now: datetime,
    ) -> tuple[list[TargetResult], list[TrailView]]:
        targets: list[TargetResult] = []
        placeholders: list[TrailView] = []
        erring = {k[0] for k in self.describe_errors}
        erring.update(k[0] for k in region_errors)
        for a, regions in spans:
            if a.account_id not in erring:
                # Every region read: the same results as last time, unless the account's
                # name or regions changed (17 objects an account, 1,000 accounts a sweep).
                ident = (a.profile, a.alias, tuple(regions))
                kept = self._ok_targets.get(a.account_id)
                if kept is None or kept[0] != ident:
                    made = [
                        TargetResult(a.profile, a.account_id, r, True, None, a.alias)
                        for r in regions
                    ]
                    kept = self._ok_targets[a.account_id] = (ident, made)
                targets.extend(kept[1])
                continue
            for r in regions:
                k = (a.account_id, r)
                err = self.describe_errors.get(k) or region_errors.get(k)
                targets.append(TargetResult(a.profile, a.account_id, r, err is None, err, a.alias))
                if err and not self.trails.get(k):
                    placeholders.append(placeholder(a.profile, a.account_id, r, err, a.alias, now))
        if len(self._ok_targets) > 2 * max(1, len(self.accounts)):
            live = {a.account_id for a in self.accounts}
            self._ok_targets = {k: v for k, v in self._ok_targets.items() if k in live}
        explicit = list(self.settings.aws.regions)
        for e in self.account_errors:
            for r in [e.region] if e.region else explicit or ["*"]:
                targets.append(TargetResult(e.profile, e.account_id, r, False, e.reason))
                placeholders.append(placeholder(e.profile, e.account_id, r, e.reason, None, now))
        return targets, placeholders

    def _coverage(self, spans: list[Span], views: list[TrailView]) -> list[CoverageGap]:
        enabled: dict[str, list[str]] = {}
        logging_: dict[tuple[str, str], bool | None] = {}
        for a, regions in spans:
            enabled.setdefault(a.account_id, []).extend(regions)
        for k in self.describe_errors:
            if k[0] in enabled and not self.trails.get(k) and k[1] in enabled[k[0]]:
                logging_[k] = None
        for v in views:
            k = (v.key.account_id, v.key.region)
            if not v.trail.arn:
                logging_[k] = None
                continue
            if logging_.get(k) is True:
                continue
            if v.state is State.UNKNOWN and v.status is None:
                logging_[k] = None
            elif view_covers_region(v.status, v.findings):
                logging_[k] = True
            elif k not in logging_:
                logging_[k] = False
        apply_org_coverage(views, enabled, logging_)
        unknown_org_coverage(views, self.accounts, self.collapsed, logging_)
        profiles = {a.account_id: a.profile for a in self.accounts}
        return coverage_gaps(enabled, logging_, profiles)


def engine_from_settings(
    settings: Settings, endpoint_url: str | None = None, clock: Clock = utcnow
) -> Engine:
    from core.aws.diagnose import DestinationDiagnoser

    diagnoser = DestinationDiagnoser(
        settings.poll.diagnose_refresh_seconds, reach_hint=_reach_hint(settings)
    )
    return Engine(
        settings,
        endpoint_url=endpoint_url,
        clock=clock,
        diagnoser=diagnoser,
        culprits=CulpritFinder(owner_of=diagnoser.owner_of),
        mutes=MuteBook.from_settings(settings),
    )


def _reach_hint(settings: Settings) -> str:
    """How this configuration would reach another account, for "not reached" findings."""
    org = settings.aws.organization
    if org.enabled:
        return (
            f"the Organization role {org.role_name} in account {{account}}, "
            "or a role of that account in aws.assume_roles"
        )
    return "a role of that account in aws.assume_roles, or organization fan-out"


async def sweep_once(settings: Settings, endpoint_url: str | None = None) -> Snapshot:
    engine = engine_from_settings(settings, endpoint_url)
    try:
        return await engine.sweep()
    finally:
        await engine.close()
