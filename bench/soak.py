"""Soak: N sweeps of the real engine with random faults on a private `bench` estate.

    python -m bench.soak [--sweeps 200] [--seed 7] [--accounts 4] [--regions 3] [--trails 2]
                         [--fault-rate 0.5] [--max-seconds 900] [--sample-every 10]
    python -m bench.soak --seeds 7,23,101,202,303 [--jobs 2] [...]   (what `make soak` runs)

The loop is the one the monitor (core/engine/monitor.py) and `trailtop watch`
(core/watch/run.py) run: a sweep, then `Engine.settle` (the garbage the sweep left in
reference cycles collected), then the next; no interval sleep.
One seed: samples RSS and open file descriptors every `--sample-every` sweeps, fits a
least-squares line to RSS after warm-up (the first quarter of the sweeps), and fails when
that slope exceeds 1 MB per 100 sweeps, when the closed engine leaves more descriptors open
than there were before it was made, or when any sweep raised. Descriptors after warm-up and
at the end are reported too (less the connections the fast path's HTTP client keeps for
reuse, which it counts itself); connection pools make them vary with the requests in flight. Several seeds: each runs in its own process (so no seed
inherits another's heap), and the run fails if any seed fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
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


def open_fds(engine: Any = None) -> int:
    """Open descriptors, less the connections the engine's fast path keeps for reuse (a
    bounded pool whose size follows the requests in flight in the last seconds, not a
    leak; a socket it lost track of still counts)."""
    pooled = sum(p.fast_connections for p in engine.collector.pools) if engine else 0
    return len(os.listdir("/proc/self/fd")) - pooled


#: The verdict's limits (see the module docstring).
MAX_SLOPE_MB_PER_100 = 1.0


def slope_per_100(samples: list[tuple[int, float]]) -> float:
    """Least-squares slope of (sweep, MB) points, in MB per 100 sweeps."""
    n = len(samples)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in samples) / n
    my = sum(y for _, y in samples) / n
    sxx = sum((x - mx) ** 2 for x, _ in samples)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in samples) / sxx * 100


class _Counter(logging.Handler):
    """Counts warnings the SDK logs (a credential refresh that failed, for instance)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.by_message: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.name}: {record.msg}"[:120]
        self.by_message[key] = self.by_message.get(key, 0) + 1


def run_seed(args: argparse.Namespace) -> dict[str, Any]:
    from core.engine.sweep import engine_from_settings
    from core.settings import load_settings
    from sandbox import Sandbox

    counter = _Counter()
    logging.getLogger().addHandler(counter)
    logging.getLogger().setLevel(logging.WARNING)
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
    samples: list[tuple[int, float, int]] = []  # sweep, rss MB, fds
    states: dict[str, int] = {}
    live_faults: list[str] = []
    started = time.monotonic()
    held: dict[str, int] = {}

    async def run() -> int:
        held["fds_before"] = open_fds()
        engine = engine_from_settings(settings)
        done = 0
        try:
            for n in range(1, args.sweeps + 1):
                if time.monotonic() - started > args.max_seconds:
                    print(f"seed {args.seed}: time bound reached after {done} sweeps", flush=True)
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
                engine.settle()  # what the monitor does between sweeps
                done = n
                if n == 1 or n % args.sample_every == 0:
                    samples.append((n, rss_mb(), open_fds(engine)))
                if n % 50 == 0:
                    print(f"seed {args.seed}: sweep {n:4d}  rss {samples[-1][1]:7.1f} MB  "
                          f"fds {samples[-1][2]:4d}  t {time.monotonic() - started:6.1f}s",
                          flush=True)  # fmt: skip
            col = engine.collector
            held.update(
                accounts=len(engine.accounts),
                sessions=col.live_sessions,
                clients=sum(p.live_clients for p in col.pools),
            )
        finally:
            await engine.close()
            for _ in range(20):  # the closed sockets' last callbacks run on the next turns
                await asyncio.sleep(0)
            held["fds_closed"] = open_fds()
        return done

    try:
        done = asyncio.run(run())
    finally:
        sb.faults.clear()
        sb.stop()
    if samples[-1][0] != done:
        samples.append((done, rss_mb(), open_fds()))
    warm = max(1, done // 4)
    after = [(n, mb) for n, mb, _ in samples if n >= warm]
    fds_warm = next((f for n, _, f in samples if n >= warm), samples[0][2])
    slope = slope_per_100(after)
    result = {
        "seed": args.seed,
        "sweeps": done,
        "seconds": round(time.monotonic() - started, 1),
        "exceptions": len(exceptions),
        "first_tracebacks": exceptions[:2],
        "warmup_sweeps": warm,
        "rss_mb": [(n, round(mb, 2)) for n, mb, _ in samples],
        "rss_slope_mb_per_100": round(slope, 3),
        "fds_after_warmup": fds_warm,
        "fds_end": samples[-1][2],
        "held_at_end": held,
        "states": states,
        "sdk_warnings": counter.by_message,
    }
    # A descriptor leaked is one the closed engine did not give back; while it runs, its
    # connection pools open and close sockets with the requests in flight (warm/end is
    # reported, not judged).
    result["ok"] = (
        not exceptions
        and slope <= MAX_SLOPE_MB_PER_100
        and held.get("fds_closed", 1 << 30) <= held.get("fds_before", -1)
    )
    return result


def print_seed(r: dict[str, Any]) -> None:
    print(f"\n== soak, seed {r['seed']} ==")
    print(f"sweeps: {r['sweeps']} in {r['seconds']}s; unhandled exceptions: {r['exceptions']}")
    for tb in r["first_tracebacks"]:
        print(tb)
    print("rss MB by sweep:", r["rss_mb"])
    print(f"rss slope after warm-up (sweep {r['warmup_sweeps']} on, least squares): "
          f"{r['rss_slope_mb_per_100']:.3f} MB per 100 sweeps (limit {MAX_SLOPE_MB_PER_100})")  # fmt: skip
    print(f"open fds: {r['fds_after_warmup']} after warm-up, {r['fds_end']} at the end; "
          f"{r['held_at_end'].get('fds_before')} before the engine, "
          f"{r['held_at_end'].get('fds_closed')} once it is closed")  # fmt: skip
    print(f"held at the end: {r['held_at_end']}")
    print(f"view-states summed over sweeps: {r['states']}")
    if r["sdk_warnings"]:
        print("SDK warnings logged:", r["sdk_warnings"])
    print("verdict:", "ok" if r["ok"] else "FAIL")


def _child(seed: int, argv: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.soak", "--seed", str(seed), "--json", *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    return {"seed": seed, "ok": False, "error": proc.stderr[-2000:]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    p.add_argument("--sweeps", type=int, default=200)
    p.add_argument("--accounts", type=int, default=4)
    p.add_argument("--regions", type=int, default=3)
    p.add_argument("--trails", type=int, default=2)
    p.add_argument("--fault-rate", type=float, default=0.5, help="chance a sweep gets a new fault")
    p.add_argument("--max-seconds", type=float, default=900.0)
    p.add_argument("--sample-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--seeds", help="comma-separated seeds, each in its own process")
    p.add_argument("--jobs", type=int, default=2, help="seeds run at once (with --seeds)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = p.parse_args(argv)
    if args.seeds:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
        passthrough = [
            f"--sweeps={args.sweeps}",
            f"--accounts={args.accounts}",
            f"--regions={args.regions}",
            f"--trails={args.trails}",
            f"--fault-rate={args.fault_rate}",
            f"--max-seconds={args.max_seconds}",
            f"--sample-every={args.sample_every}",
        ]
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(lambda s: _child(s, passthrough), seeds))
        print("\n== soak over seeds ==")
        print(
            f"{'seed':>6} {'sweeps':>6} {'exc':>4} {'slope MB/100':>12} {'fds warm/end':>12} "
            f"{'fds before/closed':>17}  verdict"
        )
        for r in results:
            if "error" in r:
                print(f"{r['seed']:>6} child failed:\n{r['error']}")
                continue
            fds = f"{r['fds_after_warmup']}/{r['fds_end']}"
            held = r.get("held_at_end", {})
            closed = f"{held.get('fds_before', '?')}/{held.get('fds_closed', '?')}"
            print(f"{r['seed']:>6} {r['sweeps']:>6} {r['exceptions']:>4} "
                  f"{r['rss_slope_mb_per_100']:>12.3f} {fds:>12} {closed:>17}  "
                  f"{'ok' if r['ok'] else 'FAIL'}")  # fmt: skip
        for r in results:
            if "rss_mb" in r:
                print(f"seed {r['seed']} rss MB by sweep: {r['rss_mb']}")
                if r.get("sdk_warnings"):
                    print(f"seed {r['seed']} SDK warnings: {r['sdk_warnings']}")
        bad = [r["seed"] for r in results if not r.get("ok")]
        print("verdict:", f"FAIL (seeds {bad})" if bad else "ok (every seed)")
        return 1 if bad else 0
    result = run_seed(args)
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        print_seed(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
