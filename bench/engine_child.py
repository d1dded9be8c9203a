"""`python -m bench.engine_child SPEC_JSON`: trailtop's engine in a fresh process.

Run by `bench/__main__.py` so a cold sweep really is cold (new interpreter, imports, clients,
SSL, credentials) and so peak RSS is the engine's alone. Prints one JSON line per sweep and
a final line with `ru_maxrss`.

SPEC: {"endpoint": url, "regions": [...] | [], "sweeps": n, "diagnostics": bool,
       "concurrency": int | null, "spawned_at": epoch seconds (parent's time.time()),
       "views_out": path | null, "profile": path | null}

Each sweep line also carries the server's count per operation (`by_op`, from the sandbox's
or the canned endpoint's `/_sandbox/requests`), the process CPU seconds the sweep took
(`cpu_seconds`: client cost per call, measured apart from the server; `settle_cpu_seconds`:
the collection the monitor runs between sweeps, `Engine.settle`) and the engine's phase
timings (`phases`, read from its debug log line). With `views_out`, the views whose status
the last sweep read are written there (the ceiling asks the same questions). With `profile`,
each sweep runs under cProfile and the top functions by own time and by cumulative time of
the first (cold) and the last (warm) sweep are written there as text.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import logging
import os
import pstats
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

_PHASE = re.compile(r"\b([a-z]+)=(\d+)ms")


def run_child(
    sb: Any,
    *,
    sweeps: int,
    diagnostics: bool,
    regions: list[str] | None = None,
    concurrency: int | None = None,
    endpoint: str | None = None,
    extra: dict[str, Any] | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """Run this module in a new process against `endpoint` (default: the sandbox's); its
    sweep lines and peak memory. `extra`: more SPEC keys (views_out, profile)."""
    root = Path(__file__).resolve().parents[1]
    spec = {
        "endpoint": endpoint or sb.endpoint_url,
        "sweeps": sweeps,
        "diagnostics": diagnostics,
        "regions": regions or [],
        "concurrency": concurrency,
        "spawned_at": time.time(),
        **(extra or {}),
    }
    env = sb.process_env()
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "bench.engine_child", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"engine child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    return {
        "sweeps": [x for x in lines if "sweep" in x],
        "maxrss_mb": next(x["maxrss_mb"] for x in lines if "maxrss_mb" in x),
    }


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM, the peak resident memory of this program's own address space. ru_maxrss
    would also count the process it was started from: Linux records the pre-exec memory's
    high-water mark into it, so a child of a large benchmark process reads as large."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _server_requests(control: Any) -> Counter[str]:
    """Requests the server counted, per `service:Operation`."""
    out: Counter[str] = Counter()
    for row in control.call("GET", "requests")["counts"]:
        out[f"{row['service']}:{row['operation']}"] += int(row["count"])
    return out


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _profile_text(prof: cProfile.Profile, title: str, top: int = 25) -> str:
    out = io.StringIO()
    out.write(f"== {title}: top {top} by own time ==\n")
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    out.write(f"== {title}: top {top} by cumulative time ==\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


class _Phases(logging.Handler):
    """Keeps the phase timings of the engine's last "sweep N: ..." debug line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.last: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith("sweep "):
            self.last = {k: int(v) / 1000 for k, v in _PHASE.findall(text)}


async def main(spec: dict[str, Any]) -> None:
    from core.engine.process import FreezeAfterFirstSweep
    from core.engine.sweep import Engine, engine_from_settings
    from core.settings import load_settings
    from sandbox.control_client import ControlClient

    imported = time.time()
    phases = _Phases()
    sweep_log = logging.getLogger("core.engine.sweep")
    sweep_log.setLevel(logging.DEBUG)
    sweep_log.addHandler(phases)
    sweep_log.propagate = False
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
    profiles: list[str] = []
    total = int(spec.get("sweeps", 1))
    # As the TUI's engine process does (its own process): after the first complete sweep,
    # what lives then is kept out of the collector's passes. Outside the timed sweeps.
    settle = FreezeAfterFirstSweep()
    try:
        for i in range(total):
            prof = cProfile.Profile() if spec.get("profile") else None
            before = _server_requests(control)
            phases.last = {}
            cpu0 = _cpu()
            t0 = time.perf_counter()
            if prof is not None:
                prof.enable()
            snap = await engine.sweep()
            if prof is not None:
                prof.disable()
                if i in (0, total - 1):
                    profiles.append(_profile_text(prof, "cold sweep" if i == 0 else "warm sweep"))
            seconds = time.perf_counter() - t0
            cpu = _cpu() - cpu0
            after = _server_requests(control)
            by_op = {k: n for k, n in (after - before).items() if n}
            out = {
                "sweep": i + 1,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "phases": dict(phases.last),
                "by_op": by_op,
                "organization_trails": len(getattr(snap, "organization_trails", ())),
                "views": len([v for v in snap.views if v.trail.arn]),
                "requests": sum(by_op.values()),
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
            settle(snap)
            # Then what the monitor does between sweeps, outside the timed sweep; its CPU is
            # reported apart.
            out["settle_cpu_seconds"] = engine.settle()
            print(json.dumps(out), flush=True)
        if spec.get("views_out"):
            read = [
                [v.key.account_id, v.key.region, v.trail.arn]
                for v in snap.views
                if v.trail.arn and v.status is not None
            ]
            with open(spec["views_out"], "w") as f:
                json.dump(read, f)
        if spec.get("profile"):
            with open(spec["profile"], "w") as f:
                f.write("\n".join(profiles))
    finally:
        await engine.close()
    print(json.dumps({"maxrss_mb": peak_rss_mb()}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
