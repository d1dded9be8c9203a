"""The polling engine: sweeps, caching between sweeps, and the thread that hosts it.

Re-describe rule (trail configurations change rarely): an account-region is described on
the first sweep, then every `poll.describe_every_sweeps` sweeps, and at once when
- its last describe failed,
- a status read for one of its views says the trail is gone (TrailNotFoundException), or
- the operator asks for a full refresh.
Status is read for every view on every sweep: it is the thing being watched.

Accounts are resolved on the first sweep, every `describe_every_sweeps` sweeps, and on the
next sweep after any account-level error, so a fixed profile or role recovers without a
restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from core.aws.clients import CREDENTIAL_CODES, ClientPool, describe_error, error_code, make_config
from core.aws.collect import Account, Collector, Limiter, TargetError, gather_settled
from core.aws.history import CulpritFinder
from core.fix.plans import attach_plan_ids, documents_from, plans_for
from core.judge.evaluate import Thresholds, coverage_gaps, judge_view
from core.model import (
    CoverageGap,
    Finding,
    Snapshot,
    State,
    SweepStats,
    TargetResult,
    TrailConfig,
    TrailView,
    ViewKey,
)
from core.settings import Settings

if TYPE_CHECKING:
    from core.fix.apply import ApplyResult
from core.engine.protocols import EventCallback, SnapshotCallback

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ViewInput:
    """What diagnostics get for one view."""

    account: Account
    key: ViewKey
    trail: TrailConfig
    status: Mapping[str, Any] | None


class Diagnoser(Protocol):
    """Reads destinations and returns root-cause findings per view id (core/aws/diagnose.py)."""

    calls: int

    async def diagnose(
        self, collector: Collector, views: Sequence[ViewInput], now: datetime, force: bool
    ) -> dict[str, list[Finding]]: ...


@dataclass
class _StatusMemo:
    status: dict[str, Any]
    at: datetime
    sweep: int


@dataclass
class Engine:
    """Holds what is known between sweeps; `sweep()` produces the next Snapshot."""

    settings: Settings
    endpoint_url: str | None = None
    clock: Clock = utcnow
    diagnoser: Diagnoser | None = None
    #: Who broke it (issue 9): attaches `cause_event` to findings after judging.
    culprits: CulpritFinder | None = None

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
    _force_all: bool = False
    _force_resolve: bool = False
    _collector: Collector | None = None

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
            self._collector = Collector(ClientPool(config, endpoint), Limiter(poll.concurrency))
        return self._collector

    def request_full_refresh(self) -> None:
        self._force_all = True

    async def close(self) -> None:
        if self.culprits is not None:
            await self.culprits.close()
        if self._collector is not None:
            await self._collector.pool.close()
            self._collector = None

    # -- the sweep ------------------------------------------------------------------------

    async def sweep(self) -> Snapshot:
        self.sweep_no += 1
        n = self.sweep_no
        started = self.clock()
        t0 = time.perf_counter()
        col = self.collector
        col.pool.counter.reset()
        every = self.settings.poll.describe_every_sweeps
        force_all = self._force_all
        self._force_all = False

        force_resolve, self._force_resolve = self._force_resolve, False
        if n == 1 or force_all or force_resolve or self.account_errors or (n - 1) % every == 0:
            await self._resolve_accounts()

        pairs = [(a, r) for a in self.accounts for r in a.regions]
        to_describe = [
            (a, r)
            for a, r in pairs
            if force_all
            or (a.account_id, r) not in self.trails
            or (a.account_id, r) in self.describe_errors
            or (a.account_id, r) in self._force_describe
            or n - self.described_at.get((a.account_id, r), 0) >= every
        ]
        self._force_describe.clear()
        describe_calls = len(to_describe)
        for (a, r), trails, exc in await gather_settled(to_describe, lambda p: col.describe(*p)):
            k = (a.account_id, r)
            if exc is not None:
                self.describe_errors[k] = describe_error(exc)
            else:
                self.describe_errors.pop(k, None)
                self.trails[k] = list(trails or [])
                self.described_at[k] = n

        view_inputs: list[tuple[Account, ViewKey, TrailConfig]] = []
        for a, r in pairs:
            for cfg in self.trails.get((a.account_id, r), []):
                view_inputs.append((a, ViewKey(a.account_id, r, cfg.arn), cfg))

        status_errors: dict[str, str] = {}
        region_status_errors: dict[tuple[str, str], str] = {}
        results = await gather_settled(
            view_inputs, lambda v: col.status(v[0], v[1].region, v[2].arn)
        )
        now = self.clock()
        for (a, key, _cfg), status, exc in results:
            if exc is not None:
                reason = describe_error(exc)
                status_errors[key.id] = reason
                region_status_errors.setdefault((a.account_id, key.region), reason)
                code = error_code(exc)
                if code == "TrailNotFoundException":
                    self._force_describe.add((a.account_id, key.region))
                elif code in CREDENTIAL_CODES and col.forget_role_session(a.session):
                    # A revoked or expired role session: assume the role again next sweep
                    # instead of waiting for botocore's refresh at the session's expiry.
                    self._force_resolve = True
            else:
                self.statuses[key.id] = _StatusMemo(dict(status or {}), now, n)

        diag: dict[str, list[Finding]] = {}
        diag_calls = 0
        if self.diagnoser is not None:
            inputs = [
                ViewInput(
                    a, key, cfg, self.statuses[key.id].status if key.id in self.statuses else None
                )
                for a, key, cfg in view_inputs
            ]
            before = self.diagnoser.calls
            try:
                diag = await self.diagnoser.diagnose(col, inputs, now, force_all)
            except Exception as exc:  # noqa: BLE001 - diagnostics never take the sweep down
                diag = {}
                for _a, key, _cfg in view_inputs:
                    diag[key.id] = [_diagnostics_failed(describe_error(exc))]
            diag_calls = self.diagnoser.calls - before

        thresholds = Thresholds(
            self.settings.thresholds.s3_stale_seconds,
            self.settings.thresholds.cloudwatch_stale_seconds,
        )
        views: list[TrailView] = []
        plans: dict[str, Any] = {}
        destinations: Mapping[str, Any] = getattr(self.diagnoser, "destinations", {}) or {}
        org_ids: Mapping[str, str | None] = getattr(self.diagnoser, "org_ids", {}) or {}
        for a, key, cfg in view_inputs:
            memo = self.statuses.get(key.id)
            err = status_errors.get(key.id)
            j = judge_view(
                cfg,
                key,
                memo.status if memo else None,
                now,
                thresholds,
                status_error=err,
                last_success=memo.at if memo else None,
                diagnostics=diag.get(key.id, ()),
            )
            findings = j.findings
            if key.id in destinations and err is None:
                view_plans = plans_for(
                    cfg,
                    key,
                    findings,
                    documents_from(destinations[key.id]),
                    org_ids.get(a.account_id),
                )
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
                )
            )

        if self.culprits is not None:
            with contextlib.suppress(Exception):  # who-broke-it never takes a sweep down
                views = await self.culprits.attach(col, self.accounts, views, now)

        targets, placeholders = self._targets(pairs, region_status_errors, now)
        views.extend(placeholders)
        coverage = self._coverage(pairs, views)
        # Forget statuses of views that no longer exist (a deleted trail).
        live = {v.id for v in views}
        for vid in [k for k in self.statuses if k not in live]:
            del self.statuses[vid]

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
                status_calls=len(view_inputs),
                diagnostic_calls=diag_calls,
                errors=sum(1 for t in targets if not t.ok),
            ),
            changed=_changed(self.previous, views),
            removed=frozenset(
                v.id for v in (self.previous.views if self.previous else ()) if v.id not in live
            ),
            last_success_at=self.last_success_at,
            org_ids={a.account_id: a.org_id for a in self.accounts if a.org_id},
            plans=plans,
        )
        self.previous = snap
        return snap

    async def apply_plan(
        self,
        plan_id: str,
        *,
        confirm_extra: bool = False,
        bindings: Mapping[str, str] | None = None,
    ) -> tuple[ApplyResult, Snapshot | None]:
        """Apply one plan of the last snapshot, then sweep again at once (full refresh).

        Everything that makes a write safe lives in core/fix/apply.py.apply: the enabled
        switch, the extra confirmation, the re-read of the document, the audit line.
        """
        from core.fix.apply import ApplyResult, apply, remediation_session
        from core.fix.plans import bind

        plan = self.previous.plans.get(plan_id) if self.previous else None
        if plan is None:
            return ApplyResult(plan_id, "refused", f"no plan {plan_id} in the current sweep"), None
        if bindings:
            plan = bind(plan, bindings)
        account = next((a for a in self.accounts if a.account_id == plan.account_id), None)
        if account is None:
            return ApplyResult(
                plan_id, "refused", f"account {plan.account_id} is not reachable"
            ), None
        rem = self.settings.remediation
        col = self.collector
        try:
            session = (
                await remediation_session(
                    rem, account.session, col, account_id=account.account_id, region=plan.region
                )
                if rem.enabled
                else account.session
            )
        except Exception as exc:  # noqa: BLE001
            return ApplyResult(
                plan_id, "refused", "remediation credentials: " + describe_error(exc)
            ), None
        result = await apply(
            plan,
            col,
            session,
            enabled=rem.enabled,
            audit_path=rem.audit_log,
            confirm_extra=confirm_extra,
            view_id=plan.view_id,
        )
        if result.result == "refused":
            return result, None
        self.request_full_refresh()
        return result, await self.sweep()

    async def _resolve_accounts(self) -> None:
        aws = self.settings.aws
        org_role = aws.organization.role_name if aws.organization.enabled else None
        accounts, errors = await self.collector.resolve_accounts(
            list(aws.profiles),
            list(aws.regions),
            [(r.role_arn, r.external_id, r.session_name) for r in aws.assume_roles],
            org_role,
        )
        if accounts or not self.accounts:
            # An account whose route failed this time (its profile, role or Organization
            # listing errored) keeps its last session: its views then fail call by call with
            # the real reason and keep their last good data, instead of vanishing.
            found = {a.account_id for a in accounts}
            failed = {e.profile for e in errors}
            accounts += [
                a for a in self.accounts if a.account_id not in found and a.profile in failed
            ]
            self.accounts = accounts
        self.account_errors = errors

    def _targets(
        self,
        pairs: list[tuple[Account, str]],
        region_errors: dict[tuple[str, str], str],
        now: datetime,
    ) -> tuple[list[TargetResult], list[TrailView]]:
        targets: list[TargetResult] = []
        placeholders: list[TrailView] = []
        for a, r in pairs:
            k = (a.account_id, r)
            err = self.describe_errors.get(k) or region_errors.get(k)
            targets.append(TargetResult(a.profile, a.account_id, r, err is None, err, a.alias))
            if err and k not in self.trails:
                placeholders.append(_placeholder(a.profile, a.account_id, r, err, a.alias, now))
        explicit = list(self.settings.aws.regions)
        for e in self.account_errors:
            for r in [e.region] if e.region else explicit or ["*"]:
                targets.append(TargetResult(e.profile, e.account_id, r, False, e.reason))
                placeholders.append(_placeholder(e.profile, e.account_id, r, e.reason, None, now))
        return targets, placeholders

    def _coverage(
        self, pairs: list[tuple[Account, str]], views: list[TrailView]
    ) -> list[CoverageGap]:
        enabled: dict[str, list[str]] = {}
        logging: dict[tuple[str, str], bool | None] = {}
        for a, r in pairs:
            enabled.setdefault(a.account_id, []).append(r)
            if (a.account_id, r) in self.describe_errors and (a.account_id, r) not in self.trails:
                logging[(a.account_id, r)] = None
        for v in views:
            k = (v.key.account_id, v.key.region)
            if not v.trail.arn:
                logging[k] = None
                continue
            if logging.get(k) is True:
                continue
            if v.state is State.UNKNOWN and v.status is None:
                logging[k] = None
            elif v.status is not None and v.status.get("IsLogging"):
                logging[k] = True
            elif k not in logging:
                logging[k] = False
        profiles = {a.account_id: a.profile for a in self.accounts}
        return coverage_gaps(enabled, logging, profiles)


def _diagnostics_failed(reason: str) -> Finding:
    from core.model import Channel, Severity

    return Finding(
        "DIAGNOSTICS_INCOMPLETE",
        Severity.INFO,
        Channel.TRAIL,
        f"Destinations could not be diagnosed: {reason}",
        {"reason": reason},
        "See the reason; the status-derived findings still apply.",
    )


def _placeholder(
    profile: str | None,
    account_id: str | None,
    region: str,
    reason: str,
    alias: str | None,
    now: datetime,
) -> TrailView:
    """A row for a target that could not be read at all: unknown, with its reason."""
    from core.judge.evaluate import status_unavailable

    label = account_id or f"profile:{profile or 'default'}"
    return TrailView(
        key=ViewKey(label, region, ""),
        profile=profile,
        trail=TrailConfig(name="(unreachable)", arn="", home_region=region),
        status=None,
        findings=(status_unavailable(reason, None, now),),
        state=State.UNKNOWN,
        account_alias=alias,
    )


def _signature(v: TrailView) -> tuple[Any, ...]:
    st = v.status or {}
    return (
        v.state,
        tuple(f.code for f in v.findings),
        st.get("IsLogging"),
        st.get("LatestDeliveryError"),
        st.get("LatestCloudWatchLogsDeliveryError"),
        st.get("LatestNotificationError"),
        st.get("LatestDigestDeliveryError"),
        v.stale,
        tuple((f.cause_event or {}).get("event_id") for f in v.findings),
    )


def _changed(prev: Snapshot | None, views: list[TrailView]) -> frozenset[str]:
    if prev is None:
        return frozenset()
    before = {v.id: _signature(v) for v in prev.views}
    return frozenset(v.id for v in views if before.get(v.id) != _signature(v))


def engine_from_settings(
    settings: Settings, endpoint_url: str | None = None, clock: Clock = utcnow
) -> Engine:
    from core.aws.diagnose import DestinationDiagnoser

    return Engine(
        settings,
        endpoint_url=endpoint_url,
        clock=clock,
        diagnoser=DestinationDiagnoser(settings.poll.diagnose_refresh_seconds),
        culprits=CulpritFinder(),
    )


async def sweep_once(settings: Settings, endpoint_url: str | None = None) -> Snapshot:
    engine = engine_from_settings(settings, endpoint_url)
    try:
        return await engine.sweep()
    finally:
        await engine.close()


class Monitor:
    """A SnapshotSource: sweeps on the engine's own event loop in a background thread.

    Response parsing (~1 ms CPU per request) happens on this thread's loop, never on the
    UI's. Sweeps never overlap: the next one is armed only when the last has finished.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self, on_snapshot: SnapshotCallback, on_event: EventCallback | None = None) -> None:
        if self._thread is not None:
            return
        self._on_snapshot = on_snapshot
        self._on_event = on_event or (lambda _p, _d: None)
        self._thread = threading.Thread(target=self._main, name="trailtop-engine", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)

    def refresh(self, view_id: str | None = None) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    def full_refresh(self) -> None:
        self.engine.request_full_refresh()
        self.refresh()

    def apply_plan(
        self,
        plan_id: str,
        on_done: Callable[[Any, Snapshot | None], None],
        *,
        confirm_extra: bool = False,
        bindings: Mapping[str, str] | None = None,
    ) -> None:
        """Apply a plan on the engine's loop; `on_done(result, snapshot)` from its thread.

        The fresh snapshot also goes to the regular snapshot callback, so every screen
        shows at once whether the finding cleared.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            on_done(None, None)
            return

        async def run() -> None:
            async with self._sweep_lock:
                try:
                    result, snap = await self.engine.apply_plan(
                        plan_id, confirm_extra=confirm_extra, bindings=bindings
                    )
                except Exception as exc:  # noqa: BLE001
                    from core.fix.apply import ApplyResult

                    result, snap = ApplyResult(plan_id, "failed", describe_error(exc)), None
            if snap is not None:
                with contextlib.suppress(Exception):
                    self._on_snapshot(snap)
            on_done(result, snap)

        asyncio.run_coroutine_threadsafe(run(), loop)

    def stop(self) -> None:
        """Stop now: the sweep in flight is cancelled, not waited for."""
        self._stopping.set()
        self.refresh()
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=10)
        self._thread = None

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self._run())
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._task)
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(self.engine.close())
            loop.close()

    async def _run(self) -> None:
        self._wake = asyncio.Event()
        self._sweep_lock = asyncio.Lock()
        self._ready.set()
        interval = self.engine.settings.poll.interval_seconds
        while not self._stopping.is_set():
            self._wake.clear()
            self._on_event("sweep-started", f"sweep {self.engine.sweep_no + 1}")
            try:
                async with self._sweep_lock:
                    snap = await self.engine.sweep()
            except Exception as exc:  # noqa: BLE001 - a bug in one sweep must not kill the watch
                self._on_event("sweep-failed", describe_error(exc))
            else:
                try:
                    self._on_snapshot(snap)
                except Exception as exc:  # noqa: BLE001
                    self._on_event("callback-failed", f"{type(exc).__name__}")
                self._on_event("sweep-finished", f"sweep {snap.sweep}")
            if self._stopping.is_set():
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
