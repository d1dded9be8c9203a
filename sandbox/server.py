"""moto's WSGI app behind the sandbox middleware, served threaded by werkzeug.

The middleware sits where AWS's front door would: it identifies each call, counts it,
applies faults, refuses cross-account calls AWS refuses (sandbox/access.py), answers the
operations moto gets wrong (delivery status, event history, org trails, regions, CloudTrail's
delegated administrator) and records write calls as CloudTrail events.

Connections persist (HTTP/1.1 keep-alive) as AWS's endpoints keep them, so a client that
reuses its sockets pays no TCP connect per call here either; werkzeug's own handler closes
every connection, the request handler below does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from random import Random
from typing import Any
from urllib.parse import urlencode

from moto.cloudtrail.models import cloudtrail_backends
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_api._internal import mock_random
from moto.moto_api._internal.moto_random import MotoRandom
from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from . import control
from .access import cross_account_refusal
from .destinations import find_bucket
from .emulation import Emulation
from .events import event_region, is_recorded
from .handlers import handler_for, parse_json
from .identity import account_of, is_expired, is_known, resolve_caller
from .metering import RequestMeter
from .moto_speed import CachedDispatcher, install
from .organizations import allow_cloudtrail_delegation
from .protocol import CallInfo, WireResponse, describe_call, fault_response, status_line
from .regions import OPT_IN_REGIONS
from .sso import PATH as SSO_PATH
from .sso import TOKEN_ENVIRON

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

EVENT_TIME_HEADER = "HTTP_X_SANDBOX_EVENT_TIME"
SOURCE_IP_HEADER = "HTTP_X_SANDBOX_SOURCE_IP"
#: Set by a ``drop`` fault: the request handler sends nothing and closes the connection.
DROPPED_ENVIRON = "sandbox.dropped"
#: Seconds an idle keep-alive connection (and its thread) may wait for its next request.
IDLE_TIMEOUT = 30.0


def _send(start_response: StartResponse, response: WireResponse) -> list[bytes]:
    start_response(status_line(response.status), response.headers)
    return [response.body]


def _read_body(environ: dict[str, Any]) -> bytes:
    """The whole request body, read off the socket before anything answers: on a kept-alive
    connection, unread bytes would be taken for the next request."""
    stream = environ["wsgi.input"]
    body: bytes
    if environ.get("wsgi.input_terminated"):  # chunked: the stream ends with the body
        body = stream.read()
        environ["CONTENT_LENGTH"] = str(len(body))
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = stream.read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _shift_duration(environ: dict[str, Any], info: CallInfo, offset: float) -> None:
    """Let moto date a new session's Expiration on the estate's clock: it counts from the
    machine's, so the offset is added to the requested duration (default one hour)."""
    params = dict(info.params, Action="AssumeRole", Version="2011-06-15")
    params["DurationSeconds"] = str(int(params.get("DurationSeconds") or 3600) + int(offset))
    body = urlencode(params).encode()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["QUERY_STRING"] = ""


class SandboxMiddleware:
    """WSGI middleware in front of moto; see the module docstring."""

    def __init__(self, app: WSGIApp, emulation: Emulation) -> None:
        self.app = app
        self.emu = emulation

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/_sandbox/"):
            body = _read_body(environ)
            query = environ.get("QUERY_STRING", "")
            with _request_ids("control", method, path, query, body.decode("utf-8", "replace")):
                reply = control.handle(self.emu, method, path, query, body)
            return _send(start_response, reply)
        body = _read_body(environ)
        info = describe_call(environ, body)
        info.account = account_of(info.access_key) if info.access_key else DEFAULT_ACCOUNT_ID
        status_holder: list[int] = [0]
        if path == SSO_PATH and not info.access_key:
            # The SSO portal's call is unsigned: no credential scope names its service.
            info.service, info.operation, info.region = "sso", "GetRoleCredentials", "us-east-1"
            environ["sandbox.sso"] = True
        identity = (info.service, info.operation, info.account, info.region, path, info.params)
        try:
            with _request_ids(*identity):
                return self._serve(environ, start_response, info, status_holder)
        finally:
            self.emu.meter.record(
                (info.service, info.operation, info.account, info.region), status_holder[0]
            )

    def _serve(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        info: CallInfo,
        status_holder: list[int],
    ) -> Iterable[bytes]:
        latency_ms, rule = self.emu.faults.for_request(
            info.service, info.operation, info.account, info.region
        )
        if latency_ms > 0:
            time.sleep(latency_ms / 1000.0)
        if rule is not None:
            if rule.kind == "drop":
                return self._drop(environ, start_response)
            caller = resolve_caller(info.access_key)
            reply = fault_response(
                rule.kind, info, caller.arn, status=rule.status, message=rule.message
            )
            status_holder[0] = reply.status
            return _send(start_response, reply)
        if info.region in OPT_IN_REGIONS and info.region not in self.emu.regions.enabled(
            info.account
        ):
            # An opt-in region the account has not enabled rejects its credentials, as in AWS.
            reply = fault_response("region_disabled", info, "")
            status_holder[0] = reply.status
            return _send(start_response, reply)
        if info.access_key and is_expired(info.access_key, self.emu.clock_offset):
            reply = fault_response("expired_token", info, "")
            status_holder[0] = reply.status
            return _send(start_response, reply)
        if info.access_key and not is_known(info.access_key):
            # Credentials this server never issued (a session from before a restart).
            reply = fault_response("region_disabled", info, "")
            status_holder[0] = reply.status
            return _send(start_response, reply)
        if info.access_key and info.service in ("s3", "kms", "sns"):
            refusal = cross_account_refusal(info, resolve_caller(info.access_key))
            if refusal is not None:
                status_holder[0] = refusal.status
                return _send(start_response, refusal)
        if environ.get("sandbox.sso"):
            reply = self.emu.sso.get_role_credentials(environ, info, self.emu.clock_offset)
            status_holder[0] = reply.status
            return _send(start_response, reply)
        handler = handler_for(info)
        if handler is not None:
            reply_or_none = handler(self.emu, info)
            if reply_or_none is not None:
                status_holder[0] = reply_or_none.status
                if 200 <= reply_or_none.status < 300 and is_recorded(info):
                    self._record(environ, info, None, reply_or_none.body)
                return _send(start_response, reply_or_none)
        if self.emu.clock_offset and info.service == "sts" and info.operation == "AssumeRole":
            _shift_duration(environ, info, self.emu.clock_offset)
        return self._forward(environ, start_response, info, status_holder)

    def _drop(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Close the connection without answering (the client sees a dropped connection)."""
        environ[DROPPED_ENVIRON] = True
        sock = environ.get("werkzeug.socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        start_response("500 Dropped", [("Content-Length", "0")])
        return []

    def _forward(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        info: CallInfo,
        status_holder: list[int],
    ) -> Iterable[bytes]:
        recorded = is_recorded(info)
        bucket_region = None
        if recorded and info.bucket:
            bucket = find_bucket(info.bucket)
            bucket_region = getattr(bucket, "region_name", None)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = status
            captured["headers"] = headers
            return (
                start_response(status, headers, exc_info)
                if exc_info
                else start_response(status, headers)
            )

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status = int(str(captured.get("status", "500")).split()[0])
        status_holder[0] = status
        if recorded and 200 <= status < 300:
            self._record(environ, info, bucket_region, body)
        return [body]

    def _record(
        self, environ: dict[str, Any], info: CallInfo, bucket_region: str | None, body: bytes
    ) -> None:
        when = float(environ.get(EVENT_TIME_HEADER) or time.time())
        caller = resolve_caller(info.access_key)
        region = event_region(info, bucket_region)
        response = parse_json(body) if info.protocol == "json" else None
        self.emu.events.record(
            info,
            caller,
            region,
            when,
            source_ip=environ.get(SOURCE_IP_HEADER) or environ.get("REMOTE_ADDR", "127.0.0.1"),
            user_agent=environ.get("HTTP_USER_AGENT", ""),
            response=response,
        )
        if info.service == "cloudtrail" and EVENT_TIME_HEADER in environ:
            self._backdate_logging(info, when)

    @staticmethod
    def _backdate_logging(info: CallInfo, when: float) -> None:
        """Seeding replays history: Start/StopLogging take the event's time, not now."""
        if info.operation not in ("StartLogging", "StopLogging"):
            return
        name = str(info.params.get("Name", ""))
        trail_name = name.rsplit("/", 1)[-1]
        trail = cloudtrail_backends[info.account][info.region].trails.get(trail_name)
        if trail is None:
            return
        moment = datetime.fromtimestamp(when, UTC).replace(tzinfo=None)
        if info.operation == "StartLogging":
            trail.status.started = moment
        else:
            trail.status.stopped = moment


def build_app(emulation: Emulation) -> SandboxMiddleware:
    allow_cloudtrail_delegation()
    install()
    return SandboxMiddleware(CachedDispatcher(create_backend_app), emulation)


def quiet_logging() -> None:
    """werkzeug logs every request and moto's tracebacks: never let them reach a terminal."""
    for name in ("werkzeug", "moto", "botocore", "flask"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


#: Hop-by-hop headers the handler decides itself (the body is always sent whole).
_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


class SandboxRequestHandler(MotoRequestHandler):
    """moto's handler, speaking HTTP/1.1 with persistent connections.

    Werkzeug's handler answers ``Connection: close`` to every request and, after a response,
    discards whatever the client sent next; AWS keeps connections alive. This one buffers the
    application's answer, sends it with its Content-Length and waits for the next request on
    the same socket; an idle connection is closed after the emulation's ``idle_timeout``
    seconds, so a client's pool cannot hold threads forever. It also keeps the one
    underscored header the sandbox needs: werkzeug drops every header with an underscore in
    its name (WSGI cannot tell ``X_Foo`` from ``X-Foo``), and the SSO portal's bearer token
    travels in ``x-amz-sso_bearer_token``.
    """

    protocol_version = "HTTP/1.1"
    #: Headers and body leave in one buffered write, without Nagle's delay between writes.
    wbufsize = -1
    disable_nagle_algorithm = True
    _carried_call = False

    def setup(self) -> None:
        super().setup()
        emu = self._emulation()
        self.connection.settimeout(emu.idle_timeout if emu is not None else IDLE_TIMEOUT)
        if emu is not None:
            emu.meter.connection_opened()

    def finish(self) -> None:
        meter = self._meter()
        if meter is not None:
            meter.connection_closed()
        with contextlib.suppress(OSError):
            super().finish()

    def _emulation(self) -> Emulation | None:
        app = self.server.app
        return app.emu if isinstance(app, SandboxMiddleware) else None

    def _meter(self) -> RequestMeter | None:
        emu = self._emulation()
        return emu.meter if emu is not None else None

    def make_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().make_environ()
        token = self.headers.get("x-amz-sso_bearer_token")
        if token is not None:
            environ[TOKEN_ENVIRON] = token
        return environ

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        environ = self.environ = self.make_environ()
        request_body = environ["wsgi.input"]
        if not environ.get("PATH_INFO", "").startswith("/_sandbox/") and not self._carried_call:
            self._carried_call = True
            meter = self._meter()
            if meter is not None:
                meter.connection_used()
        status, headers, body = self._call_app(environ)
        if environ.get(DROPPED_ENVIRON):
            self.close_connection = True
            return
        if environ["wsgi.input"] is request_body and (
            int(environ.get("CONTENT_LENGTH") or 0) or environ.get("wsgi.input_terminated")
        ):
            # The application left the body unread: the socket's next bytes are not a request.
            self.close_connection = True
        self._respond(environ, status, headers, body)

    def _call_app(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """Run the application to completion: (status line, headers, whole body)."""
        answer: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            answer["status"], answer["headers"] = status, list(headers)
            return chunks.append

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            self.close_connection = True
            body = b"Internal Server Error"
            return "500 Internal Server Error", [("Content-Type", "text/plain")], body
        return (
            answer.get("status", "500 Internal Server Error"),
            answer.get("headers", []),
            b"".join(chunks),
        )

    def _respond(
        self, environ: dict[str, Any], status: str, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        bodiless = environ["REQUEST_METHOD"] == "HEAD" or 100 <= code < 200 or code in (204, 304)
        if any(k.lower() == "connection" and v.lower() == "close" for k, v in headers):
            self.close_connection = True
        try:
            self.send_response(code, reason)
            for key, value in headers:
                if key.lower() not in _HOP_HEADERS:
                    self.send_header(key, value)
                elif key.lower() == "content-length" and bodiless:
                    self.send_header(key, value)  # a HEAD answer names the object's size
            if not bodiless:
                self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            elif self.request_version == "HTTP/1.0":
                self.send_header("Connection", "keep-alive")
            self.end_headers()
            if not bodiless:
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


class _RequestRandom(MotoRandom):
    """moto's one generator, drawing from the current request's own one when it has one.

    Seeding moto's generator alone does not make an estate repeat: requests seeded from
    several threads draw from it in whatever order the threads run. A request that draws
    instead gets a generator seeded by the seed, what the request is and how many such
    requests drew before it, so the ids it creates do not depend on what runs beside it.
    """

    _local = threading.local()

    def _own(self) -> Random | None:
        own: Random | None = getattr(self._local, "rng", None)
        if own is None:
            identity: bytes | None = getattr(self._local, "identity", None)
            if identity is None:
                return None
            with _occurrences_lock:
                _occurrences[identity] += 1
                n = _occurrences[identity]
            digest = hashlib.sha256(identity + n.to_bytes(8, "big")).digest()
            own = self._local.rng = Random(int.from_bytes(digest[:16], "big"))
        return own

    def random(self) -> float:
        own = self._own()
        return own.random() if own is not None else super().random()

    def getrandbits(self, k: int, /) -> int:
        own = self._own()
        return own.getrandbits(k) if own is not None else super().getrandbits(k)


_seed: int | None = None
#: How many requests of each kind (a digest) drew ids so far: bounded by the kinds of
#: requests that create something, not by the number of requests.
_occurrences: Counter[bytes] = Counter()
_occurrences_lock = threading.Lock()


def seed_ids(seed: int) -> None:
    """Make moto's ids (account ids, KMS key ids, access keys ...) a function of the seed
    and of the requests that create them (see _RequestRandom)."""
    global _seed
    _seed = seed
    mock_random.__class__ = _RequestRandom
    mock_random.seed(seed)


@contextlib.contextmanager
def _request_ids(*identity: object) -> Iterator[None]:
    """While one request runs, moto draws from a generator of its own (when seeded)."""
    if _seed is None:
        yield
        return
    key = json.dumps([_seed, *identity], sort_keys=True, default=str)
    local = _RequestRandom._local
    local.identity, local.rng = hashlib.sha256(key.encode()).digest(), None
    try:
        yield
    finally:
        local.identity, local.rng = None, None


def warm(server: BaseWSGIServer) -> None:
    """Build what the first requests of each emulated service would (sandbox/moto_speed.py)."""
    app = server.app
    if isinstance(app, SandboxMiddleware) and isinstance(app.app, CachedDispatcher):
        app.app.warm()


def make_sandbox_server(
    emulation: Emulation,
    host: str = "127.0.0.1",
    port: int = 0,
    idle_timeout: float = IDLE_TIMEOUT,
) -> BaseWSGIServer:
    """The threaded server: one thread per open connection, ended by the connection's close
    or ``idle_timeout`` seconds without a request (``POST /_sandbox/connections`` changes
    it at run time)."""
    quiet_logging()
    emulation.idle_timeout = idle_timeout
    return make_server(
        host, port, build_app(emulation), threaded=True, request_handler=SandboxRequestHandler
    )
