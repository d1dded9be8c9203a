"""Regenerate docs/screenshot.svg from the real demo estate (sandbox + engine + TUI, 120x40).

    .venv/bin/python docs/make_screenshot.py [docs/screenshot.svg]
    .venv/bin/python docs/make_screenshot.py --fake [fake-screenshot.svg]

Uses Textual's own SVG export. Waits by condition for the first sweep, so the picture shows
live data, not the "waiting for the first sweep" header. `--fake` renders the fixed estate of
tests/support/builders through a fake source instead (120x30, frozen clock): no sandbox and
no engine, so it is quick and the same every time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.engine.monitor import Monitor  # noqa: E402
from core.engine.sweep import engine_from_settings  # noqa: E402
from core.settings import load_settings  # noqa: E402
from sandbox import Sandbox  # noqa: E402
from tests.support.builders import T0, demo_views, make_snapshot  # noqa: E402
from tests.support.fakes import FakeSource, frozen_clock  # noqa: E402
from tui.app import TrailtopApp  # noqa: E402
from tui.demo import DEMO_DELIVERY_INTERVAL, demo_overrides  # noqa: E402


async def shoot(out: Path) -> None:
    sb = Sandbox(scenario="demo", delivery_interval=DEMO_DELIVERY_INTERVAL).start()
    saved = dict(os.environ)
    try:
        os.environ.update(sb.process_env({}))
        settings, _ = load_settings(None, demo_overrides(sb.manifest, sb.endpoint_url))
        monitor = Monitor(engine_from_settings(settings))
        app = TrailtopApp(monitor, title_hint="demo estate")
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                deadline = time.monotonic() + 120
                while app.snapshot is None:
                    assert time.monotonic() < deadline, "no sweep within 120 s"
                    await pilot.pause(0.1)
                await pilot.pause()
                svg = app.export_screenshot(title="trailtop --demo")
        finally:
            monitor.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sb.stop()
    out.write_text(svg, encoding="utf-8")
    print(f"wrote {out} ({len(svg)} bytes)")


async def shoot_fake(out: Path) -> None:
    app = TrailtopApp(
        FakeSource(make_snapshot(demo_views(), sweep=42)),
        title_hint="demo",
        clock=frozen_clock(T0 + timedelta(seconds=3)),
    )
    async with app.run_test(size=(120, 30)) as pilot:
        while app.snapshots_applied < 1:
            await pilot.pause()
        await pilot.pause()
        svg = app.export_screenshot(title="trailtop")
    out.write_text(svg, encoding="utf-8")
    print(f"wrote {out} ({len(svg)} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake", action="store_true", help="the fixed test estate, no sandbox")
    parser.add_argument("out", nargs="?", type=Path, help="SVG to write")
    args = parser.parse_args()
    if args.fake:
        asyncio.run(shoot_fake(args.out or Path("fake-screenshot.svg")))
    else:
        asyncio.run(shoot(args.out or ROOT / "docs" / "screenshot.svg"))


if __name__ == "__main__":
    main()
