"""The read calls a sweep makes thousands of, made without the SDK's per-call machinery.

Why: at organization size a warm sweep is one GetTrailStatus per view, and a cold one adds
an AssumeRole, a DescribeRegions, a ListTrails and a DescribeTrails per account. aiobotocore
spends ~2 ms of CPU on each call (event hooks, endpoint rules resolved again per call, an
email.message header map, a retry context), several times what the request itself costs.
For an allow-list of read operations of the JSON and query protocols, `FastCaller`
serialises with the client's own serializer, signs with Signature Version 4 itself, sends
over trailtop's own keep-alive HTTP/1.1 client (core/aws/http1.py, with the SDK's TLS
settings and timeouts) and parses with the client's own parser, or for a JSON answer with a
converter built once from the same output shape (core/aws/json_shapes.py): the answer is
the dict the SDK returns, and an error is the SDK's own exception class.

Anything out of the ordinary goes back to the SDK, which then applies its standard retry
mode and error types unchanged: a proxy, an endpoint URL with a path or a query, missing
credentials, a transport error, and any answer the standard retry mode would retry
(throttling codes, transient codes, 5xx), after waiting as the SDK waits before a second
attempt. So the fast path never retries and never guesses. STS's global endpoint (which
signs for us-east-1 whatever the client's region) is left to the SDK as well.

Signature Version 4: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
(the signer's output is checked against botocore's `SigV4Auth` in the unit tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import ssl
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from botocore.parsers import JSONParser
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker
from botocore.utils import percent_encode_sequence

from core.aws.http1 import Host, Http1Pool, WireError, request_bytes
from core.aws.json_shapes import Convert, Unsupported, converter
from core.settings import DEFAULT_CONCURRENCY
from core.util.error_codes import THROTTLE

log = logging.getLogger(__name__)

#: (service, client method) made on the fast path: the per-account and per-view reads of
#: discovery and status, nothing that writes.
FAST_OPS: Final = frozenset(
    {
        ("cloudtrail", "get_trail_status"),
        ("cloudtrail", "describe_trails"),
        ("cloudtrail", "list_trails"),
        ("cloudtrail", "get_event_selectors"),
        ("sts", "assume_role"),
        ("sts", "get_caller_identity"),
        ("ec2", "describe_regions"),
    }
)
_PROTOCOLS: Final = frozenset({"json", "query", "ec2"})
#: Error codes botocore's standard retry mode retries (and trailtop's throttling codes):
#: handed to the SDK.
_RETRY_CODES: Final = frozenset(
    [
        *getattr(ThrottledRetryableChecker, "_THROTTLED_ERROR_CODES", ()),
        *getattr(TransientRetryableChecker, "_TRANSIENT_ERROR_CODES", ()),
        *THROTTLE,
    ]
)
_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
#: Endpoints that serve every region (and sign for one of their own): left to the SDK.
_GLOBAL_HOSTS: Final = frozenset({"sts.amazonaws.com"})
#: Headers botocore never signs (SigV4Auth's blacklist).
_UNSIGNED: Final = frozenset({"expect", "user-agent", "x-amzn-trace-id"})
_ALGORITHM: Final = "AWS4-HMAC-SHA256"
_FORM: Final = "application/x-www-form-urlencoded; charset=utf-8"


class Declined(Exception):
    """The fast path does not take this call: make it through the SDK."""


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.digest(key, msg.encode(), "sha256")


def derive_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    """SigV4's signing key: it changes only with the secret, the day, the region and the
    service."""
    return _hmac(
        _hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request"
    )


def sigv4_headers(
    *,
    method: str,
    host: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    access_key: str,
    secret_key: str,
    token: str | None,
    region: str,
    service: str,
    amz_date: str,
    signing_key: bytes | None = None,
) -> dict[str, str]:
    """`headers` plus Host, X-Amz-Date, X-Amz-Security-Token and Authorization, signed as
    botocore's SigV4Auth signs a request without a query string."""
    out = dict(headers)
    out["X-Amz-Date"] = amz_date
    if token:
        out["X-Amz-Security-Token"] = token
    signed = {k.lower(): " ".join(str(v).split()) for k, v in out.items()}
    signed["host"] = host
    names = sorted(k for k in signed if k not in _UNSIGNED)
    canonical = "\n".join(
        [
            method,
            path,
            "",
            "".join(f"{k}:{signed[k]}\n" for k in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [_ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = signing_key or derive_key(secret_key, day, region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = (
        f"{_ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    out["Host"] = host
    return out


@dataclass(frozen=True)
class _Route:
    """What one client needs, worked out once: where to send and how to sign."""

    host: str
    region: str
    signing_name: str
    #: Where trailtop's own HTTP/1.1 client connects (None: only the SDK sends).
    wire: Host | None = None


class FastCaller:
    """Makes `FAST_OPS` calls for a `ClientPool`, counting each attempt as the SDK would."""

    def __init__(
        self, counter: Any, user_agent: str, pool_limit: int = DEFAULT_CONCURRENCY
    ) -> None:
        self._counter = counter
        self._user_agent = user_agent
        self._pool_limit = pool_limit
        #: Per client object (never its id(): a new client may reuse a closed one's).
        self._routes: weakref.WeakKeyDictionary[Any, _Route | None] = weakref.WeakKeyDictionary()
        #: Per output shape: (the timestamp parser it was built for, its converter or None).
        self._converters: weakref.WeakKeyDictionary[Any, tuple[Any, Convert | None]] = (
            weakref.WeakKeyDictionary()
        )
        self._wire: Http1Pool | None = None
        self._wire_loop: asyncio.AbstractEventLoop | None = None
        #: Per credentials object: the secret and day its signing keys are for, and those
        #: keys by (region, service); dropped with the credentials, reset with the day.
        self._keys: weakref.WeakKeyDictionary[
            Any, tuple[str, str, dict[tuple[str, str], bytes]]
        ] = weakref.WeakKeyDictionary()
        #: Calls answered here (a result or an error), not handed back to the SDK.
        self.answered = 0

    def _route(self, client: Any) -> _Route | None:
        """None when this client's calls must go through the SDK (proxy, odd endpoint)."""
        if client in self._routes:
            return self._routes[client]
        route = None
        try:
            url = client.meta.endpoint_url
            parts = urlsplit(url)
            http = client._endpoint.http_session
            proxied = http._proxy_config.proxy_url_for(url)
            signer = client._request_signer
            if (
                client.meta.service_model.protocol in _PROTOCOLS
                and parts.path in ("", "/")
                and not parts.query
                and not proxied
                and parts.hostname not in _GLOBAL_HOSTS
                and callable(getattr(http, "_get_session", None))
            ):
                host = parts.netloc.rpartition("@")[2]
                default_port = {"http": 80, "https": 443}.get(parts.scheme)
                if parts.port is not None and parts.port == default_port:
                    host = host[: host.rfind(":")]  # as botocore signs it: no default port
                route = _Route(
                    host=host,
                    # The signer's region, not the client's: they differ where an endpoint
                    # signs for another region (e.g. STS's global endpoint, us-east-1).
                    region=signer.region_name,
                    signing_name=signer.signing_name,
                    wire=_wire_host(http, parts.scheme, parts.hostname, parts.port or default_port),
                )
        except AttributeError:  # an SDK release without these members: the SDK does it all
            log.debug("fast path unavailable for a %s client", type(client).__name__)
        self._routes[client] = route
        return route

    def _converter(self, client: Any, shape: Any) -> Convert | None:
        parser = client._response_parser
        # The JSON protocol's parser only (RestJSONParser is not a JSONParser).
        parse_time = (
            getattr(parser, "_timestamp_parser", None) if isinstance(parser, JSONParser) else None
        )
        known = self._converters.get(shape)
        if known is None or known[0] is not parse_time:
            conv = converter(shape, parse_time) if parse_time is not None else None
            known = self._converters[shape] = (parse_time, conv)
        return known[1]

    def _pool(self) -> Http1Pool:
        loop = asyncio.get_running_loop()
        if self._wire is None or self._wire_loop is not loop or self._wire.closed:
            if self._wire is not None and not self._wire.closed:
                with contextlib.suppress(RuntimeError):  # its loop may be closed already
                    self._wire.close()
            self._wire = Http1Pool(self._pool_limit)
            self._wire_loop = loop
        return self._wire

    def _signing_key(
        self, credentials: Any, secret: str, day: str, region: str, service: str
    ) -> bytes:
        try:
            held = self._keys.get(credentials)
        except TypeError:  # credentials that cannot be weakly referenced: nothing is kept
            return derive_key(secret, day, region, service)
        if held is None or held[0] != secret or held[1] != day:
            held = self._keys[credentials] = (secret, day, {})
        key = held[2].get((region, service))
        if key is None:
            key = held[2][(region, service)] = derive_key(secret, day, region, service)
        return key

    def close(self) -> None:
        """Close the connections trailtop's own client keeps (on the running loop)."""
        if self._wire is not None:
            self._wire.close()
            self._wire = None

    def open_connections(self) -> int:
        return 0 if self._wire is None else self._wire.open_connections()

    async def call(self, client: Any, credentials: Any, method: str, params: dict[str, Any]) -> Any:
        """The SDK's answer to `client.<method>(**params)`, or `Declined`."""
        route = self._route(client)
        if route is None or route.wire is None or credentials is None:
            raise Declined
        frozen = await credentials.get_frozen_credentials()
        if not frozen or not frozen.access_key or not frozen.secret_key:
            raise Declined
        op_name = client.meta.method_to_api_mapping[method]
        model = client.meta.service_model.operation_model(op_name)
        # The serializer under botocore's parameter validation: trailtop's own parameters
        # are fixed by its code (~7% of the call's CPU, measured).
        serializer = getattr(client._serializer, "_serializer", client._serializer)
        request = serializer.serialize_to_request(params, model)
        if request.get("query_string") or request.get("url_path", "/") != "/":
            raise Declined
        body = request["body"]
        headers = {str(k): str(v) for k, v in request["headers"].items()}
        if isinstance(body, Mapping):
            body = percent_encode_sequence(body)
            headers.setdefault("Content-Type", _FORM)
        data = body.encode() if isinstance(body, str) else bytes(body or b"")
        headers["User-Agent"] = self._user_agent
        verb = request.get("method", "POST")
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        signed = sigv4_headers(
            method=verb,
            host=route.host,
            path="/",
            body=data,
            headers=headers,
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            token=frozen.token,
            region=route.region,
            service=route.signing_name,
            amz_date=amz_date,
            signing_key=self._signing_key(
                credentials, frozen.secret_key, amz_date[:8], route.region, route.signing_name
            ),
        )
        signed["Accept-Encoding"] = "identity"
        self._counter.hook(model=model)
        status, resp_headers, raw = await self._send(route, verb, signed, data, op_name)
        parsed = await self._parse(client, model, status, resp_headers, raw)
        if status >= 300:
            self._counter.retry_hook(response=(None, parsed))
            err = parsed.get("Error", {})
            code = str(err.get("QueryErrorCode") or err.get("Code") or "")
            if status in _RETRY_STATUSES or code in _RETRY_CODES:
                # The SDK's first attempt would follow at once: wait as its standard retry
                # mode waits before a second attempt (a random part of one second).
                await asyncio.sleep(random.random())
                raise Declined
        parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
        self.answered += 1
        if status >= 300:
            raise client.exceptions.from_code(code)(parsed, op_name)
        return parsed

    async def _send(
        self, route: _Route, verb: str, signed: dict[str, str], data: bytes, op_name: str
    ) -> tuple[int, dict[str, str], bytes]:
        assert route.wire is not None
        try:
            wire = request_bytes(verb, route.host, signed, data)
            answer = await self._pool().request(route.wire, wire)
        except WireError as exc:
            log.debug("fast %s: %s; the SDK retries it", op_name, exc)
            raise Declined from exc
        return answer.status, answer.headers, answer.body

    async def _parse(
        self, client: Any, model: Any, status: int, headers: dict[str, str], raw: bytes
    ) -> dict[str, Any]:
        """The client's parser's answer; for a JSON-protocol success, the same dict built by
        a converter made once for the output shape (core/aws/json_shapes.py)."""
        shape = model.output_shape
        if 200 <= status < 300 and shape is not None:
            conv = self._converter(client, shape)
            if conv is not None:
                try:
                    parsed = conv(json.loads(raw) if raw else {})
                except (Unsupported, ValueError):
                    parsed = None
                if isinstance(parsed, dict):
                    meta: dict[str, Any] = {}
                    if "x-amzn-requestid" in headers:
                        meta["RequestId"] = headers["x-amzn-requestid"]
                    meta["HTTPStatusCode"] = status
                    meta["HTTPHeaders"] = dict(headers)
                    parsed["ResponseMetadata"] = meta
                    return parsed
        result: dict[str, Any] = await client._response_parser.parse(
            {"status_code": status, "headers": headers, "body": raw}, shape
        )
        return result


def _wire_host(http: Any, scheme: str, hostname: str | None, port: int | None) -> Host | None:
    """trailtop's own client's target for this endpoint, with the SDK's TLS settings and
    timeouts; None where only the SDK should send."""
    if not hostname or port is None or scheme not in ("http", "https"):
        return None
    context = None
    if scheme == "https":
        try:
            context = http._build_ssl_contexts(None)[0]
        except (AttributeError, OSError, ValueError):
            return None
        if not isinstance(context, ssl.SSLContext):
            return None
    timeout = getattr(http, "_timeout", None)
    return Host(
        scheme,
        hostname,
        port,
        context,
        float(getattr(timeout, "sock_connect", None) or 60.0),
        float(getattr(timeout, "sock_read", None) or 60.0),
    )
