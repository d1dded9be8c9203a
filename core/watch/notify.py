"""The sinks that carry a transition's message out, and the dispatcher that never lets
them hold a sweep back.

Each sink has its own bounded queue and worker task: `Dispatcher.submit` only enqueues
(dropping the oldest message when a queue is full), so a receiver that hangs or fails
delays its own messages, never a sweep nor another sink. A worker sends one message at a
time, at most `max_per_minute` per minute, each attempt bounded by `timeout_seconds`, and
retries a failed one with exponential backoff until it is accepted or
`give_up_after_seconds` have passed. A message id is sent at most once per sink once
accepted (a repeated submit is ignored), and carried in the body so a receiver can
recognise a retry of an attempt it did see but could not answer in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.settings import NotifySettings, Settings
from core.util.arn import region_of

log = logging.getLogger(__name__)

#: Ids remembered per sink for deduplication.
SEEN_LIMIT = 4096


class SinkError(Exception):
    """An attempt the receiver did not accept (status, exit code): worth a retry."""


class Sink(Protocol):
    name: str

    async def send(self, body: Mapping[str, Any]) -> None: ...

    async def close(self) -> None: ...


def _json(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")


@dataclass
class WebhookSink:
    """POST of the JSON message; any 2xx is accepted. Slack's incoming webhooks read `text`."""

    url: str
    name: str = "webhook"
    _session: Any = None

    async def send(self, body: Mapping[str, Any]) -> None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "trailtop",
            "Idempotency-Key": str(body.get("id", "")),
        }
        async with self._session.post(self.url, data=_json(body), headers=headers) as resp:
            if not 200 <= resp.status < 300:
                raise SinkError(f"HTTP {resp.status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass
class SnsSink:
    """Publish to an SNS topic (the JSON message; its `text` line as the subject)."""

    topic_arn: str
    profile: str = ""
    endpoint_url: str | None = None
    name: str = "sns"
    _stack: contextlib.AsyncExitStack | None = None
    _client: Any = None

    async def _get(self) -> Any:
        if self._client is None:
            from core.aws.clients import new_session

            session = new_session(self.profile or None)
            self._stack = contextlib.AsyncExitStack()
            self._client = await self._stack.enter_async_context(
                session.create_client(
                    "sns", region_name=region_of(self.topic_arn), endpoint_url=self.endpoint_url
                )
            )
        return self._client

    async def send(self, body: Mapping[str, Any]) -> None:
        client = await self._get()
        subject = str(body.get("text", "trailtop"))
        subject = "".join(c if 32 <= ord(c) < 127 else "?" for c in subject)[:99] or "trailtop"
        await client.publish(
            TopicArn=self.topic_arn,
            Message=_json(body).decode("utf-8"),
            Subject=subject,
            MessageAttributes={
                "kind": {"DataType": "String", "StringValue": str(body.get("kind", ""))},
                "id": {"DataType": "String", "StringValue": str(body.get("id", ""))},
            },
        )

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()


@dataclass
class CommandSink:
    """Run a command with the JSON message on stdin; exit status 0 is accepted."""

    argv: list[str]
    name: str = "command"

    async def send(self, body: Mapping[str, Any]) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _out, err = await proc.communicate(_json(body) + b"\n")
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
            raise SinkError(f"exit status {proc.returncode}" + (f": {tail[0]}" if tail else ""))

    async def close(self) -> None:
        return None


def sinks_from_settings(settings: Settings) -> list[Sink]:
    n = settings.notify
    out: list[Sink] = []
    if n.webhook_url:
        out.append(WebhookSink(n.webhook_url))
    if n.sns_topic_arn:
        out.append(SnsSink(n.sns_topic_arn, n.sns_profile, settings.aws.endpoint_url or None))
    if n.command:
        out.append(CommandSink(list(n.command)))
    return out


@dataclass
class RateLimit:
    """A token bucket: `per_minute` messages a minute, bursts up to that many."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _tokens: float = -1.0
    _at: float = 0.0

    def delay(self) -> float:
        """Seconds to wait before the next send (0: now); takes the token when 0."""
        now = self.clock()
        if self._tokens < 0:
            self._tokens, self._at = float(self.per_minute), now
        self._tokens = min(
            float(self.per_minute), self._tokens + (now - self._at) * self.per_minute / 60.0
        )
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) * 60.0 / self.per_minute


def backoff(attempt: int, initial: float, ceiling: float) -> float:
    """Delay before retry number `attempt` (1, 2, ...): doubled each time, capped."""
    return float(min(initial * (2 ** (attempt - 1)), ceiling))


#: Called per attempt outcome: (sink name, "sent" | "retried" | "dropped").
Outcome = Callable[[str, str], None]


@dataclass
class _Lane:
    sink: Sink
    queue: asyncio.Queue[Mapping[str, Any]]
    rate: RateLimit
    seen: OrderedDict[str, None] = field(default_factory=OrderedDict)
    task: asyncio.Task[None] | None = None


class Dispatcher:
    """One lane (queue + worker) per sink; see the module docstring for the guarantees."""

    def __init__(
        self,
        sinks: list[Sink],
        settings: NotifySettings,
        on_outcome: Outcome | None = None,
    ) -> None:
        self.settings = settings
        self.on_outcome = on_outcome or (lambda _s, _o: None)
        self.lanes = [
            _Lane(s, asyncio.Queue(maxsize=settings.queue_size), RateLimit(settings.max_per_minute))
            for s in sinks
        ]

    def start(self) -> None:
        for lane in self.lanes:
            if lane.task is None:
                lane.task = asyncio.get_running_loop().create_task(
                    self._work(lane), name=f"notify-{lane.sink.name}"
                )

    def submit(self, body: Mapping[str, Any]) -> None:
        """Enqueue for every sink; never waits."""
        mid = str(body.get("id", ""))
        for lane in self.lanes:
            if mid in lane.seen:
                continue
            lane.seen[mid] = None
            while len(lane.seen) > SEEN_LIMIT:
                lane.seen.popitem(last=False)
            if lane.queue.full():
                dropped = lane.queue.get_nowait()
                lane.queue.task_done()
                log.warning(
                    "notify %s: queue full, dropped message %s", lane.sink.name, dropped.get("id")
                )
                self.on_outcome(lane.sink.name, "dropped")
            lane.queue.put_nowait(body)

    async def drain(self, timeout: float) -> bool:
        """Wait up to `timeout` for every queued message to be settled (sent or dropped)."""
        try:
            await asyncio.wait_for(
                asyncio.gather(*(lane.queue.join() for lane in self.lanes)), timeout
            )
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        for lane in self.lanes:
            if lane.task is not None:
                lane.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lane.task
                lane.task = None
            try:
                await lane.sink.close()
            except Exception:  # noqa: BLE001 - closing must not mask the stop
                log.warning("notify %s: close failed", lane.sink.name, exc_info=True)

    async def _work(self, lane: _Lane) -> None:
        while True:
            body = await lane.queue.get()
            try:
                await self._deliver(lane, body)
            finally:
                lane.queue.task_done()

    async def _deliver(self, lane: _Lane, body: Mapping[str, Any]) -> None:
        s = self.settings
        name, mid = lane.sink.name, body.get("id")
        first = time.monotonic()
        attempt = 0
        while True:
            wait = lane.rate.delay()
            while wait > 0:
                await asyncio.sleep(wait)
                wait = lane.rate.delay()
            attempt += 1
            try:
                await asyncio.wait_for(lane.sink.send(body), s.timeout_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any failure of a receiver is a retry
                reason = "timed out" if isinstance(e, TimeoutError) else _reason(e)
                if time.monotonic() - first >= s.give_up_after_seconds:
                    log.error(
                        "notify %s: gave up on %s after %d attempts: %s", name, mid, attempt, reason
                    )
                    self.on_outcome(name, "dropped")
                    return
                delay = backoff(attempt, s.retry_initial_seconds, s.retry_max_seconds)
                log.warning(
                    "notify %s: attempt %d for %s failed (%s); retry in %.1fs",
                    name,
                    attempt,
                    mid,
                    reason,
                    delay,
                )
                self.on_outcome(name, "retried")
                await asyncio.sleep(delay)
            else:
                log.info("notify %s: sent %s (attempt %d)", name, mid, attempt)
                self.on_outcome(name, "sent")
                return


def _reason(e: BaseException) -> str:
    """A failure as a short reason: the type and message, never a request's content."""
    from core.aws.errors import describe_error

    text = describe_error(e) if not isinstance(e, SinkError) else str(e)
    return text[:300]
