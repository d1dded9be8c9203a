"""The `trailtop` command: the TUI by default, `--once` for cron/CI, `--demo` for the sandbox.

The headless path never imports Textual, so `trailtop --once` stays quick in cron.
Nothing here prints a traceback for bad input: config and usage errors exit 2 with one
clear message.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from core.report import EXIT_UNKNOWN, EXIT_USAGE
from core.settings import ConfigError, Settings, load_settings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="trailtop",
        description="Watch AWS CloudTrail delivery health across profiles, accounts and regions.",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML config (default: $TRAILTOP_CONFIG or ~/.config/trailtop/config.toml)",
    )
    p.add_argument(
        "--profile",
        action="append",
        metavar="P",
        help="AWS profile to poll (repeatable; replaces aws.profiles)",
    )
    p.add_argument(
        "--region",
        action="append",
        metavar="R",
        help="region to poll (repeatable; replaces aws.regions)",
    )
    p.add_argument(
        "--endpoint-url", metavar="URL", help="AWS-compatible endpoint (moto, LocalStack)"
    )
    p.add_argument("--interval", type=float, metavar="S", help="seconds between sweeps")
    p.add_argument("--concurrency", type=int, metavar="N", help="API calls in flight at once")
    p.add_argument(
        "--once",
        action="store_true",
        help="one sweep, print the verdict, exit (0 ok, 1 failing, 2 usage, 3 unknown)",
    )
    p.add_argument(
        "--format",
        choices=("json", "table"),
        default="table",
        help="output of --once (default: table)",
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="run against the built-in emulated estate (needs the 'demo' extra)",
    )
    p.add_argument(
        "--allow-remediation",
        action="store_true",
        help="enable remediation (each change still asks for confirmation)",
    )
    p.add_argument(
        "--bell",
        action="store_true",
        help="ring the terminal bell when a view turns failing or recovers",
    )
    p.add_argument(
        "--debug-log", metavar="FILE", help="write debug logs to FILE (never to the terminal)"
    )
    p.add_argument("--version", action="version", version="trailtop 0.1.0")
    return p


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    o: dict[str, Any] = {}

    def put(section: str, key: str, value: Any) -> None:
        o.setdefault(section, {})[key] = value

    if args.profile:
        put("aws", "profiles", args.profile)
    if args.region:
        put("aws", "regions", args.region)
    if args.endpoint_url:
        put("aws", "endpoint_url", args.endpoint_url)
    if args.interval is not None:
        put("poll", "interval_seconds", args.interval)
    if args.concurrency is not None:
        put("poll", "concurrency", args.concurrency)
    if args.allow_remediation:
        put("remediation", "enabled", True)
    if args.bell:
        put("ui", "bell", True)
    return o


def setup_logging(path: str | None) -> None:
    """Logs go to a file or nowhere: stderr belongs to the TUI (Textual draws there)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    path = path or os.environ.get("TRAILTOP_DEBUG_LOG")
    if path:
        handler: logging.Handler = logging.FileHandler(os.path.expanduser(path), encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.setLevel(logging.DEBUG)
        # botocore's DEBUG logs include signed headers: keep them at INFO even in debug.
        for name in ("botocore", "aiobotocore", "urllib3", "aiohttp"):
            logging.getLogger(name).setLevel(logging.INFO)
    else:
        handler = logging.NullHandler()
    root.addHandler(handler)
    logging.lastResort = None


def _err(msg: str) -> None:
    from core.report import printable

    print(f"trailtop: error: {printable(msg)}", file=sys.stderr)


def build_fix_parser() -> argparse.ArgumentParser:
    p = build_parser()
    p.prog = "trailtop fix"
    p.description = (
        "Apply one remediation plan (ids are listed by `trailtop --once --format json` under "
        "findings[].plans and plans). Shows the exact calls and diff first; writes only when "
        "remediation is enabled and you confirm."
    )
    p.add_argument("plan_id", metavar="PLAN_ID")
    p.add_argument("--yes", action="store_true", help="do not prompt (for scripts)")
    p.add_argument(
        "--confirm-extra",
        action="store_true",
        help="also confirm a plan flagged as needing extra confirmation (e.g. it alters a Deny)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="bind a plan parameter (e.g. bucket=my-logs)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["fix"]:
        args = build_fix_parser().parse_args(argv[1:])
        args.once = False
    else:
        args = build_parser().parse_args(argv)
        args.plan_id = None
    setup_logging(args.debug_log)
    sandbox = None
    try:
        overrides = overrides_from_args(args)
        if args.demo:
            from tui.demo import start_demo

            sandbox, demo_overrides, env = start_demo()
            os.environ.update(env)
            from core.settings import deep_merge

            overrides = deep_merge(demo_overrides, overrides)
        settings, _path = load_settings(args.config, overrides)
        if args.plan_id:
            from tui.fix import run_fix

            return run_fix(settings, args)
        if args.once:
            return run_headless(settings, args.format)
        return run_tui(settings, demo=args.demo)
    except ConfigError as e:
        _err(str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - never a traceback for the operator
        logging.getLogger("trailtop").exception("unexpected error")
        _err(f"unexpected {type(e).__name__}: {e}")
        return EXIT_UNKNOWN
    finally:
        if sandbox is not None:
            sandbox.stop()


def run_headless(settings: Settings, fmt: str) -> int:
    import asyncio

    from core.engine.sweep import sweep_once
    from core.report import exit_code, to_json_text, to_table

    if sys.stderr.isatty():
        print("trailtop: sweeping…", file=sys.stderr, flush=True)
    snap = asyncio.run(sweep_once(settings))
    out = to_json_text(snap) if fmt == "json" else to_table(snap)
    sys.stdout.write(out if out.endswith("\n") else out + "\n")
    sys.stdout.flush()
    return exit_code(snap)


def run_tui(settings: Settings, *, demo: bool = False) -> int:
    from core.engine.monitor import Monitor
    from core.engine.sweep import engine_from_settings
    from tui.app import TrailtopApp

    engine = engine_from_settings(settings)
    if engine.culprits is not None:
        # Watching live: show the verdict at once; culprits still being looked up (Event
        # history allows 2 lookups/s per account-region) arrive with the next sweep.
        engine.culprits.wait_seconds = 1.0
    monitor = Monitor(engine)
    app = TrailtopApp(
        monitor,
        title_hint="demo estate" if demo else "",
        bell=settings.ui.bell,
        remediation_enabled=settings.remediation.enabled,
    )
    try:
        app.run()
    finally:
        monitor.stop()
    return int(app.return_code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
