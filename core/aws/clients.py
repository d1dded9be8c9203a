"""aiobotocore plumbing shared by collection, diagnostics and remediation.

Why this exists: a sweep over 50 accounts x 17 regions creates ~850 clients. Left alone,
aiobotocore gives each client its own SSL context (~35 ms CPU to load the CA bundle) and its
own connection pool. Here every client shares one SSL context and one aiohttp connection
pool per event loop, so a cold sweep costs one CA load and the socket count is bounded by
the concurrency setting rather than by the number of clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiobotocore
import aiohttp
import botocore
from aiobotocore.client import AioClientCreator
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.session import AioSession
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

_SSL_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}


class SharedPoolHTTPSession(AIOHTTPSession):  # type: ignore[misc]
    """An AIOHTTPSession whose SSL context and aiohttp session are shared per event loop."""

    _pools: dict[int, aiohttp.ClientSession] = {}
    pool_limit: int = 64

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


_CLIENT_CLASSES: dict[tuple[str, str], type] = {}
_create_client_class = AioClientCreator._create_client_class


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


AioClientCreator._create_client_class = _cached_client_class


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
    return AioConfig(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=pool_limit,
        http_session_cls=SharedPoolHTTPSession,
        user_agent_appid="trailtop",
        # A fixed User-Agent: botocore otherwise rebuilds it from ~30 sanitised components
        # twice per request (~9% of a warm sweep's CPU per request, measured).
        user_agent=USER_AGENT,
    )


@dataclass
class RequestCounter:
    """Counts HTTP attempts (retries included) by operation, via botocore's event hooks."""

    total: int = 0
    by_op: dict[str, int] = field(default_factory=dict)

    def hook(self, **kwargs: Any) -> None:
        self.total += 1
        model = kwargs.get("model")
        name = getattr(model, "name", "?")
        self.by_op[name] = self.by_op.get(name, 0) + 1

    def reset(self) -> tuple[int, dict[str, int]]:
        out = (self.total, dict(self.by_op))
        self.total = 0
        self.by_op = {}
        return out


@dataclass
class ClientPool:
    """One client per (session, service, region), created on first use and kept."""

    config: AioConfig
    endpoint_url: str | None
    counter: RequestCounter = field(default_factory=RequestCounter)
    _clients: dict[tuple[int, str, str], Any] = field(default_factory=dict)
    _contexts: list[Any] = field(default_factory=list)
    _lock: asyncio.Lock | None = None

    async def get(self, session: AioSession, service: str, region: str) -> Any:
        key = (id(session), service, region)
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
                self._contexts.append(ctx)
                self._clients[key] = client
        return client

    def forget_session(self, session: AioSession) -> None:
        """Drop (without closing) clients of a session whose credentials were replaced."""
        sid = id(session)
        for key in [k for k in self._clients if k[0] == sid]:
            del self._clients[key]

    async def close(self) -> None:
        for ctx in self._contexts:
            # Closing must never raise out of shutdown.
            with contextlib.suppress(Exception):
                await ctx.__aexit__(None, None, None)
        self._contexts.clear()
        self._clients.clear()
        await SharedPoolHTTPSession.close_pool()


#: Error codes that mean "you may not look", not "it is broken".
ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "403",
        "Forbidden",
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "RequestExpired",
        "AuthFailure",
    }
)
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
    }
)


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    return None


def describe_error(exc: BaseException) -> str:
    """A one-line reason safe to show and log: codes and AWS messages, never credentials."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "Error")
        msg = str(err.get("Message") or "").strip()
        op = getattr(exc, "operation_name", "")
        kind = ""
        if code in ACCESS_CODES:
            kind = "access denied"
        elif code in CREDENTIAL_CODES:
            kind = "credentials rejected"
            if code in ("UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure"):
                msg = (msg + " " if msg else "") + "(or the region is not enabled for this account)"
        elif code in THROTTLE_CODES:
            kind = "throttled (retries exhausted)"
        elif str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")).startswith(
            "5"
        ):
            kind = "service error"
        head = f"{kind}: " if kind else ""
        return f"{head}{code}{' on ' + op if op else ''}{': ' + msg if msg else ''}"
    if isinstance(exc, ProfileNotFound):
        return f"unknown profile: {exc.kwargs.get('profile', '?')}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return "no credentials found for this profile"
    if isinstance(exc, NoRegionError):
        return "no region configured"
    if isinstance(exc, ConnectTimeoutError | EndpointConnectionError):
        return f"endpoint unreachable: {getattr(exc, 'kwargs', {}).get('endpoint_url', '')}".rstrip(
            ": "
        )
    if isinstance(exc, ReadTimeoutError):
        return "read timeout: the endpoint did not answer in time"
    if isinstance(exc, ConnectionClosedError):
        return "connection closed by the endpoint"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return f"network error: {type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}"


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
