"""`python -m bench.engine_child SPEC_JSON`: trailtop's engine in a fresh process.

Run by `bench/__main__.py` so a cold sweep really is cold (new interpreter, imports, clients,
SSL, credentials) and so peak RSS is the engine's alone. Prints one JSON line per sweep and
a final line with `ru_maxrss`.

SPEC: {"endpoint": url, "regions": [...] | [], "sweeps": n, "diagnostics": bool,
       "concurrency": int | null, "spawned_at": epoch seconds (parent's time.time())}
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any


def _server_requests(control: Any) -> int:
    return int(control.call("GET", "requests")["total"])


async def main(spec: dict[str, Any]) -> None:
    from core.engine.sweep import Engine, engine_from_settings
    from core.settings import load_settings
    from sandbox.control_client import ControlClient

    imported = time.time()
    poll: dict[str, Any] = {"interval_seconds": 60, "read_timeout_seconds": 60}
    if spec.get("concurrency"):
        poll["concurrency"] = spec["concurrency"]
    settings, _ = load_settings(
        None,
        {
            "aws": {
                "profiles": ["bench-mgmt"],
                "regions": spec.get("regions") or [],
                "endpoint_url": spec["endpoint"],
                "organization": {"enabled": True},
            },
            "poll": poll,
        },
    )
    engine = (
        engine_from_settings(settings)
        if spec.get("diagnostics")
        else Engine(settings, diagnoser=None, culprits=None)
    )
    control = ControlClient(spec["endpoint"])
    control.call("DELETE", "requests")
    try:
        for i in range(int(spec.get("sweeps", 1))):
            before = _server_requests(control)
            t0 = time.perf_counter()
            snap = await engine.sweep()
            seconds = time.perf_counter() - t0
            after = _server_requests(control)
            out = {
                "sweep": i + 1,
                "seconds": seconds,
                "views": len([v for v in snap.views if v.trail.arn]),
                "requests": after - before,
                "engine_requests": snap.stats.requests,
                "describe_calls": snap.stats.describe_calls,
                "status_calls": snap.stats.status_calls,
                "diagnostic_calls": snap.stats.diagnostic_calls,
                "errors": snap.stats.errors,
                "states": snap.counts(),
            }
            if i == 0:
                out["since_spawn"] = time.time() - float(spec.get("spawned_at", imported))
                out["imports"] = imported - float(spec.get("spawned_at", imported))
            print(json.dumps(out), flush=True)
    finally:
        await engine.close()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"maxrss_mb": rss_kb / 1024}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
