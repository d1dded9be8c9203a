"""`python -m bench.owner_discovery [--accounts 1000]`: what finding bucket owners costs.

A bucket's name carries no account, so the diagnoser asks `ListBuckets` of the reached
accounts (the trail's own first) and caches the answer for a diagnostics refresh. This
seeds the sandbox's `bench` estate (one trail and bucket per account, one region, reached
through Organization fan-out), runs a cold and a warm sweep with diagnostics, and prints the
`ListBuckets` calls per sweep and the most any account was asked (the bound: one).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import time
from typing import Any


async def _sweeps(sb: Any) -> None:
    from core.engine.sweep import engine_from_settings
    from core.settings import load_settings

    settings, _ = load_settings(
        None,
        {
            "aws": {
                "profiles": ["bench-mgmt"],
                "regions": [],
                "endpoint_url": sb.endpoint_url,
                "organization": {"enabled": True},
            },
            "poll": {"read_timeout_seconds": 60},
        },
    )
    engine = engine_from_settings(settings)
    engine.culprits = None  # Event history is not what this measures
    try:
        for label in ("cold", "warm"):
            since, t0 = time.time(), time.monotonic()
            snap = await engine.sweep()
            seconds = time.monotonic() - t0
            log = sb.request_log(since=since, operation="ListBuckets")
            per = collections.Counter(e["account"] for e in log)
            print(
                f"{label}: {len(snap.views)} views, {len(engine.accounts)} accounts, "
                f"{seconds:.1f} s, {snap.stats.requests} requests, ListBuckets {len(log)} "
                f"({len(per)} accounts asked, at most {max(per.values(), default=0)} each)",
                flush=True,
            )
    finally:
        await engine.close()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.owner_discovery")
    p.add_argument("--accounts", type=int, default=1000)
    args = p.parse_args()
    from sandbox import Sandbox

    t0 = time.monotonic()
    scenario = {"accounts": args.accounts, "regions": 1, "trails": 1, "multi_region_trails": 0}
    with Sandbox(
        scenario="bench", scenario_args={**scenario, "broken": 0}, delivery_interval=3600.0
    ) as sb:
        print(f"seeded {args.accounts} accounts in {time.monotonic() - t0:.0f} s", flush=True)
        env = sb.process_env()
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            asyncio.run(_sweeps(sb))
        finally:
            os.environ.clear()
            os.environ.update(saved)


if __name__ == "__main__":
    main()
