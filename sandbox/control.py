"""The /_sandbox/... HTTP control plane: faults, counters, clock, seeding helpers.

Everything a test, the demo or a bench changes at run time goes through here, so the
server needs no scenario knowledge and the parent process needs no shared memory.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import parse_qs

from moto.kms.models import kms_backends

from .emulation import Emulation
from .identity import expire_sessions, register_static_key
from .organizations import change_members
from .protocol import WireResponse


def _reply(payload: Any, status: int = 200) -> WireResponse:
    body = json.dumps(payload).encode()
    return WireResponse(
        status, body, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )


def _purge_key(key_arn: str) -> bool:
    """Delete a key from moto, as AWS does when a deletion's waiting period ends."""
    parts = key_arn.split(":")
    account, region, key_id = parts[4], parts[3], parts[5].split("/", 1)[1]
    backend = kms_backends[account][region]
    if key_id not in backend.keys:
        return False
    backend.delete_key(key_id)
    return True


def _synthetic_events(emu: Emulation, payload: dict[str, Any]) -> int:
    """``count`` events spread evenly over (since, until], templates taken in turn;
    ``replace`` drops the synthetic events already in that window first."""
    count = int(payload["count"])
    since, until = float(payload["since"]), float(payload["until"])
    if count < 0 or until < since:
        raise ValueError("count must be >= 0 and until >= since")
    step = (until - since) / count if count else 0.0
    times = [since + (i + 1) * step for i in range(count)]
    return emu.events.record_synthetic(
        payload["account"],
        payload["region"],
        times,
        list(payload["templates"]),
        replace=(since, until) if payload.get("replace") else None,
    )


def handle(emu: Emulation, method: str, path: str, query: str, body: bytes) -> WireResponse:
    """Dispatch one control request; errors come back as JSON with status 400/404."""
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        return _reply({"error": "body must be JSON"}, 400)
    args = {k: v[0] for k, v in parse_qs(query).items()}
    filters = {k: args.get(k) for k in ("service", "operation", "account", "region")}
    route = path.removeprefix("/_sandbox").rstrip("/")
    try:
        if route == "/health":
            return _reply({"ok": True, "pid": os.getpid(), "started_at": emu.started_at})
        if route == "/faults":
            if method == "POST":
                rule = emu.faults.add(payload)
                return _reply({"id": rule.id})
            if method == "DELETE":
                emu.faults.clear()
                return _reply({"cleared": True})
            return _reply({"rules": emu.faults.listing()})
        if route.startswith("/faults/") and method == "DELETE":
            return _reply({"removed": emu.faults.remove(route.rsplit("/", 1)[-1])})
        if route == "/requests":
            if method in ("DELETE", "POST"):
                emu.meter.reset()
                return _reply({"reset": True})
            return _reply(emu.meter.counts(**filters))
        if route == "/connections":
            if method == "POST" and "idle_timeout" in payload:
                seconds = float(payload["idle_timeout"])
                if seconds <= 0:
                    raise ValueError("idle_timeout must be > 0")
                emu.idle_timeout = seconds
            return _reply({"idle_timeout": emu.idle_timeout, **emu.meter.connections()})
        if route == "/requests/log":
            return _reply({"entries": emu.meter.log(float(args.get("since", 0)), **filters)})
        if route == "/delivery/tick" and method == "POST":
            return _reply({"at": emu.delivery.force_delivery()})
        if route == "/delivery/seed" and method == "POST":
            emu.delivery.seed_history(payload["trail_arn"], payload.get("last_success"))
            return _reply({"seeded": payload["trail_arn"]})
        if route == "/delivery/interval" and method == "POST":
            emu.delivery.set_interval(float(payload["seconds"]))
            return _reply({"interval": emu.delivery.interval})
        if route == "/delivery/views":
            return _reply({"views": emu.delivery.snapshot()})
        if route == "/delivery/quiet":
            if method == "POST":
                last_log = payload.get("last_log")
                emu.delivery.set_quiet(
                    payload["account"],
                    payload["region"],
                    payload["trail_arn"],
                    bool(payload.get("quiet", True)),
                    float(last_log) if last_log is not None else None,
                )
            return _reply({"quiet": emu.delivery.quiet_views()})
        if route == "/events/synthetic" and method == "POST":
            return _reply({"recorded": _synthetic_events(emu, payload)})
        if route == "/regions":
            if method == "POST":
                emu.regions.configure(payload.get("default"), payload.get("accounts"))
            return _reply({"default": emu.regions.default, "accounts": emu.regions.accounts})
        if route == "/identity/static-key" and method == "POST":
            arn = register_static_key(
                payload["account"],
                payload["user_name"],
                payload["access_key_id"],
                payload["secret_access_key"],
            )
            return _reply({"arn": arn})
        if route == "/organization/members" and method == "POST":
            return _reply(
                change_members(
                    str(payload["management"]),
                    list(payload.get("remove", [])),
                    list(payload.get("add", [])),
                )
            )
        if route == "/clock":
            if method == "POST":
                emu.clock_offset += float(payload.get("advance", 0))
            return _reply({"offset": emu.clock_offset})
        if route == "/sts/expire" and method == "POST":
            return _reply({"expired": len(expire_sessions(str(payload["role_arn"])))})
        if route == "/sso/tokens":
            if method == "POST":
                emu.sso.register(str(payload["token"]), float(payload["expires_at"]))
            elif method == "DELETE":
                return _reply({"revoked": emu.sso.revoke(str(payload["token"]))})
            return _reply({"tokens": len(emu.sso.listing())})
        if route == "/kms/purge" and method == "POST":
            return _reply({"purged": _purge_key(payload["key_arn"])})
        if route == "/events/counts":
            return _reply({"counts": emu.events.counts()})
        if route == "/events":
            return _reply(
                {"events": emu.events.all_events(args.get("account"), args.get("region"))}
            )
        if route == "/config" and method == "POST":
            if "lookup_events_rps" in payload:
                emu.events.lookup_rps = payload["lookup_events_rps"]
            return _reply({"lookup_events_rps": emu.events.lookup_rps})
    except (KeyError, TypeError, ValueError, IndexError) as err:
        return _reply({"error": f"{type(err).__name__}: {err}"}, 400)
    return _reply({"error": f"no control route {method} {path}"}, 404)
