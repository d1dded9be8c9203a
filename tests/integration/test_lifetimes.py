"""What a long-running engine holds stays bounded by its targets, whatever happens to them.

Cycles of rejected credentials (sessions re-made), throttling, and Organization members
removed and added, on a private estate over HTTP. Objects are counted, not bytes, so the
test depends on neither timing nor the allocator.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from aiobotocore.client import AioBaseClient
from aiobotocore.session import AioSession

from core.aws.http1 import _Conn
from core.engine.sweep import Engine, engine_from_settings
from core.settings import load_settings
from sandbox import Sandbox
from tests.support.engine import aws_env

CYCLES = 3


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


def _held(engine: Engine) -> dict[str, int]:
    col = engine.collector
    services = {k[1] for pool in col.pools for k in pool._clients}
    return {
        "sessions": col.live_sessions,
        "pool_sessions": max(pool.live_sessions for pool in col.pools),
        "clients": sum(pool.live_clients for pool in col.pools),
        "bound": len(engine.accounts) * max(len(services), 1) * 3 * len(col.pools),
    }


async def test_sessions_and_clients_stay_bounded_by_targets_across_fault_cycles(
    sandbox_factory: Callable[..., Sandbox],
) -> None:
    sb = sandbox_factory("bench", scenario_args={"accounts": 3, "regions": 2, "trails": 1})
    m = sb.manifest
    overlay = {
        "aws": {
            "profiles": ["bench-mgmt"],
            "regions": [],
            "endpoint_url": sb.endpoint_url,
            "organization": {"enabled": True, "role_name": m["organization"]["role_name"]},
        },
        "poll": {"max_attempts": 1, "read_timeout_seconds": 5, "describe_every_sweeps": 3},
    }
    with aws_env(sb):
        settings, _ = load_settings(None, overlay)
        engine = engine_from_settings(settings)
        try:
            await engine.sweep()
            baseline: dict[str, int] = {}
            for cycle in range(CYCLES):
                # Every credential rejected once: each session is made again.
                rule = sb.faults.add("expired_token", service="cloudtrail", count=4)
                await engine.sweep()
                sb.faults.remove(rule)
                await engine.sweep()
                # Throttled everywhere for a sweep.
                rule = sb.faults.add("throttle", service="cloudtrail")
                await engine.sweep()
                sb.faults.remove(rule)
                # A member leaves the Organization, a new one joins.
                member = m["organization"]["members"][0]["id"]
                sb.change_organization(remove=[member], add=[f"joiner-{cycle}"])
                engine.request_full_refresh()
                gone = await engine.sweep()
                assert member in {n.account_id for n in gone.notices}
                assert member not in {a.account_id for a in engine.accounts}
                known = {a.account_id for a in engine.accounts}
                assert {k[0] for k in engine.trails} <= known, "what was read there is forgotten"
                held = _held(engine)
                assert held["sessions"] <= len(engine.accounts), held
                assert held["pool_sessions"] <= len(engine.accounts), held
                assert held["clients"] <= held["bound"], held
                for pool in engine.collector.pools:
                    await pool.drain()
                alive = {"sessions": _alive(AioSession), "clients": _alive(AioBaseClient)}
                # The fast path's connections: one host here, at most the pool limit each.
                limit = settings.poll.concurrency * len(engine.collector.pools)
                assert _alive(_Conn) <= limit
                if cycle == 0:
                    baseline = alive
                else:
                    # Flat after the first cycle: nothing replaced is kept alive anywhere.
                    assert alive["sessions"] <= baseline["sessions"], (cycle, alive, baseline)
                    assert alive["clients"] <= baseline["clients"], (cycle, alive, baseline)
        finally:
            await engine.close()
