"""`python -m tests.support.engine_child SETTINGS_JSON`: one engine in its own process.

For tests that need the SDK to see a different HOME than the test process (the SSO token
cache is read from ``~/.aws/sso/cache``, fixed when botocore is imported). Reads one command
per line on stdin (``sweep`` or ``exit``) and answers each sweep with one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


def _summary(snap: Any) -> dict[str, Any]:
    return {
        "sweep": snap.sweep,
        "counts": snap.counts(),
        "views": {v.id: v.state.value for v in snap.views if v.trail.arn},
        "accounts": sorted({v.key.account_id for v in snap.views if v.trail.arn}),
        "target_errors": sorted({t.error or "" for t in snap.targets if not t.ok}),
        "sso_login_needed": list(snap.sso_login_needed),
    }


async def main(overlay: dict[str, Any]) -> None:
    from core.engine.sweep import engine_from_settings
    from core.settings import load_settings

    settings, _ = load_settings(None, overlay)
    engine = engine_from_settings(settings)
    engine.culprits = None
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if line != "sweep":
                break
            snap = await engine.sweep()
            print(json.dumps(_summary(snap)), flush=True)
    finally:
        await engine.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
