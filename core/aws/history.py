"""Event history I/O for "who broke it": LookupEvents, rate-limited and cached.

`LookupEvents` allows 2 requests per second per account per region. Every call here goes
through one `LookupLimiter` (shared by every engine in the process unless one is passed),
keeps what it found per (account, region, lookup attribute), so asking again fetches only
the stretch since the last fetch (minus `overlap`: Event history shows events a few minutes
late).

Which lookups: first one page (50 events, newest first) by `ResourceName` for the resource.
When that page is full, the resource is busy (a bucket's or key's history fills with the
reads and the KMS calls each delivery makes), so the few write events that can cause the
finding are asked by `EventName` instead, in the account that owns the resource, each up to
`max_pages` pages: the culprit is found behind thousands of reads at a cost that follows the
writes, not the reads. LookupEvents takes one lookup attribute per call.

When lookups happen (`CulpritFinder`, owned by the engine, run after judging):
- a finding whose code some event can cause (`core.judge.culprit.EVENT_RULES`) appears on a view,
  or changes (its channel's error text or the trail's configuration changed): its resources
  are asked about once (dedup across findings and views: a bucket shared by 17 views of a
  multi-region trail is one lookup). The trail itself (UpdateTrail, PutEventSelectors) is
  asked only when the resources show nothing at or after the last good delivery;
- a finding left without a fitting culprit is asked about again `retry_after` seconds after
  it appeared (60 s, 5 min, 15 min by default: CloudTrail's own delay), then never;
- nothing else: a steady broken estate costs no LookupEvents at all, sweep after sweep.
Lookups run as tasks on the engine's loop; a sweep waits for them at most `wait_seconds`
(None: until done, as `--once` needs) and attaches what is known; the rest lands next sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig

from core.aws.clients import ClientPool
from core.aws.destination_reads import bucket_region
from core.aws.errors import describe_error, error_code
from core.codes import Code
from core.judge.cause_rules import codes_with_causes, writes_for
from core.judge.cause_targets import Target, targets_for
from core.judge.culprit import Event, anchor_of, candidates, cause_event, parse_event, window_start
from core.model import Finding, TrailConfig, TrailView
from core.util.error_codes import THROTTLE

if TYPE_CHECKING:
    from core.aws.collect import Account, Collector

log = logging.getLogger(__name__)


LookupKey = tuple[str, str, str, str]  # (account, region, attribute key, attribute value)
RESOURCE_NAME = "ResourceName"
EVENT_NAME = "EventName"


class LookupLimiter:
    """At most `rate` LookupEvents per second per (account, region), measured at the server.

    `lanes = floor(rate)` requests may be in flight per key; a lane is free again `lanes /
    rate` seconds after its last request *finished*. Any window of that length then holds at
    most `lanes` arrivals, whatever the network delay, because two requests on one lane are
    at least a window apart end-to-start. Thread- and loop-safe (no asyncio primitives).
    """

    def __init__(self, rate: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.lanes = max(1, math.floor(rate))
        self.window = self.lanes / rate
        self._clock = clock
        self._lock = threading.Lock()
        self._free: dict[tuple[str, str], list[float]] = {}
        self.poll = 0.02

    async def acquire(self, key: tuple[str, str]) -> int:
        while True:
            with self._lock:
                lanes = self._free.setdefault(key, [0.0] * self.lanes)
                now = self._clock()
                i = min(range(len(lanes)), key=lanes.__getitem__)
                if lanes[i] <= now:
                    lanes[i] = math.inf  # busy until released
                    return i
                wait = self.poll if lanes[i] == math.inf else lanes[i] - now
            await asyncio.sleep(wait)

    def release(self, key: tuple[str, str], lane: int) -> None:
        with self._lock:
            self._free[key][lane] = self._clock() + self.window


#: One limiter per process: two engines polling the same accounts share AWS's limit too.
SHARED_LIMITER = LookupLimiter()


@dataclass
class _Cached:
    start: datetime
    end: datetime
    events: dict[str, Event] = field(default_factory=dict)
    error: str | None = None
    #: False when the last fetch stopped at its page limit with more events left.
    complete: bool = True


class EventHistory:
    """LookupEvents by one attribute per (account, region), paginated, limited, cached."""

    def __init__(
        self,
        limiter: LookupLimiter | None = None,
        max_pages: int = 10,
        overlap: timedelta = timedelta(minutes=15),
        throttle_retries: int = 3,
    ) -> None:
        self.limiter = limiter or SHARED_LIMITER
        self.max_pages = max_pages
        self.overlap = overlap
        self.throttle_retries = throttle_retries
        #: LookupEvents requests sent (pages, retries included).
        self.requests = 0
        self._cache: dict[LookupKey, _Cached] = {}
        self._inflight: dict[LookupKey, asyncio.Future[_Cached]] = {}
        self._pool: ClientPool | None = None

    def cached(self, key: LookupKey) -> Sequence[Event]:
        c = self._cache.get(key)
        return list(c.events.values()) if c is not None else []

    def complete(self, key: LookupKey) -> bool:
        """Whether the last fetch of `key` saw every event of its window."""
        c = self._cache.get(key)
        return c is None or c.complete

    def error(self, key: LookupKey) -> str | None:
        c = self._cache.get(key)
        return c.error if c is not None else None

    def _client_pool(self, col: Collector) -> ClientPool:
        # Own clients with retries off: a botocore retry would be a request the limiter
        # never saw. Throttling is retried here, through the limiter.
        if self._pool is None:
            opts = dict(col.pool.config._user_provided_options)
            opts["retries"] = {"mode": "standard", "total_max_attempts": 1}
            self._pool = col.derived_pool(AioConfig(**opts))
        return self._pool

    async def events(
        self,
        col: Collector,
        account: Account,
        region: str,
        resource: str,
        start: datetime,
        now: datetime,
        fresh: bool,
        *,
        attribute: str = RESOURCE_NAME,
        max_pages: int | None = None,
    ) -> Sequence[Event]:
        """Events whose `attribute` is `resource` (a ResourceName, or an EventName) since
        `start`. With `fresh`, data fetched before `now` is topped up first; otherwise the
        cache answers whenever it covers `start`."""
        key = (account.account_id, region, attribute, resource)
        c = self._cache.get(key)
        if c is not None and c.error is None and c.start <= start and (not fresh or c.end >= now):
            return list(c.events.values())
        pending = self._inflight.get(key)
        if pending is None:
            pages = self.max_pages if max_pages is None else max_pages
            pending = asyncio.ensure_future(self._fetch(col, account, key, start, now, pages))
            self._inflight[key] = pending
            pending.add_done_callback(lambda _f: self._inflight.pop(key, None))
        got = await asyncio.shield(pending)
        if got.error is not None:
            raise LookupFailed(got.error)
        return list(got.events.values())

    async def _fetch(
        self,
        col: Collector,
        account: Account,
        key: LookupKey,
        start: datetime,
        now: datetime,
        pages: int,
    ) -> _Cached:
        old = self._cache.get(key)
        since = start
        merged: dict[str, Event] = {}
        if old is not None and old.error is None and old.start <= start:
            since = max(start, old.end - self.overlap)
            # Only what this window needs is kept: on a busy resource, keeping every event
            # ever fetched would grow for as long as trailtop runs.
            merged = {k: ev for k, ev in old.events.items() if ev.time >= start}
        try:
            found, complete = await self._lookup(col, account, key, since, pages)
            for ev in found:
                merged[ev.event_id or f"{ev.name}@{ev.time.isoformat()}"] = ev
        except Exception as exc:  # noqa: BLE001 - recorded; the finder retries on its schedule
            log.debug("LookupEvents %s: %s", key, describe_error(exc))
            failed = _Cached(start, now, dict(old.events) if old else {}, describe_error(exc))
            self._cache[key] = failed
            return failed
        done = _Cached(start, now, merged, complete=complete)
        self._cache[key] = done
        return done

    async def _lookup(
        self, col: Collector, account: Account, key: LookupKey, since: datetime, pages: int
    ) -> tuple[list[Event], bool]:
        _acct, region, attribute, value = key
        pool = self._client_pool(col)
        out: list[Event] = []
        token: str | None = None
        for _page in range(pages):
            kw: dict[str, Any] = {
                "LookupAttributes": [{"AttributeKey": attribute, "AttributeValue": value}],
                "StartTime": since,
                "MaxResults": 50,
            }
            if token:
                kw["NextToken"] = token
            resp = await self._limited(pool, account, region, kw)
            for raw in resp.get("Events", []):
                ev = parse_event(raw)
                if ev is not None:
                    out.append(ev)
            token = resp.get("NextToken")
            if not token:
                break
        return out, not token

    async def _limited(
        self, pool: ClientPool, account: Account, region: str, kw: dict[str, Any]
    ) -> Any:
        lkey = (account.account_id, region)
        attempt = 0
        while True:
            lane = await self.limiter.acquire(lkey)
            try:
                self.requests += 1
                return await pool.call(account.session, "cloudtrail", region, "lookup_events", **kw)
            except Exception as exc:
                if error_code(exc) not in THROTTLE or attempt >= self.throttle_retries:
                    raise
                attempt += 1
            finally:
                self.limiter.release(lkey, lane)

    async def close(self) -> None:
        for fut in list(self._inflight.values()):
            fut.cancel()
        for fut in list(self._inflight.values()):
            with contextlib.suppress(BaseException):
                await fut
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class LookupFailed(RuntimeError):
    pass


# -- the engine's side ----------------------------------------------------------------------

_ERROR_FIELDS = {
    "s3": "LatestDeliveryError",
    "kms": "LatestDeliveryError",
    "sns": "LatestNotificationError",
    "cloudwatch": "LatestCloudWatchLogsDeliveryError",
}


def _finding_signature(f: Finding, v: TrailView) -> tuple[Any, ...]:
    """What makes a finding 'changed': its code, its channel's raw error, the trail config."""
    st = v.status or {}
    err_field = (
        "LatestDigestDeliveryError"
        if f.code == Code.DIGEST_DELIVERY_ERROR
        else _ERROR_FIELDS.get(f.channel.value)
    )
    return (f.code, st.get(err_field) if err_field else st.get("IsLogging"), v.trail)


@dataclass
class _Track:
    signature: tuple[Any, ...]
    due_at: datetime | None
    attempts: int = 0
    task: asyncio.Task[None] | None = None
    error: str | None = None


class CulpritFinder:
    """Attaches `cause_event` to findings (see the module docstring for when it looks)."""

    def __init__(
        self,
        history: EventHistory | None = None,
        wait_seconds: float | None = None,
        retry_after: Sequence[float] = (60.0, 300.0, 900.0),
        default_days: float = 7.0,
        owner_of: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.history = history or EventHistory()
        #: Who owns a destination, e.g. ("bucket", name) -> account (the diagnoser knows).
        self.owner_of = owner_of or (lambda _kind, _ident: None)
        self.wait_seconds = wait_seconds
        self.retry_after = tuple(retry_after)
        self.default_days = default_days
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._bucket_regions: dict[tuple[str, str], str | None] = {}
        self._codes = codes_with_causes()

    @property
    def lookups(self) -> int:
        return self.history.requests

    async def attach(
        self,
        col: Collector,
        accounts: Iterable[Account],
        views: Sequence[TrailView],
        now: datetime,
    ) -> list[TrailView]:
        by_id = {a.account_id: a for a in accounts}
        live: set[tuple[str, str]] = set()
        started: list[asyncio.Task[None]] = []
        for v in views:
            if not v.trail.arn:
                continue
            for f in v.findings:
                if f.code not in self._codes:
                    continue
                tk: tuple[str, str] = (v.id, f.code)
                live.add(tk)
                sig = _finding_signature(f, v)
                tr = self._tracks.get(tk)
                if tr is None or tr.signature != sig:
                    if tr is not None and tr.task is not None:
                        tr.task.cancel()
                    tr = _Track(sig, now)
                    self._tracks[tk] = tr
                if tr.due_at is not None and now >= tr.due_at and tr.task is None:
                    tr.due_at = None
                    tr.task = asyncio.ensure_future(self._resolve(col, by_id, v, f, tr, now))
                    started.append(tr.task)
        for tk in [k for k in self._tracks if k not in live]:
            gone = self._tracks.pop(tk)
            if gone.task is not None:
                gone.task.cancel()
        pending = [t.task for t in self._tracks.values() if t.task is not None]
        if pending and (self.wait_seconds is None or self.wait_seconds > 0):
            await asyncio.wait(pending, timeout=self.wait_seconds)
        return [self._attached(v, now) for v in views]

    def _attached(self, v: TrailView, now: datetime) -> TrailView:
        if not v.trail.arn:
            return v
        changed = False
        out: list[Finding] = []
        for f in v.findings:
            ce = self._pick(v, f) if f.code in self._codes else None
            if ce is not None and ce != f.cause_event:
                out.append(replace(f, cause_event=ce))
                changed = True
            else:
                out.append(f)
        return replace(v, findings=tuple(out)) if changed else v

    def _bucket_owner(self, trail: TrailConfig) -> str:
        owner = self.owner_of("bucket", trail.s3_bucket) if trail.s3_bucket else None
        return owner or trail.owner_account

    def _targets(self, v: TrailView, f: Finding) -> list[Target]:
        owner = self._bucket_owner(v.trail)
        bregion = self._bucket_regions.get((owner, v.trail.s3_bucket or ""))
        return targets_for(f.code, v.trail, v.status, f.evidence, bregion, owner)

    def _lookup_keys(self, t: Target, code: str) -> list[LookupKey]:
        """The lookups that answer for `t`: its ResourceName page, and, when that page was
        full (a busy resource), the EventName lookups of the writes that can cause `code`."""
        first: LookupKey = (t.account, t.region, RESOURCE_NAME, t.lookup)
        if self.history.complete(first):
            return [first]
        return [first, *((t.account, t.region, EVENT_NAME, n) for n in writes_for(code, t.kind))]

    def _known_events(self, tgts: Sequence[Target], code: str) -> list[Event]:
        return [e for t in tgts for k in self._lookup_keys(t, code) for e in self.history.cached(k)]

    def _pick(self, v: TrailView, f: Finding) -> dict[str, Any] | None:
        tgts = self._targets(v, f)
        return cause_event(f.code, v.trail, v.status, self._known_events(tgts, f.code), tgts)

    async def _resolve(
        self,
        col: Collector,
        accounts: Mapping[str, Account],
        v: TrailView,
        f: Finding,
        tr: _Track,
        now: datetime,
    ) -> None:
        try:
            if f.code != Code.LOGGING_STOPPED and v.trail.s3_bucket:
                await self._bucket_region(col, accounts, v.trail)
            tgts = self._targets(v, f)
            _field, anchor = anchor_of(f.code, v.status)
            start = window_start([anchor], now, self.default_days)
            errors: list[str] = []
            for phase in (1, 2):
                batch = [t for t in tgts if t.phase == phase and t.account in accounts]
                errors += await self._ask(col, accounts, batch, f.code, start, now)
                events = self._known_events(tgts, f.code)
                best = candidates(f.code, v.trail, v.status, events, tgts)
                if best and best[0].tier == 0:
                    break
            tr.error = "; ".join(errors) or None
            good = bool(best) and best[0].tier <= 1
            if not good and tr.attempts < len(self.retry_after):
                # Event history lags a few minutes: ask again later, a bounded number of times.
                tr.due_at = now + timedelta(seconds=self.retry_after[tr.attempts])
                tr.attempts += 1
        finally:
            tr.task = None

    async def _ask(
        self,
        col: Collector,
        accounts: Mapping[str, Account],
        batch: Sequence[Target],
        code: str,
        start: datetime,
        now: datetime,
    ) -> list[str]:
        """One ResourceName page per target; EventName lookups for the busy ones."""
        errors: list[str] = []

        async def one(t: Target, attribute: str, value: str, pages: int | None) -> None:
            try:
                await self.history.events(
                    col,
                    accounts[t.account],
                    t.region,
                    value,
                    start,
                    now,
                    fresh=True,
                    attribute=attribute,
                    max_pages=pages,
                )
            except LookupFailed as exc:
                errors.append(str(exc))

        await asyncio.gather(*(one(t, RESOURCE_NAME, t.lookup, 1) for t in batch))
        busy = [
            (t, name)
            for t in batch
            if not self.history.complete((t.account, t.region, RESOURCE_NAME, t.lookup))
            for name in writes_for(code, t.kind)
        ]
        await asyncio.gather(*(one(t, EVENT_NAME, name, None) for t, name in busy))
        return errors

    async def _bucket_region(
        self, col: Collector, accounts: Mapping[str, Account], trail: TrailConfig
    ) -> None:
        k = (self._bucket_owner(trail), trail.s3_bucket or "")
        acct = accounts.get(k[0])
        if k in self._bucket_regions or acct is None:
            return
        self._bucket_regions[k] = None
        try:
            resp = await col.call(
                acct.session, "s3", trail.home_region, "get_bucket_location", Bucket=k[1]
            )
        except Exception as exc:  # noqa: BLE001 - gone or not readable: the trail's region it is
            log.debug("bucket region of %s: %s", k[1], describe_error(exc))
            return
        self._bucket_regions[k] = bucket_region(resp.get("LocationConstraint"))

    async def settle(self) -> None:
        """Wait for every lookup still running (tests; a clean shutdown)."""
        tasks = [t.task for t in self._tracks.values() if t.task is not None]
        if tasks:
            await asyncio.wait(tasks)

    async def close(self) -> None:
        tasks = [t.task for t in self._tracks.values() if t.task is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        await self.history.close()
