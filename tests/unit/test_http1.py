"""trailtop's own HTTP/1.1 client, against a raw server on 127.0.0.1 that answers as each
test scripts it: keep-alive reuse, the three ways an answer ends, a server closing an idle
connection, and every way an exchange fails cleanly (WireError, never a hang)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core.aws.http1 import Host, Http1Pool, WireError, request_bytes

Answer = Callable[[bytes], bytes | None]


class RawServer:
    """Reads one request at a time (head + Content-Length body); `answer(request)` gives the
    bytes to send back, or None to close the connection without answering."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.close_after_answer = False
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(w)
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + await r.readexactly(length)
                self.requests.append(request)
                out = self.answer(request)
                if out is None:
                    break
                w.write(out)
                await w.drain()
                if self.close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()

    def drop_idle(self) -> None:
        for w in self._writers:
            w.close()

    async def stop(self) -> None:
        assert self._server is not None
        self.drop_idle()
        self._server.close()
        await self._server.wait_closed()


def ok(body: bytes = b'{"ok":true}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Answer], Any]]:
    servers: list[RawServer] = []

    async def start(answer: Answer) -> tuple[RawServer, Host]:
        s = RawServer(answer)
        port = await s.start()
        servers.append(s)
        return s, Host("http", "127.0.0.1", port, None, 2.0, 2.0)

    yield start
    for s in servers:
        await s.stop()


def wire(body: bytes = b"{}") -> bytes:
    return request_bytes("POST", "example", {"X-Amz-Target": "T.Op"}, body)


async def test_sequential_requests_share_one_connection(serve: Any) -> None:
    server, host = await serve(lambda req: ok(b'{"n":%d}' % len(req)))
    pool = Http1Pool(4)
    try:
        first = await pool.request(host, wire(b"{}"))
        second = await pool.request(host, wire(b'{"a":1}'))
    finally:
        pool.close()
    assert (first.status, second.status) == (200, 200)
    assert first.body != second.body
    assert server.connections == 1 and pool.made == 1
    assert server.requests[1].endswith(b'{"a":1}')
    assert b"\r\nContent-Length: 7\r\n" in server.requests[1]


async def test_a_chunked_answer_is_joined(serve: Any) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Amzn-RequestId: r1\r\n\r\n"
        b'4\r\n{"a"\r\n5;ext=1\r\n:[1]}\r\n0\r\n\r\n'
    )
    _, host = await serve(lambda req: chunked)
    pool = Http1Pool(4)
    try:
        answer = await pool.request(host, wire())
        again = await pool.request(host, wire())
    finally:
        pool.close()
    assert answer.body == b'{"a":[1]}' == again.body
    assert answer.headers["x-amzn-requestid"] == "r1"
    assert pool.made == 1


async def test_an_answer_ended_by_closing_is_left_to_the_sdk(serve: Any) -> None:
    # A reset would look like a complete answer: AWS sends a length or chunks.
    server, host = await serve(lambda req: b'HTTP/1.1 200 OK\r\n\r\n{"trailList": [')
    server.close_after_answer = True
    pool = Http1Pool(4)
    try:
        with pytest.raises(WireError, match="without a length"):
            await pool.request(host, wire())
    finally:
        pool.close()
    assert pool.open_connections() == 0


async def test_connection_close_is_honoured(serve: Any) -> None:
    server, host = await serve(lambda req: ok(extra=b"Connection: close\r\n"))
    pool = Http1Pool(4)
    try:
        await pool.request(host, wire())
        await pool.request(host, wire())
    finally:
        pool.close()
    assert pool.made == 2


async def test_an_idle_connection_the_server_closed_is_replaced_transparently(
    serve: Any,
) -> None:
    server, host = await serve(lambda req: ok())
    pool = Http1Pool(4)
    try:
        await pool.request(host, wire())
        server.drop_idle()  # as a server does with a connection idle too long
        answer = await pool.request(host, wire())
    finally:
        pool.close()
    assert answer.status == 200
    assert server.connections == 2


async def test_a_server_closing_without_answering_a_new_connection_is_an_error(
    serve: Any,
) -> None:
    _, host = await serve(lambda req: None)
    pool = Http1Pool(4)
    try:
        with pytest.raises(WireError, match="connection lost"):
            await pool.request(host, wire())
    finally:
        pool.close()
    assert pool.open_connections() == 0


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "not an HTTP/1.1"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "bad content-length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc", "more bytes"),
        (b"HTTP/1.1 200 OK\r\n Bad: header\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 100 Continue\r\n\r\n", "interim"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n0\r\n\r\n", "chunk size"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            "chunk end",
        ),
        (b"HTTP/1.1 \xc2\xb200 OK\r\nContent-Length: 0\r\n\r\n", "not an HTTP/1.1"),
    ],
)
async def test_a_malformed_answer_is_refused(serve: Any, answer: bytes, why: str) -> None:
    _, host = await serve(lambda req: answer)
    pool = Http1Pool(4)
    try:
        with pytest.raises(WireError, match=why):
            await pool.request(host, wire())
    finally:
        pool.close()
    assert pool.open_connections() == 0


async def test_a_silent_server_times_out(serve: Any) -> None:
    never = asyncio.Event()

    async def hold(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await never.wait()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = Http1Pool(4)
    try:
        with pytest.raises(WireError, match="read timeout"):
            await pool.request(Host("http", "127.0.0.1", port, None, 1.0, 0.2), wire())
    finally:
        pool.close()
        never.set()
        server.close()
        await server.wait_closed()


async def test_beyond_the_limit_the_caller_is_told(serve: Any) -> None:
    gate = asyncio.Event()
    answered: list[bytes] = []

    def later(req: bytes) -> bytes | None:
        answered.append(req)
        return ok()

    server, host = await serve(later)
    pool = Http1Pool(1)
    blocker = asyncio.get_running_loop().create_future()

    async def slow() -> None:
        conn = await pool._connect(host)  # holds the one connection allowed
        blocker.set_result(conn)
        await gate.wait()
        pool._drop(host, conn)

    task = asyncio.create_task(slow())
    await blocker
    try:
        with pytest.raises(WireError, match="limit"):
            await pool.request(host, wire())
    finally:
        gate.set()
        await task
        pool.close()
    assert answered == []


async def test_nothing_connects_after_close_and_idle_sockets_are_closed(serve: Any) -> None:
    _, host = await serve(lambda req: ok())
    pool = Http1Pool(4)
    await pool.request(host, wire())
    assert pool.open_connections() == 1
    pool.close()
    assert pool.open_connections() == 0
    with pytest.raises(WireError, match="closed"):
        await pool.request(host, wire())


def test_a_header_with_a_line_break_is_refused() -> None:
    with pytest.raises(WireError, match="line break"):
        request_bytes("POST", "h", {"X-Evil": "a\r\nInjected: 1"}, b"")
    with pytest.raises(WireError, match="Latin-1"):
        request_bytes("POST", "h", {"X-Name": "\u2603"}, b"")


async def test_a_cancelled_request_gives_its_connection_back(serve: Any) -> None:
    never = asyncio.Event()

    async def hold(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await never.wait()
        w.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    host = Host("http", "127.0.0.1", port, None, 1.0, 30.0)
    pool = Http1Pool(1)
    try:
        task = asyncio.create_task(pool.request(host, wire()))
        while pool.made == 0:  # connected: the request is in flight
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.open_connections() == 0, "the cancelled exchange's socket is closed"
    finally:
        pool.close()
        never.set()
        server.close()
        await server.wait_closed()


async def test_a_timeout_on_a_reused_connection_is_not_sent_again(serve: Any) -> None:
    server, host = await serve(lambda req: ok())
    host = Host("http", "127.0.0.1", host.port, None, 1.0, 0.3)
    pool = Http1Pool(4)
    try:
        await pool.request(host, wire())
        server.answer = lambda req: b""  # read, never answered: the client times out
        with pytest.raises(WireError, match="read timeout"):
            await pool.request(host, wire())
    finally:
        pool.close()
    assert len(server.requests) == 2, "the timed-out request was not sent again"
    assert server.connections == 1
