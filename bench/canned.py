"""A canned-response endpoint: the second ceiling, which measures the client apart from moto.

    python -m bench.canned --upstream http://127.0.0.1:PORT [--port 0]

Prints one JSON line (`{"port": N}`) once it accepts connections. In `record` mode it
forwards every request to the upstream sandbox and keeps the first answer per request key;
in `replay` mode it answers from memory with no upstream call, after the injected latency
it was given (the same ms the sandbox's latency fault adds), over keep-alive connections.
A request never recorded is forwarded and counted as a miss, so a replay stays correct.

Control (JSON): `POST /_canned/mode {"mode": "record"|"replay", "latency_ms": n}`,
`GET /_canned/stats`. `GET`/`DELETE /_sandbox/requests` answer with this endpoint's own
per-operation counts in the sandbox's shape, so a client that counts through the sandbox's
control plane counts here unchanged; other `/_sandbox/...` paths go upstream.

`request_key` is pure: what makes two requests the same answer, without the parts that change
between two otherwise identical calls (signature, date, a time window).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

#: Request fields whose value differs between two calls asking the same thing.
VOLATILE_FIELDS = frozenset({"StartTime", "EndTime", "X-Amz-Date", "X-Amz-Signature"})
#: Headers that describe one HTTP exchange, not the answer (never replayed).
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}
)

Key = tuple[str, ...]


def _header(headers: Mapping[str, str], name: str) -> str:
    low = name.lower()
    return next((v for k, v in headers.items() if k.lower() == low), "")


def credential_scope(authorization: str) -> tuple[str, str, str]:
    """(access key id, region, service) from a SigV4 Authorization header; blanks if none."""
    marker = "Credential="
    start = authorization.find(marker)
    if start < 0:
        return "", "", ""
    scope = authorization[start + len(marker) :].split(",", 1)[0].strip().split("/")
    if len(scope) < 4:
        return scope[0], "", ""
    return scope[0], scope[2], scope[3]


def operation(method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
    """The API operation: X-Amz-Target (JSON protocols), Action (query protocols), else the
    REST method and path."""
    target = _header(headers, "X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    if b"Action=" in body:
        action = dict(parse_qsl(body.decode(errors="replace"))).get("Action")
        if action:
            return action
    return f"{method} {path}"


def _stable_body(body: bytes, headers: Mapping[str, str]) -> str:
    if not body:
        return ""
    ctype = _header(headers, "Content-Type")
    if "json" in ctype:
        try:
            data = json.loads(body)
        except ValueError:
            return body.decode(errors="replace")
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in VOLATILE_FIELDS}
        return json.dumps(data, sort_keys=True)
    if "x-www-form-urlencoded" in ctype:
        pairs = [
            (k, v) for k, v in parse_qsl(body.decode(errors="replace")) if k not in VOLATILE_FIELDS
        ]
        return "&".join(f"{k}={v}" for k, v in sorted(pairs))
    return body.decode(errors="replace")


def _stable_query(query: str) -> str:
    pairs = [
        (k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in VOLATILE_FIELDS
    ]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def request_key(method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> Key:
    """(service, operation, access key id, region, method, path, query, body) without the
    volatile parts: the same question asked twice has the same key."""
    akid, region, service = credential_scope(_header(headers, "Authorization"))
    return (
        service,
        operation(method, path, headers, body),
        akid,
        region,
        method,
        path,
        _stable_query(query),
        _stable_body(body, headers),
    )


# -- the server ------------------------------------------------------------------------------


class _Canned:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.mode = "record"
        self.latency = 0.0
        self.store: dict[Key, tuple[int, list[tuple[str, str]], bytes]] = {}
        self.counts: Counter[tuple[str, str]] = Counter()
        self.hits = 0
        self.misses = 0
        self.http: Any = None

    async def forward(self, request: Any, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self.http.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body
        ) as resp:
            data = await resp.read()
            kept = [(k, v) for k, v in resp.headers.items() if k.lower() not in _HOP_HEADERS]
            return resp.status, kept, data

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        path = request.path
        if path == "/_canned/mode":
            spec = await request.json()
            self.mode = str(spec.get("mode", self.mode))
            self.latency = float(spec.get("latency_ms", 0)) / 1000
            return web.json_response({"mode": self.mode, "latency_ms": self.latency * 1000})
        if path == "/_canned/stats":
            return web.json_response(
                {
                    "mode": self.mode,
                    "recorded": len(self.store),
                    "hits": self.hits,
                    "misses": self.misses,
                }
            )
        if path == "/_sandbox/requests":
            if request.method == "DELETE":
                self.counts.clear()
                return web.json_response({"reset": True})
            rows = [
                {"service": s, "operation": o, "account": "", "region": "", "count": c}
                for (s, o), c in self.counts.items()
            ]
            return web.json_response({"total": sum(self.counts.values()), "counts": rows})
        body = await request.read()
        if path.startswith("/_sandbox/"):
            status, headers, data = await self.forward(request, body)
            return web.Response(status=status, body=data, headers=headers)
        key = request_key(request.method, path, request.query_string, request.headers, body)
        self.counts[(key[0], key[1])] += 1
        answer = self.store.get(key) if self.mode == "replay" else None
        if answer is None:
            if self.mode == "replay":
                self.misses += 1
            answer = await self.forward(request, body)
            if answer[0] < 500 and b"Throttl" not in answer[2][:300]:
                self.store.setdefault(key, answer)
        else:
            self.hits += 1
            if self.latency:
                await asyncio.sleep(self.latency)
        status, headers, data = answer
        return web.Response(status=status, body=data, headers=headers)


async def _serve(upstream: str, port: int) -> None:
    import aiohttp
    from aiohttp import web

    canned = _Canned(upstream)
    canned.http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=256), auto_decompress=False
    )
    app = web.Application(client_max_size=64 * 1024**2)
    app.router.add_route("*", "/{tail:.*}", canned.handle)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=75)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(json.dumps({"port": bound}), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await canned.http.close()
        await runner.cleanup()


class CannedEndpoint:
    """The parent's handle on one `python -m bench.canned` process (owns exactly its pid)."""

    def __init__(self, upstream: str) -> None:
        root = Path(__file__).resolve().parents[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.canned", "--upstream", upstream],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=root,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"canned endpoint did not start (exit {self.proc.poll()})")
        self.endpoint_url = f"http://127.0.0.1:{json.loads(line)['port']}"

    def _call(
        self, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.endpoint_url + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            out: dict[str, Any] = json.loads(resp.read())
            return out

    def mode(self, mode: str, latency_ms: int = 0) -> None:
        self._call("POST", "/_canned/mode", {"mode": mode, "latency_ms": latency_ms})

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_canned/stats")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.canned",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--upstream", required=True, help="the sandbox's endpoint URL")
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(a.upstream, a.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
