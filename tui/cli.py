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

#: The command line's shape. Global flags (where to look) belong to every command;
#: each command adds only its own. `watch` (headless, long-running) will be the next one.
COMMANDS_HELP = """commands:
  (none)           the live TUI; with --once, one sweep printed as a table or JSON
  fix PLAN_ID      apply one remediation plan (see `trailtop fix --help`)
"""


def _global_flags() -> argparse.ArgumentParser:
    """Where to look and how to log: shared by every command."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("where to look")
    g.add_argument(
        "--config",
        metavar="FILE",
        help="TOML config (default: $TRAILTOP_CONFIG or ~/.config/trailtop/config.toml)",
    )
    g.add_argument(
        "--profile",
        action="append",
        metavar="P",
        help="AWS profile to poll (repeatable; replaces aws.profiles)",
    )
    g.add_argument(
        "--region",
        action="append",
        metavar="R",
        help="region to poll (repeatable; replaces aws.regions)",
    )
    g.add_argument(
        "--endpoint-url", metavar="URL", help="AWS-compatible endpoint (moto, LocalStack)"
    )
    g.add_argument("--concurrency", type=int, metavar="N", help="API calls in flight at once")
    g.add_argument(
        "--demo",
        action="store_true",
        help="run against the built-in emulated estate (needs the 'demo' extra)",
    )
    g.add_argument(
        "--debug-log", metavar="FILE", help="write debug logs to FILE (never to the terminal)"
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    """`trailtop`: the live TUI, or one headless sweep with --once."""
    p = argparse.ArgumentParser(
        prog="trailtop",
        description="Watch AWS CloudTrail delivery health across profiles, accounts and regions.",
        parents=[_global_flags()],
        epilog=COMMANDS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--interval", type=float, metavar="S", help="seconds between sweeps")
    p.add_argument(
        "--once",
        action="store_true",
        help="one sweep, print the verdict, exit (0 ok, 1 failing, 2 usage, 3 unknown)",
    )
    p.add_argument(
        "--format",
        choices=("json", "table"),
        default=None,
        help="output of --once (default: table)",
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
    if getattr(args, "interval", None) is not None:
        put("poll", "interval_seconds", args.interval)
    if args.concurrency is not None:
        put("poll", "concurrency", args.concurrency)
    if args.allow_remediation:
        put("remediation", "enabled", True)
    if getattr(args, "bell", False):
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
    """`trailtop fix PLAN_ID`: only the flags that apply to one remediation."""
    p = argparse.ArgumentParser(
        prog="trailtop fix",
        parents=[_global_flags()],
        description=(
            "Apply one remediation plan (ids are listed by `trailtop --once --format json` "
            "under findings[].plans and plans). Shows the exact calls and diff first; writes "
            "only when remediation is enabled and you confirm."
        ),
    )
    p.add_argument(
        "--allow-remediation",
        action="store_true",
        help="enable remediation for this run (each change still asks for confirmation)",
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
        parser = build_parser()
        args = parser.parse_args(argv)
        args.plan_id = None
        if args.format is not None and not args.once:
            parser.error("--format applies to --once (the TUI has no output format)")
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
            return run_headless(settings, args.format or "table")
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
