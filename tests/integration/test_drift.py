"""A running engine never drifts from the truth: the estate's endpoint restarts on the same
port under it (fresh state: every credential and role session it issued is unknown) and the
Organization changes (a member removed and another added through the control API), and
within two sweeps the engine reports exactly what a fresh sweep reports, says once that the
member it watched is gone, and holds no clients of the sessions it replaced.
"""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path

from core.engine.sweep import engine_from_settings
from core.model import Snapshot
from sandbox import Sandbox
from tests.support.engine import aws_env, settings_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _truth(snap: Snapshot) -> tuple[dict[str, tuple[str, tuple[str, ...]]], Counter[tuple]]:
    """Views (state and codes) and targets, the parts a fresh sweep must agree with."""
    views = {v.id: (v.state.value, tuple(f.code for f in v.findings)) for v in snap.views}
    targets = Counter((t.profile, t.account_id, t.region, t.ok) for t in snap.targets)
    return views, targets


async def test_after_an_endpoint_restart_the_engine_converges_within_two_sweeps(
    tmp_path: Path,
) -> None:
    port = _free_port()
    first = Sandbox(scenario="demo", port=port, workdir=tmp_path, delivery_interval=3600.0)
    first.start()
    try:
        with aws_env(first):
            engine = engine_from_settings(settings_for(first))
            engine.culprits = None  # Event history is not what this test is about
            before = await engine.sweep()
            old_member = first.manifest["organization"]["members"][0]["id"]
            assert old_member in {v.key.account_id for v in before.views}
            first.stop()
            second = Sandbox(scenario="demo", port=port, workdir=tmp_path, delivery_interval=3600.0)
            second.start()
            try:
                # The restarted estate's own member leaves too, and a newcomer joins.
                leaving = second.manifest["organization"]["members"][0]["id"]
                change = second.change_organization(remove=[leaving], add=["newcomer"])
                newcomer = change["added"]["newcomer"]
                sweeps = [await engine.sweep(), await engine.sweep()]
                fresh_engine = engine_from_settings(settings_for(second))
                fresh_engine.culprits = None
                try:
                    fresh = await fresh_engine.sweep()
                finally:
                    await fresh_engine.close()
                running = sweeps[-1]
                assert _truth(running) == _truth(fresh)
                ids = [v.id for v in running.views]
                assert len(ids) == len(set(ids)), "no view twice"
                watched = {v.key.account_id for v in running.views}
                assert old_member not in watched and leaving not in watched
                assert newcomer in {t.account_id for t in running.targets}
                # The member that left is said once, not silently dropped.
                said = [n for s in sweeps for n in s.notices if n.account_id == old_member]
                assert [n.kind for n in said] == ["account-removed"]
                # Replaced sessions' clients are closed and dropped: what is held is
                # bounded by what is reached (services x regions x accounts).
                col = engine.collector
                assert col.live_sessions <= len(engine.accounts)
                assert col.pool.live_sessions <= len(engine.accounts)
                assert not (await engine.sweep()).notices, "said once, not every sweep"
            finally:
                await engine.close()
                second.stop()
    finally:
        first.stop()
