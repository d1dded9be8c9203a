"""Soak: N sweeps of the real engine with random faults on a private `bench` estate.

    python -m bench.soak [--sweeps 300] [--accounts 4] [--regions 3] [--trails 2]
                         [--fault-rate 0.5] [--max-seconds 900] [--seed 7]

Reports unhandled exceptions (must be 0), RSS growth per 100 sweeps and open file
descriptors over time. Bounded in sweeps and in wall time. Exit status 1 if any sweep
raised, or RSS/fds grew without bound (second half growth > first half + slack).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import traceback
from typing import Any

KINDS: list[tuple[str, dict[str, Any]]] = [
    ("throttle", {"service": "cloudtrail", "operation": "GetTrailStatus"}),
    ("throttle", {"service": "cloudtrail", "operation": "DescribeTrails"}),
    ("5xx", {"service": "cloudtrail", "status": 503}),
    ("5xx", {"service": "cloudtrail", "status": 500, "count": 3}),
    ("drop", {"service": "cloudtrail", "operation": "GetTrailStatus"}),
    ("drop", {}),
    ("latency", {"service": "cloudtrail", "latency_ms": 1500}),
    ("access_denied", {"service": "cloudtrail", "operation": "GetTrailStatus"}),
    ("expired_token", {}),
    ("region_disabled", {"service": "cloudtrail"}),
    ("error_message", {"message": "[@click=app.quit]x[/]\x1b]52;c;aGVsbG8=\x07" + "A" * 2000}),
    ("access_denied", {"service": "s3"}),
    ("throttle", {"service": "sts"}),
]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    p.add_argument("--sweeps", type=int, default=300)
    p.add_argument("--accounts", type=int, default=4)
    p.add_argument("--regions", type=int, default=3)
    p.add_argument("--trails", type=int, default=2)
    p.add_argument("--fault-rate", type=float, default=0.5, help="chance a sweep gets a new fault")
    p.add_argument("--max-seconds", type=float, default=900.0)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)

    from core.engine.sweep import engine_from_settings
    from core.settings import load_settings
    from sandbox import Sandbox

    rng = random.Random(args.seed)
    sb = Sandbox(
        scenario="bench",
        delivery_interval=5.0,
        scenario_args={"accounts": args.accounts, "regions": args.regions, "trails": args.trails},
    ).start()
    os.environ.update(sb.process_env())
    m = sb.manifest
    accounts = sorted(m["accounts"])
    regions = sorted({r for a in m["accounts"].values() for r in a["regions"]})
    profile = next(iter(p for p in m["profiles"] if p != "default"), "default")
    settings, _ = load_settings(
        None,
        {
            "aws": {
                "profiles": [profile],
                "endpoint_url": sb.endpoint_url,
                "organization": {"enabled": True, "role_name": m["organization"]["role_name"]},
            },
            "poll": {
                "interval_seconds": 1,
                "max_attempts": 2,
                "read_timeout_seconds": 1,
                "connect_timeout_seconds": 1,
                "describe_every_sweeps": 5,
                "diagnose_refresh_seconds": 30,
            },
        },
    )
    exceptions: list[str] = []
    samples: list[tuple[int, float, int, float]] = []  # sweep, rss MB, fds, seconds
    states: dict[str, int] = {}
    live_faults: list[str] = []
    started = time.monotonic()

    async def run() -> int:
        engine = engine_from_settings(settings)
        done = 0
        try:
            for n in range(1, args.sweeps + 1):
                if time.monotonic() - started > args.max_seconds:
                    print(f"time bound reached after {done} sweeps", flush=True)
                    break
                # Faults come and go: drop old ones, maybe add a new one.
                while live_faults and (len(live_faults) > 2 or rng.random() < 0.5):
                    sb.faults.remove(live_faults.pop(0))
                if rng.random() < args.fault_rate:
                    kind, params = rng.choice(KINDS)
                    params = dict(params)
                    if rng.random() < 0.7:
                        params["account"] = rng.choice(accounts)
                    if rng.random() < 0.3:
                        params["region"] = rng.choice(regions)
                    if kind != "error_message":
                        params.setdefault("probability", rng.choice([1.0, 0.5, 0.2]))
                    live_faults.append(sb.faults.add(kind, **params))
                if n % 25 == 0:
                    engine.request_full_refresh()
                try:
                    snap = await engine.sweep()
                    for k, v in snap.counts().items():
                        states[k] = states.get(k, 0) + v
                except Exception:  # noqa: BLE001 - this is what the soak counts
                    exceptions.append(traceback.format_exc())
                done = n
                if n == 1 or n % 50 == 0:
                    samples.append((n, rss_mb(), open_fds(), time.monotonic() - started))
                    print(f"sweep {n:4d}  rss {samples[-1][1]:7.1f} MB  fds {samples[-1][2]:4d}  "
                          f"t {samples[-1][3]:6.1f}s  faults {len(live_faults)}", flush=True)  # fmt: skip
        finally:
            await engine.close()
        return done

    try:
        done = asyncio.run(run())
    finally:
        sb.faults.clear()
        sb.stop()
    if samples[-1][0] != done:
        samples.append((done, rss_mb(), open_fds(), time.monotonic() - started))

    print("\n== soak summary ==")
    print(f"estate: bench accounts={args.accounts} regions={args.regions} trails={args.trails}")
    print(f"sweeps: {done} in {time.monotonic() - started:.1f}s, seed {args.seed}")
    print(f"unhandled exceptions: {len(exceptions)}")
    for tb in exceptions[:3]:
        print(tb)
    print(f"view-states summed over sweeps: {states}")
    base = next((s for s in samples if s[0] >= 100), samples[0])
    per100 = [
        (b[0], round((b[1] - a[1]) / max(b[0] - a[0], 1) * 100, 2))
        for a, b in zip(samples, samples[1:], strict=False)
        if b[0] > a[0]
    ]
    print("rss MB by sweep:", [(s[0], round(s[1], 1)) for s in samples])
    print("rss growth MB per 100 sweeps (per interval):", per100)
    print("open fds by sweep:", [(s[0], s[2]) for s in samples])
    last = samples[-1]
    growth_after_warmup = (last[1] - base[1]) / max(last[0] - base[0], 1) * 100
    print(f"rss growth after warm-up (sweep {base[0]} -> {last[0]}): "
          f"{growth_after_warmup:.2f} MB per 100 sweeps")  # fmt: skip
    fd_growth = last[2] - base[2]
    print(f"fd growth after warm-up: {fd_growth}")
    bad = bool(exceptions) or growth_after_warmup > 20 or fd_growth > 50
    print("verdict:", "FAIL" if bad else "ok (0 exceptions, bounded memory and descriptors)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
