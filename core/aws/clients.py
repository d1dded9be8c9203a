"""aiobotocore plumbing shared by collection, diagnostics and remediation.

Why this exists: a sweep over 50 accounts x 17 regions creates ~850 clients. Left alone,
aiobotocore gives each client its own SSL context (~35 ms CPU to load the CA bundle) and its
own connection pool. Here every client shares one SSL context and one aiohttp connection
pool per event loop, so a cold sweep costs one CA load and the socket count is bounded by
the concurrency setting rather than by the number of clients.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import platform
import ssl
import weakref
from collections.abc import Callable, Collection
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final

import aiobotocore
import aiohttp
import botocore
from aiobotocore.client import AioClientCreator
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.session import AioSession
from botocore.exceptions import NoCredentialsError

from core.aws.fast_call import FAST_OPS, Declined, FastCaller
from core.settings import DEFAULT_CONCURRENCY
from core.util.error_codes import THROTTLE

log = logging.getLogger(__name__)

_SSL_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}


class SharedPoolHTTPSession(AIOHTTPSession):  # type: ignore[misc]
    """An AIOHTTPSession whose SSL context and aiohttp session are shared per event loop."""

    _pools: dict[int, aiohttp.ClientSession] = {}
    pool_limit: int = DEFAULT_CONCURRENCY

    def _build_ssl_contexts(self, proxy_url: Any) -> tuple[Any, Any]:
        key = (self._verify, self._cert_file, self._key_file, proxy_url)
        ctx = _SSL_CONTEXTS.get(key)
        if ctx is None:
            ctx, proxy_ctx = super()._build_ssl_contexts(proxy_url)
            _SSL_CONTEXTS[key] = ctx
            return ctx, proxy_ctx
        proxy_ctx = self._setup_proxy_ssl_context(proxy_url) if proxy_url else None
        return ctx, proxy_ctx

    async def _get_session(self, proxy_url: Any) -> aiohttp.ClientSession:
        if proxy_url:
            return await super()._get_session(proxy_url)  # type: ignore[no-any-return]
        loop = asyncio.get_running_loop()
        loop_id = id(loop)
        pool = self._pools.get(loop_id)
        if pool is None or pool.closed or pool._loop is not loop:
            connector = await self._create_connector(None)
            pool = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                skip_auto_headers={"CONTENT-TYPE"},
                auto_decompress=False,
            )
            self._pools[loop_id] = pool
        return pool

    @classmethod
    async def close_pool(cls) -> None:
        loop_id = id(asyncio.get_running_loop())
        pool = cls._pools.pop(loop_id, None)
        if pool is not None and not pool.closed:
            await pool.close()


#: aiobotocore minor releases whose private internals the two patches here were read
#: against (SharedPoolHTTPSession's overrides and the client-class cache). On any other
#: release, or if one of those internals is gone, trailtop runs unpatched (slower cold
#: sweeps, same results) and says so in the log.
PATCHED_FOR: Final = ("3.10",)
_HTTP_INTERNALS: Final = (
    "_build_ssl_contexts",
    "_get_session",
    "_create_connector",
    "_setup_proxy_ssl_context",
)


def internals_match() -> bool:
    """True when aiobotocore still has the private members the patches rely on."""
    return (
        aiobotocore.__version__.rsplit(".", 1)[0] in PATCHED_FOR
        and all(callable(getattr(AIOHTTPSession, n, None)) for n in _HTTP_INTERNALS)
        and inspect.iscoroutinefunction(getattr(AioClientCreator, "_create_client_class", None))
    )


PATCHES_ACTIVE: Final = internals_match()

_CLIENT_CLASSES: dict[tuple[str, str], type] = {}
_create_client_class: Any = getattr(AioClientCreator, "_create_client_class", None)


async def _cached_client_class(self: Any, service_name: str, service_model: Any) -> type:
    """One client class per (service, API version) per process, not one per client.

    botocore builds a new class with a method per operation for every client (ec2: ~750):
    with ~1,000 clients a cold 50 x 17 sweep spent half its client-creation CPU there and
    kept ~80 MB of duplicate classes. The class depends only on the service model and the
    `creating-client-class` handlers, which are botocore's built-ins in every session here.
    """
    key = (service_name, service_model.api_version)
    cls = _CLIENT_CLASSES.get(key)
    if cls is None:
        cls = await _create_client_class(self, service_name, service_model)
        _CLIENT_CLASSES[key] = cls
    return cls


if PATCHES_ACTIVE:
    AioClientCreator._create_client_class = _cached_client_class
else:
    log.warning(
        "aiobotocore %s is not a release trailtop's client patches were checked against "
        "(%s): running without them",
        aiobotocore.__version__,
        ", ".join(PATCHED_FOR),
    )


USER_AGENT = (
    f"trailtop aiobotocore/{aiobotocore.__version__} botocore/{botocore.__version__} "
    f"Python/{platform.python_version()}"
)


def make_config(
    *,
    connect_timeout: float,
    read_timeout: float,
    max_attempts: int,
    pool_limit: int,
) -> AioConfig:
    SharedPoolHTTPSession.pool_limit = pool_limit
    shared: dict[str, Any] = {"http_session_cls": SharedPoolHTTPSession} if PATCHES_ACTIVE else {}
    return AioConfig(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=pool_limit,
        user_agent_appid="trailtop",
        **shared,
        # A fixed User-Agent: botocore otherwise rebuilds it from ~30 sanitised components
        # twice per request (~9% of a warm sweep's CPU per request, measured).
        user_agent=USER_AGENT,
    )


@dataclass
class RequestCounter:
    """Counts HTTP attempts (retries included) by operation, via botocore's event hooks."""

    total: int = 0
    by_op: dict[str, int] = field(default_factory=dict)
    #: Attempts answered with a throttling error code (retries included).
    throttled: int = 0

    def retry_hook(self, response: Any = None, **_: Any) -> None:
        """Sees every attempt's answer before botocore decides whether to retry it."""
        if response is not None:
            parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else {}
            code = (parsed or {}).get("Error", {}).get("Code") if isinstance(parsed, dict) else None
            if code in THROTTLE:
                self.throttled += 1

    def hook(self, **kwargs: Any) -> None:
        """One attempt: the SDK's `before-send.<service>.<Operation>` event, or the fast path."""
        self.total += 1
        model = kwargs.get("model")
        name = getattr(model, "name", None) or str(kwargs.get("event_name", "?")).rsplit(".", 1)[-1]
        self.by_op[name] = self.by_op.get(name, 0) + 1

    def reset(self) -> tuple[int, dict[str, int]]:
        out = (self.total, dict(self.by_op))
        self.total = 0
        self.by_op = {}
        self.throttled = 0
        return out


#: Sessions that are nothing but credentials (assumed roles): no profile, no configuration
#: of their own, so one client per (service, region) can serve all of them.
_CREDENTIALS_ONLY: weakref.WeakSet[AioSession] = weakref.WeakSet()
#: The credentials the call being made right now signs with (set by `ClientPool.call`).
_CALL_CREDENTIALS: ContextVar[Any] = ContextVar("trailtop_call_credentials", default=None)


class _CallCredentials:
    """The credentials of a shared client: whichever session the current call is for.

    A client costs ~5 ms of CPU and ~120 KB to create (botocore copies the session's
    event handlers, builds an endpoint resolver and a retry handler for each). One client
    per account, service and region made a 1,000-account Organization create thousands;
    sharing one per service and region across assumed-role sessions makes it dozens. The
    signer asks for credentials inside the call's own task, where `ClientPool.call` has
    set them, so concurrent calls for different accounts never see each other's.
    """

    method = "trailtop-per-call"

    async def get_frozen_credentials(self) -> Any:
        creds = _CALL_CREDENTIALS.get()
        if creds is None:  # a shared client used outside ClientPool.call: never guess
            raise NoCredentialsError()
        return await creds.get_frozen_credentials()

    async def get_account_id(self) -> str | None:
        """Account-based endpoints are not used by the services trailtop calls."""
        return None

    def get_deferred_property(self, name: str) -> Callable[[], Any]:
        return lambda: getattr(_CALL_CREDENTIALS.get(), name, None)


class CredentialsSession(AioSession):  # type: ignore[misc]
    """A session that is nothing but credentials (an assumed role's).

    A full botocore session registers ~120 built-in event handlers when created (~15 ms of
    CPU, most of a cold sweep's cost at 1,000 accounts), all for clients this session never
    makes: its calls go through the pool's shared clients. So it is not initialised as a
    botocore session at all; anything but its credentials fails loudly.
    """

    def __init__(self, credentials: Any) -> None:  # noqa: D107 - no super(): see above
        self._credentials = credentials

    async def get_credentials(self) -> Any:
        return self._credentials


async def _credentials_of(session: AioSession) -> Any:
    """The session's credentials, or None when resolving them fails (the SDK call then
    raises the error it always raises)."""
    if shares_clients(session):
        return session._credentials
    try:
        return await session.get_credentials()
    except Exception:  # noqa: BLE001 - reported by the SDK call that follows
        return None


def credentials_session(credentials: Any) -> AioSession:
    """A session holding only these credentials (an assumed role's): its calls go through
    clients shared with every other such session."""
    session = CredentialsSession(credentials)
    _CREDENTIALS_ONLY.add(session)
    return session


def shares_clients(session: AioSession) -> bool:
    return session in _CREDENTIALS_ONLY


@dataclass
class ClientPool:
    """Clients created on first use: one per (session, service, region) for profile
    sessions, kept until the session is forgotten (credentials replaced) or no longer
    retained (target gone); one per (service, region) for every assumed-role session
    (`credentials_session`), signing with the credentials of the call in progress.

    Keyed by the session object, not its id(): a new session may reuse a dead one's id(),
    and must never be handed a client that signs with the dead one's credentials.
    """

    config: AioConfig
    endpoint_url: str | None
    counter: RequestCounter = field(default_factory=RequestCounter)
    _clients: dict[tuple[AioSession, str, str], Any] = field(default_factory=dict)
    _contexts: dict[tuple[AioSession, str, str], Any] = field(default_factory=dict)
    _lock: asyncio.Lock | None = None
    #: Closing clients of sessions that were replaced (awaited by `close`).
    _closing: set[asyncio.Task[None]] = field(default_factory=set)
    #: The session the shared clients are created from (credentials: `_CallCredentials`).
    _shared: AioSession | None = None
    #: Make the `FAST_OPS` reads without the SDK's per-call machinery (same answers); only
    #: on the aiobotocore releases whose internals it was read against (`PATCHES_ACTIVE`).
    fast_reads: bool = True
    _fast_caller: FastCaller | None = None

    def _fast(self) -> FastCaller:
        if self._fast_caller is None:
            self._fast_caller = FastCaller(
                self.counter,
                USER_AGENT,
                int(self.config.max_pool_connections or DEFAULT_CONCURRENCY),
            )
        return self._fast_caller

    async def call(self, session: AioSession, service: str, region: str, op: str, **kw: Any) -> Any:
        """Make one API call for `session`: the only way calls are made, so a shared
        client always signs with this session's credentials. The reads a sweep makes per
        account and per view take the fast path (core/aws/fast_call.py) when they can."""
        client = await self.get(session, service, region)
        if self.fast_reads and PATCHES_ACTIVE and (service, op) in FAST_OPS:
            try:
                return await self._fast().call(client, await _credentials_of(session), op, kw)
            except Declined:
                pass
        if not shares_clients(session):
            return await getattr(client, op)(**kw)
        token = _CALL_CREDENTIALS.set(session._credentials)
        try:
            return await getattr(client, op)(**kw)
        finally:
            _CALL_CREDENTIALS.reset(token)

    async def get(self, session: AioSession, service: str, region: str) -> Any:
        if shares_clients(session):
            if self._shared is None:
                self._shared = new_session()
                self._shared._credentials = _CallCredentials()
            session = self._shared
        key = (session, service, region)
        client = self._clients.get(key)
        if client is not None:
            return client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            client = self._clients.get(key)
            if client is None:
                ctx = session.create_client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint_url or None,
                    config=self.config,
                )
                client = await ctx.__aenter__()
                client.meta.events.register("before-send", self.counter.hook)
                # First, so it runs even when the retry handler decides on a retry.
                client.meta.events.register_first("needs-retry", self.counter.retry_hook)
                self._contexts[key] = ctx
                self._clients[key] = client
        return client

    def forget_session(self, session: AioSession) -> None:
        """Drop and close the clients of a session whose credentials were replaced.

        Each client holds its session's credentials and its own endpoint rules and
        configuration (a few hundred kilobytes): kept, they would grow with every
        re-assumed role for as long as trailtop runs.
        """
        self._drop(lambda s: s is session)

    def retain(self, sessions: Collection[AioSession]) -> None:
        """Close every client whose session is not one of ``sessions`` (targets gone); the
        shared clients stay (they hold no credentials of their own)."""
        keep = {id(s) for s in sessions}
        if self._shared is not None:
            keep.add(id(self._shared))
        self._drop(lambda s: id(s) not in keep)

    def _drop(self, doomed: Callable[[AioSession], bool]) -> None:
        keys = [k for k in self._contexts if doomed(k[0])]
        ctxs = [self._contexts.pop(k) for k in keys]
        for key in [k for k in self._clients if doomed(k[0])]:
            del self._clients[key]
        if ctxs:
            task = asyncio.get_running_loop().create_task(self._close_contexts(ctxs))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_contexts(ctxs: list[Any]) -> None:
        for ctx in ctxs:
            try:
                await ctx.__aexit__(None, None, None)
            except Exception:  # noqa: BLE001 - a client that fails to close is gone anyway
                log.debug("closing a replaced client failed", exc_info=True)

    @property
    def fast_connections(self) -> int:
        """Connections the fast path's own HTTP client holds open (idle or in use)."""
        return 0 if self._fast_caller is None else self._fast_caller.open_connections()

    @property
    def live_clients(self) -> int:
        """Clients currently held (for tests that bound them by the number of targets)."""
        return len(self._clients)

    @property
    def live_sessions(self) -> int:
        """Sessions whose own clients are held (the shared clients' session not counted)."""
        return len({id(k[0]) for k in self._clients if k[0] is not self._shared})

    async def drain(self) -> None:
        """Wait until the clients of replaced or released sessions are closed."""
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        for ctx in self._contexts.values():
            try:
                await ctx.__aexit__(None, None, None)
            except Exception:  # noqa: BLE001 - closing must never raise out of shutdown
                log.debug("closing a client failed", exc_info=True)
        self._contexts.clear()
        self._clients.clear()
        self._shared = None
        if self._fast_caller is not None:
            self._fast_caller.close()
        await SharedPoolHTTPSession.close_pool()


_SHARED_LOADER: Any = None


def new_session(profile: str | None = None) -> AioSession:
    """A session that shares one botocore data loader with every other.

    Each botocore session otherwise parses the service models (JSON, ec2's alone is
    megabytes) again: with five sessions that was ~2.4 s of a 3.3 s cold demo sweep.
    """
    global _SHARED_LOADER
    session = AioSession(profile=profile) if profile else AioSession()
    if _SHARED_LOADER is None:
        _SHARED_LOADER = session.get_component("data_loader")
    else:
        session.register_component("data_loader", _SHARED_LOADER)
    return session


Hook = Callable[..., None]
