"""The first sweep's rows come as accounts answer: an account slow to answer does not hold
back the rows of the accounts that already have (over HTTP to the emulated estate, one
account's ListTrails slowed by the sandbox's latency fault)."""

from __future__ import annotations

import asyncio
from typing import Any

from core.engine.discovery import FIRST_ROWS_EVERY
from core.engine.sweep import Engine
from core.model import Snapshot
from sandbox import Sandbox
from tests.support.engine import aws_env, settings_for

PROD = "111111111111"
STAGING = "222222222222"


def test_rows_of_accounts_that_answered_come_before_the_slow_one(
    sandbox: Sandbox, sandbox_faults: Any
) -> None:
    # STAGING answers after the partial interval, PROD well after it: the partial published
    # when STAGING is done has every account but PROD.
    slow_ms = {STAGING: 1000 * FIRST_ROWS_EVERY + 200, PROD: 1000 * FIRST_ROWS_EVERY + 2500}
    for account, ms in slow_ms.items():
        sandbox_faults.add(
            "latency", latency_ms=ms, service="cloudtrail", operation="ListTrails", account=account
        )
    published: list[Snapshot] = []
    with aws_env(sandbox):
        engine = Engine(settings_for(sandbox))

        async def go() -> Snapshot:
            try:
                return await engine.sweep(publish=published.append)
            finally:
                await engine.close()

        final = asyncio.run(go())
    assert all(p.partial for p in published) and not final.partial
    assert len(published) >= 2, "a partial while PROD was still answering, then the last one"
    early = published[0]
    early_accounts = {v.key.account_id for v in early.views}
    assert PROD not in early_accounts and STAGING in early_accounts
    # Targets are those of the accounts read so far: none says PROD is fine before it answered.
    assert PROD not in {t.account_id for t in early.targets}
    # No region is claimed uncovered before every account is read: only gaps the
    # complete sweep confirms.
    gaps = {(g.account_id, g.region) for g in final.coverage}
    for p in published:
        assert {(g.account_id, g.region) for g in p.coverage} <= gaps
    # The last partial (every status read) has the complete sweep's rows.
    assert {v.id for v in published[-1].views} == {v.id for v in final.views}
    assert PROD in {v.key.account_id for v in final.views}
    # The same calls as a sweep made phase by phase: one ListTrails per account.
    assert final.stats.describe_calls > 0
