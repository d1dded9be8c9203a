"""`trailtop watch`: the command-line glue of the headless watcher (core/watch/).

Never imports Textual: it runs under systemd or in a container, without a terminal.
stdout carries one JSON line per event (start, transition, notice, sso_login_needed,
sweep_failed, stop); warnings (a sink that keeps failing) also go to stderr, which a
journal keeps. SIGTERM and SIGINT end it cleanly: the sweep in flight is abandoned, queued
messages get a short grace period, clients and the metrics endpoint are closed, exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from core.report import EXIT_OK
from core.settings import ConfigError, Settings


def _stderr_warnings() -> logging.Handler:
    from tui.cli import _Redact

    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("trailtop: %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Redact())
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)
    return handler


def run_watch(settings: Settings, args: argparse.Namespace) -> int:
    handler = _stderr_warnings()
    try:
        return asyncio.run(_run(settings))
    finally:
        logging.getLogger().removeHandler(handler)


async def _run(settings: Settings) -> int:
    from core.engine.sweep import engine_from_settings
    from core.watch.notify import sinks_from_settings
    from core.watch.run import Watcher

    engine = engine_from_settings(settings)
    watcher = Watcher(engine, settings, sys.stdout, sinks_from_settings(settings))
    try:
        watcher.start_metrics()
    except OSError as e:
        await engine.close()
        m = settings.metrics
        raise ConfigError(
            f"metrics endpoint {m.address}:{m.port}: cannot listen there ({e.strerror or e}); "
            "choose another with --metrics-port, or --no-metrics"
        ) from e
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, watcher.stop)
    try:
        await watcher.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    return EXIT_OK
