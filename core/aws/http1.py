"""A small keep-alive HTTP/1.1 client for the fast path's requests, and nothing else.

Why: at organization size a warm sweep is thousands of small POSTs to a handful of hosts,
and aiohttp's request path (URL objects, cookie jar, header multidicts, tracing hooks, a
task per connection attempt) cost about as much CPU as everything else in a call together.
The fast path needs far less: one request line, signed headers, a body with a length, and
an answer with a length (or chunked, or until close). Connections are kept per host and
reused LIFO, closed once idle as long as the SDK's pool keeps them, and never more than
`limit` at once per host: beyond that the caller falls back to the SDK's pool.

Anything it cannot do cleanly raises `WireError`, and the caller hands the call to the SDK.
A request whose reused connection ends before any answer byte arrives (not one that timed
out) is sent once more on a new connection (the server may close an idle connection at any
time; RFC 9112 section
9.3.1 allows retrying an idempotent request then; every fast call is a read, or STS
AssumeRole, which only issues credentials and which the SDK retries the same way).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

#: Seconds an idle connection is kept (aiobotocore's own pool keeps them 12 s).
KEEPALIVE_SECONDS: Final = 12.0
#: An answer larger than this is not the fast path's business.
MAX_BODY: Final = 32 * 1024 * 1024
_NO_BODY: Final = frozenset({204, 304})


class WireError(Exception):
    """The request did not get a complete answer here (the SDK makes it instead)."""


class Dropped(WireError):
    """The connection ended before any byte of an answer: the request may be sent again."""


@dataclass(frozen=True)
class Answer:
    status: int
    #: Lower-cased names; a repeated header keeps its last value.
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Host:
    """Where to connect: one pool of connections each."""

    scheme: str
    hostname: str
    port: int
    #: Part of the key: connections made with one TLS context never serve another.
    ssl: ssl.SSLContext | None = None
    connect_timeout: float = field(default=60.0, compare=False, hash=False)
    read_timeout: float = field(default=60.0, compare=False, hash=False)


class _Conn(asyncio.Protocol):
    """One connection; at most one request in flight on it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[Answer] | None = None
        self.closed = False
        self.keep = False
        self.idle_since = 0.0
        self._head: tuple[int, dict[str, str]] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # bytes nobody asked for: this connection is not trusted again
            return
        self.buf += data
        try:
            answer = self._parse()
        except WireError as exc:
            self._fail(exc)
            return
        if answer is not None:
            self.waiter.set_result(answer)

    def eof_received(self) -> bool:
        self.keep = False
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        why = f"connection lost: {type(exc).__name__}"
        waiter.set_exception(WireError(why) if self.answered_anything else Dropped(why))

    # -- one exchange ----------------------------------------------------------------------

    def send(self, data: bytes) -> asyncio.Future[Answer]:
        assert self.transport is not None
        self.buf.clear()
        self._head = None
        self.keep = False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    @property
    def answered_anything(self) -> bool:
        return bool(self.buf) or self._head is not None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        self.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def _parse(self) -> Answer | None:
        buf = self.buf
        if self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 65536:
                    raise WireError("header too long")
                return None
            self._head = _parse_head(bytes(buf[:end]))
            del buf[: end + 4]
            status, headers = self._head
            if 100 <= status < 200:
                raise WireError("interim answer")
            self.keep = headers.get("connection", "").lower() != "close"
        status, headers = self._head
        if status in _NO_BODY:
            return Answer(status, headers, b"")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = _dechunk(buf)
            return None if body is None else Answer(status, headers, body)
        length = headers.get("content-length")
        if length is None:
            # Ended by the connection closing: a reset would look like a complete answer.
            # AWS sends a length or chunks; anything else is the SDK's to read.
            raise WireError("an answer without a length")
        try:
            n = int(length)
        except ValueError as exc:
            raise WireError("bad content-length") from exc
        if n > MAX_BODY or n < 0:
            raise WireError("answer too large")
        if len(buf) < n:
            return None
        if len(buf) > n:
            raise WireError("more bytes than announced")
        return Answer(status, headers, bytes(buf))


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError("header not UTF-8") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    code = parts[1] if len(parts) >= 2 else ""
    if parts[0] != "HTTP/1.1" or len(code) != 3 or not (code.isascii() and code.isdigit()):
        raise WireError("not an HTTP/1.1 answer")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise WireError("malformed header")
        headers[name.lower()] = value.strip()
    return int(parts[1]), headers


def _dechunk(buf: bytearray) -> bytes | None:
    """The body of a complete chunked answer in `buf`, or None while it is incomplete."""
    out = bytearray()
    pos = 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF") or len(size_text) > 8:
            raise WireError("bad chunk size")
        size = int(size_text, 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n\r\n", pos - 2)  # trailers, then the blank line
            return None if end < 0 else bytes(out)
        if len(out) + size > MAX_BODY:
            raise WireError("answer too large")
        if len(buf) < pos + size + 2:
            return None
        if buf[pos + size : pos + size + 2] != b"\r\n":
            raise WireError("bad chunk end")
        out += buf[pos : pos + size]
        pos += size + 2


def request_bytes(method: str, host_header: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """The request on the wire; `WireError` for a header that would break the framing."""
    lines = [f"{method} / HTTP/1.1", f"Host: {host_header}"]
    for k, v in headers.items():
        if k.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        lines.append(f"{k}: {v}")
    lines.append(f"Content-Length: {len(body)}")
    text = "\r\n".join(lines)
    if text.count("\r") != len(lines) - 1 or text.count("\n") != len(lines) - 1:
        raise WireError("a header holds a line break")
    try:
        return text.encode("latin-1") + b"\r\n\r\n" + body
    except UnicodeEncodeError as exc:
        raise WireError("a header is not Latin-1") from exc


class Http1Pool:
    """Keep-alive connections per `Host`, for one event loop."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._idle: dict[Host, list[_Conn]] = {}
        self._open: dict[Host, int] = {}
        self._reaper: asyncio.TimerHandle | None = None
        self.closed = False
        #: Connections opened so far (the tests read reuse from it).
        self.made = 0

    async def request(self, host: Host, wire: bytes) -> Answer:
        """One exchange; `WireError` if it could not complete (nothing was retried but a
        request that a reused connection dropped before answering)."""
        if self.closed:
            raise WireError("pool closed")
        loop = asyncio.get_running_loop()
        conn = self._take_idle(host, loop.time())
        if conn is not None:
            try:
                return await self._exchange(host, conn, wire)
            except Dropped:
                pass  # closed by the server while idle: once more, on a new connection
        conn = await self._connect(host)
        return await self._exchange(host, conn, wire)

    async def _exchange(self, host: Host, conn: _Conn, wire: bytes) -> Answer:
        try:
            async with asyncio.timeout(host.read_timeout):
                answer = await conn.send(wire)
        except TimeoutError as exc:
            self._drop(host, conn)
            raise WireError("read timeout") from exc
        except BaseException:  # a WireError, or the caller cancelled: never reused
            self._drop(host, conn)
            raise
        if conn.keep and not conn.closed and not self.closed:
            conn.waiter = None
            conn.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(host, []).append(conn)
            self._schedule_reap()
        else:
            self._drop(host, conn)
        return answer

    def _take_idle(self, host: Host, now: float) -> _Conn | None:
        idle = self._idle.get(host)
        while idle:
            conn = idle.pop()
            if conn.keep and not conn.closed and now - conn.idle_since < KEEPALIVE_SECONDS:
                return conn
            self._drop(host, conn)
        return None

    async def _connect(self, host: Host) -> _Conn:
        if self._open.get(host, 0) >= self.limit:
            raise WireError("connection limit reached")
        self._open[host] = self._open.get(host, 0) + 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(host.connect_timeout):
                _, conn = await loop.create_connection(
                    _Conn,
                    host.hostname,
                    host.port,
                    ssl=host.ssl,
                    server_hostname=host.hostname if host.ssl is not None else None,
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            self._open[host] -= 1
            raise WireError(f"connect: {type(exc).__name__}") from exc
        except BaseException:  # cancelled while connecting
            self._open[host] -= 1
            raise
        self.made += 1
        return conn

    def _drop(self, host: Host, conn: _Conn) -> None:
        conn.close()
        self._open[host] = max(0, self._open.get(host, 0) - 1)

    def _schedule_reap(self) -> None:
        if self._reaper is None:
            loop = asyncio.get_running_loop()
            self._reaper = loop.call_later(KEEPALIVE_SECONDS, self._reap)

    def _reap(self) -> None:
        """Close what has been idle too long, so no socket outlives its use by much."""
        self._reaper = None
        now = asyncio.get_running_loop().time()
        for host, idle in self._idle.items():
            keep = [c for c in idle if not c.closed and now - c.idle_since < KEEPALIVE_SECONDS]
            for c in idle:
                if c not in keep:
                    self._drop(host, c)
            idle[:] = keep
        if any(self._idle.values()):
            self._schedule_reap()

    def open_connections(self) -> int:
        return sum(self._open.values())

    def close(self) -> None:
        self.closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        for host, idle in self._idle.items():
            for c in idle:
                self._drop(host, c)
        self._idle.clear()
