"""The `trailtop` command: the TUI by default, `--once` for cron/CI, `--demo` for the sandbox.

The headless path never imports Textual, so `trailtop --once` stays quick in cron.
Nothing here prints a traceback for bad input: config and usage errors exit 2 with one
clear message that says what to do, before any sweep (a profile missing from the shared
config, a misspelt region, an unknown TRAILTOP_* variable, a debug log that cannot be
written, a TUI asked for without a terminal).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.engine.protocols import EventCallback, SnapshotCallback
    from core.settings import Settings

log = logging.getLogger("trailtop")

USAGE = """trailtop [options]                 the live TUI
       trailtop --once [-o FORMAT]       one sweep: table, json or ocsf on stdout
       trailtop fix PLAN_ID [options]    apply one remediation plan
       trailtop watch [options]          headless and long-running: JSON lines, metrics"""

#: The command line's shape. Global flags (where to look) belong to every command;
#: each command adds only its own.
COMMANDS_HELP = """commands:
  (none)           the live TUI; with --once, one sweep printed as a table or JSON
  fix PLAN_ID      apply one remediation plan (see `trailtop fix --help`); the ids are
                   listed by `trailtop --once -o json | jq '.plans | keys'`
  watch            headless and long-running (systemd, a container): state transitions
                   as JSON lines on stdout, Prometheus metrics, notifications on change
                   (see `trailtop watch --help`)

exit status of --once: 0 ok, 1 something failing, 2 usage or configuration error,
3 nothing failing but something could not be read
"""

#: Where `--demo` writes its audit lines: never into the audit log of real changes.
DEMO_AUDIT_LOG = "~/.local/state/trailtop/demo-audit.jsonl"
#: Niceness of the demo's engine process, spawned while the estate starts.
DEMO_ENGINE_NICE = 10
#: The demo's estate starts seeding once the first screen is drawn, or after this long.
DEMO_PAINT_WAIT_SECONDS = 1.5
#: The demo mutes its own findings apart from the real mute file, as it audits apart.
DEMO_MUTE_FILE = "~/.local/state/trailtop/demo-mutes.toml"
_DEMO_REMEDIATION = {
    "remediation": {"audit_log": DEMO_AUDIT_LOG},
    "mute": {"file": DEMO_MUTE_FILE},
}


class _Version(argparse.Action):
    """`-V/--version`, read from the installed package only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("trailtop")
        except PackageNotFoundError:
            number = "unknown (not installed)"
        sys.stdout.write(f"trailtop {number}\n")
        parser.exit(0)


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
        help="region to poll (repeatable or a,b; replaces aws.regions)",
    )
    g.add_argument(
        "--endpoint-url", metavar="URL", help="AWS-compatible endpoint (moto, LocalStack)"
    )
    g.add_argument("--concurrency", type=int, metavar="N", help="API calls in flight at once")
    g.add_argument(
        "--mute-file",
        metavar="FILE",
        help="mute file, merged with [mute] rules (default: ~/.config/trailtop/mutes.toml)",
    )
    g.add_argument(
        "--demo",
        action="store_true",
        help="run against the built-in emulated estate (needs the 'demo' extra)",
    )
    g.add_argument(
        "--debug-log",
        metavar="FILE",
        help="write a debug log to FILE (targets, errors, retries; never credentials)",
    )
    g.add_argument("-V", "--version", action=_Version)
    return p


def build_parser() -> argparse.ArgumentParser:
    """`trailtop`: the live TUI, or one headless sweep with --once."""
    p = argparse.ArgumentParser(
        prog="trailtop",
        usage=USAGE,
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
        "-o",
        "--format",
        choices=("json", "table", "ocsf"),
        default=None,
        help="output of --once (default: table; ocsf: OCSF Detection Findings, a JSON array)",
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
    return p


def _split(values: list[str] | None) -> list[str]:
    """`--region a,b --region c` is three regions."""
    return [part.strip() for v in values or [] for part in v.split(",") if part.strip()]


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    o: dict[str, Any] = {}

    def put(section: str, key: str, value: Any) -> None:
        o.setdefault(section, {})[key] = value

    if args.profile:
        put("aws", "profiles", args.profile)
    if args.region:
        put("aws", "regions", _split(args.region))
    if args.endpoint_url:
        put("aws", "endpoint_url", args.endpoint_url)
    if getattr(args, "interval", None) is not None:
        put("poll", "interval_seconds", args.interval)
    if args.concurrency is not None:
        put("poll", "concurrency", args.concurrency)
    if getattr(args, "mute_file", None) is not None:
        put("mute", "file", args.mute_file)
    if args.allow_remediation:
        put("remediation", "enabled", True)
    if getattr(args, "bell", False):
        put("ui", "bell", True)
    return o


class _Redact(logging.Filter):
    """Defence in depth: nothing that looks like a secret reaches the debug log."""

    _SECRET = re.compile(
        r"(?i)((?:aws_)?secret_?access_?key|secretaccesskey|(?:aws_)?session_?token|"
        r"x-amz-security-token|accesstoken|authorization|password)"
        r"""(["']?\s*[:=]\s*["']?)([^\s"',;}]+)"""
    )
    _SIGNATURE = re.compile(r"(?i)(signature=)[0-9a-f]+")

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = self._SIGNATURE.sub(r"\1<redacted>", self._SECRET.sub(r"\1\2<redacted>", text))
        if clean != text:
            record.msg, record.args = clean, None
        return True


class _RetriesOnly(logging.Filter):
    """botocore says "Not retrying request." after every answer: keep only the retries."""

    def filter(self, record: logging.LogRecord) -> bool:
        return str(record.msg).startswith("Retry needed")


def setup_logging(path: str | None) -> None:
    """Logs go to a file or nowhere: stderr belongs to the TUI (Textual draws there).

    Raises ConfigError when the file cannot be opened (exit 2, not a traceback)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(logging.NullHandler())
    logging.lastResort = None
    path = path or os.environ.get("TRAILTOP_DEBUG_LOG")
    if path:
        full = os.path.expanduser(path)
        try:
            handler: logging.Handler = logging.FileHandler(full, encoding="utf-8")
        except OSError as e:
            from core.settings import ConfigError

            where = os.path.dirname(os.path.abspath(full))
            fix = (
                f"create {where} first"
                if not os.path.isdir(where)
                else "choose a file you may write"
            )
            raise ConfigError(
                f"--debug-log {path}: cannot write it ({e.strerror or e}); {fix}"
            ) from e
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
        )
        handler.addFilter(_Redact())
        root.setLevel(logging.DEBUG)
        # botocore's DEBUG logs include signed headers: keep them at INFO even in debug,
        # except the retry decisions (no request content in them).
        for name in ("botocore", "aiobotocore", "urllib3", "aiohttp", "asyncio"):
            logging.getLogger(name).setLevel(logging.INFO)
        for name in ("botocore.retries.standard", "botocore.retryhandler"):
            retries = logging.getLogger(name)
            retries.setLevel(logging.DEBUG)
            retries.addFilter(_RetriesOnly())
        root.addHandler(handler)


def _debug_log_path() -> str | None:
    """The debug log's file, if `setup_logging` opened one (for the engine's process)."""
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.FileHandler):
            return str(h.baseFilename)
    return None


def _err(msg: str) -> None:
    from core.report import printable

    for line in msg.splitlines() or [""]:
        print(f"trailtop: error: {printable(line)}", file=sys.stderr)


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


def build_watch_parser() -> argparse.ArgumentParser:
    """`trailtop watch`: the engine headless, for systemd or a container."""
    p = argparse.ArgumentParser(
        prog="trailtop watch",
        parents=[_global_flags()],
        description=(
            "Sweep forever without a terminal: one JSON line per state transition on stdout, "
            "Prometheus metrics on http://127.0.0.1:9723/metrics, one notification per "
            "transition to the sinks of [notify]. SIGTERM stops it cleanly (exit 0)."
        ),
    )
    p.add_argument("--interval", type=float, metavar="S", help="seconds between sweeps")
    p.add_argument("--metrics-address", metavar="A", help="address to serve metrics on")
    p.add_argument("--metrics-port", type=int, metavar="P", help="port (0: a free one)")
    p.add_argument("--no-metrics", action="store_true", help="serve no metrics")
    p.add_argument("--webhook-url", metavar="URL", help="POST each message to URL (JSON)")
    p.add_argument("--sns-topic-arn", metavar="ARN", help="publish each message to this topic")
    return p


def _watch_overrides(args: argparse.Namespace) -> dict[str, Any]:
    o: dict[str, Any] = {}
    for flag, section, key in (
        ("metrics_address", "metrics", "address"),
        ("metrics_port", "metrics", "port"),
        ("webhook_url", "notify", "webhook_url"),
        ("sns_topic_arn", "notify", "sns_topic_arn"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            o.setdefault(section, {})[key] = value
    if getattr(args, "no_metrics", False):
        o.setdefault("metrics", {})["enabled"] = False
    return o


def _no_terminal() -> str | None:
    """Why the TUI cannot start here, or None: it reads keys from stdin and draws on a
    terminal; without one it would wait forever in a pipe, a file or cron."""
    for name, stream in (("stdout", sys.stdout), ("stdin", sys.stdin), ("stderr", sys.stderr)):
        if stream is None or not stream.isatty():
            return (
                f"the TUI needs a terminal and {name} is not one; for a report in a pipe, "
                "a file or cron use --once (-o json or -o table)"
            )
    return None


def _named_profile(settings: Settings) -> Settings:
    """`AWS_PROFILE=p` with no profiles configured polls p by name (so rows say p, not
    default). Not when access keys are in the environment: the SDK prefers those then."""
    env_profile = os.environ.get("AWS_DEFAULT_PROFILE") or os.environ.get("AWS_PROFILE")
    if settings.aws.profiles or not env_profile or os.environ.get("AWS_ACCESS_KEY_ID"):
        return settings
    aws = settings.aws.model_copy(update={"profiles": [env_profile]})
    return settings.model_copy(update={"aws": aws})


def _early_demo_sandbox(argv: list[str]) -> Any:
    """With `--demo` and no TUI (`--once`, `fix`, `watch`), the estate's server process,
    spawned before this process imports anything heavy: the server's own start-up (~1.5 s
    of imports and warm-up) then runs while the settings and the SDK load here. None
    otherwise, for help, or without the demo extra (which the regular path reports). The
    TUI spawns it once its first screen is drawn: spawned earlier, it delays that screen."""
    headless = "--once" in argv or argv[:1] in (["fix"], ["watch"])
    if "--demo" not in argv or not headless:
        return None
    if any(a in ("-h", "--help", "-V", "--version") for a in argv):
        return None
    try:
        from tui.demo import new_sandbox

        return new_sandbox().spawn()
    except Exception:  # noqa: BLE001 - said by the regular path, with its exit status
        return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Stopped in the `finally` below, or at exit if the arguments are refused first.
    sandbox = _early_demo_sandbox(argv)
    from core.report import EXIT_UNKNOWN, EXIT_USAGE
    from core.settings import ConfigError, load_settings

    if argv[:1] == ["fix"]:
        args = build_fix_parser().parse_args(argv[1:])
        args.once = False
        args.watch = False
    elif argv[:1] == ["watch"]:
        args = build_watch_parser().parse_args(argv[1:])
        args.once, args.plan_id, args.watch = False, None, True
        args.allow_remediation = False
    else:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.plan_id = None
        args.watch = False
        if args.format is not None and not args.once:
            parser.error("--format applies to --once (the TUI has no output format)")
    try:
        setup_logging(args.debug_log)
        if not args.once and not args.plan_id and not args.watch:
            reason = _no_terminal()
            if reason:
                raise ConfigError(reason)
        overrides = overrides_from_args(args)
        if args.watch:
            from core.settings import deep_merge

            overrides = deep_merge(overrides, _watch_overrides(args))
        demo_tui = args.demo and not (args.once or args.plan_id or args.watch)
        if demo_tui:
            # The TUI paints first and starts the estate behind it (tui.demo.DemoSource):
            # only what is known before the estate is up is merged here.
            from core.settings import deep_merge
            from tui.demo import check_demo_available, demo_poll_overrides, new_sandbox

            check_demo_available()
            sandbox = new_sandbox()  # spawned once the first screen is drawn (run_tui)
            settings, path = load_settings(
                args.config,
                deep_merge(deep_merge(demo_poll_overrides(), _DEMO_REMEDIATION), overrides),
            )
            log.info(
                "trailtop TUI --demo: config %s, remediation %s",
                path or "(none)",
                "enabled" if settings.remediation.enabled else "disabled",
            )
            return run_tui(settings, demo=True, demo_args=(sandbox, args.config, overrides))
        if args.demo:
            from tui.demo import start_demo

            sandbox, demo_overrides, env = start_demo(sandbox)
            os.environ.update(env)
            from core.settings import deep_merge

            demo_overrides = deep_merge(demo_overrides, _DEMO_REMEDIATION)
            overrides = deep_merge(demo_overrides, overrides)
        settings, path = load_settings(args.config, overrides)
        from core.settings import check_aws_names, source_of

        keys = ("aws.profiles", "aws.regions", "remediation.profile")
        check_aws_names(settings, sources={k: source_of(k, overrides, path) for k in keys})
        settings = _named_profile(settings)
        log.info(
            "trailtop %s: config %s, profiles %s, regions %s, endpoint %s, remediation %s",
            "fix " + str(args.plan_id)
            if args.plan_id
            else ("--once" if args.once else "watch" if args.watch else "TUI"),
            path or "(none)",
            settings.aws.profiles or ["(default chain)"],
            settings.aws.regions or ["(every enabled region)"],
            settings.aws.endpoint_url or "(AWS)",
            "enabled" if settings.remediation.enabled else "disabled",
        )
        if args.plan_id:
            from tui.fix import run_fix

            return run_fix(settings, args)
        if args.watch:
            from tui.watch import run_watch

            return run_watch(settings, args)
        if args.once:
            return run_headless(settings, args.format or "table")
        return run_tui(settings, demo=args.demo)
    except ConfigError as e:
        log.error("configuration: %s", e)
        _err(str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - never a traceback for the operator
        log.exception("unexpected error")
        _err(f"unexpected {type(e).__name__}: {e}")
        return EXIT_UNKNOWN
    finally:
        if sandbox is not None:
            sandbox.stop()


def _log_sweep(snap: Any) -> None:
    from core.report import sweep_log_lines

    if log.isEnabledFor(logging.INFO):
        for line in sweep_log_lines(snap):
            log.info("%s", line)


def run_headless(settings: Settings, fmt: str) -> int:
    import asyncio
    import shutil

    from core.engine.sweep import sweep_once
    from core.report import exit_code, to_json_text, to_table

    if sys.stderr.isatty():
        print("trailtop: sweeping…", file=sys.stderr, flush=True)
    snap = asyncio.run(sweep_once(settings))
    _log_sweep(snap)
    if fmt == "json":
        out = to_json_text(snap)
    elif fmt == "ocsf":
        from core.report import to_ocsf_text

        out = to_ocsf_text(snap)
    else:
        # On a terminal the finding column fits the width; piped, every finding is whole.
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        out = to_table(snap, width=width)
    sys.stdout.write(out if out.endswith("\n") else out + "\n")
    sys.stdout.flush()
    return exit_code(snap)


def _demo_settings(sb: Any, config: str | None, overrides: dict[str, Any]) -> Settings:
    """The demo's settings once its estate is up: pointed at it, checked as at start."""
    from core.settings import check_aws_names, deep_merge, load_settings, source_of
    from tui.demo import demo_overrides

    os.environ.update(sb.process_env({}))
    merged = deep_merge(
        deep_merge(demo_overrides(sb.manifest, sb.endpoint_url), _DEMO_REMEDIATION), overrides
    )
    settings, path = load_settings(config, merged)
    keys = ("aws.profiles", "aws.regions", "remediation.profile")
    check_aws_names(settings, sources={k: source_of(k, merged, path) for k in keys})
    log.info("demo estate up at %s: profiles %s", settings.aws.endpoint_url, settings.aws.profiles)
    return _named_profile(settings)


def run_tui(
    settings: Settings,
    *,
    demo: bool = False,
    demo_args: tuple[Any, str | None, dict[str, Any]] | None = None,
) -> int:
    """The live TUI. With `demo_args` (the demo's sandbox, not spawned yet; config path;
    overrides) the emulated estate starts once the first screen is drawn and `settings`
    are those known before it is up."""
    from core.engine.process import EngineOptions, ProcessMonitor
    from core.engine.protocols import SnapshotSource

    def monitor_for(settings: Settings | None) -> ProcessMonitor:
        # The engine runs in a process of its own (core/engine/process.py): at
        # organization size its CPU and memory would otherwise stall the UI's loop.

        class LoggedMonitor(ProcessMonitor):
            """The engine's process host, writing each sweep's summary to the debug log."""

            def start(
                self, on_snapshot: SnapshotCallback, on_event: EventCallback | None = None
            ) -> None:
                def logged(snap: Any) -> None:
                    if snap.partial:  # rows early; the sweep's record is the complete one
                        on_snapshot(snap)
                        return
                    _log_sweep(snap)
                    if collector is not None:
                        collector.counters.sweeps += 1
                        collector.update(snap)
                    on_snapshot(snap)

                super().start(logged, on_event)

        # Watching live: show the verdict at once; culprits still being looked up (Event
        # history allows 2 lookups/s per account-region) arrive with the next sweep.
        options = EngineOptions(
            culprit_wait_seconds=1.0,
            log_setup=setup_logging,
            log_file=_debug_log_path(),
            partial_first_sweep=True,
            # Spawned ahead (the demo), the engine's imports must not take the CPU the
            # estate's start needs: the engine waits for the estate anyway.
            nice=DEMO_ENGINE_NICE if demo_args is not None else 0,
        )
        return LoggedMonitor(settings, options)

    collector: Any = None
    server: Any = None
    if settings.metrics.tui_port:
        # Asked for: the same metrics as `trailtop watch`, on the TUI's own port.
        from core.watch.metrics import Counters, MetricsServer, SnapshotCollector

        collector = SnapshotCollector(Counters(settings.poll.interval_seconds, time.time()))
        try:
            server = MetricsServer.start(
                collector, settings.metrics.address, settings.metrics.tui_port
            )
        except OSError as e:
            from core.settings import ConfigError

            raise ConfigError(
                f"metrics.tui_port {settings.metrics.tui_port}: cannot listen there "
                f"({e.strerror or e}); choose another port"
            ) from e
    engine: ProcessMonitor | None = None
    if demo_args is not None:
        # The engine's process starts without its settings (they need the estate's
        # endpoint) once the first screen is drawn: its imports run while the estate is
        # seeded.
        engine = monitor_for(None)
    from tui.app import TrailtopApp

    source: SnapshotSource
    if demo_args is not None and engine is not None:
        from tui.demo import DemoSource

        demo_sandbox, config, overrides = demo_args
        demo_engine = engine

        def engine_for(sb: Any) -> SnapshotSource:
            demo_engine.settings = _demo_settings(sb, config, overrides)
            return demo_engine

        demo_source = DemoSource(
            lambda: demo_sandbox, engine_for, paint_wait_seconds=DEMO_PAINT_WAIT_SECONDS
        )
        source = demo_source

        def painted() -> None:
            # The first screen is drawn: the estate's server and the engine's process
            # start now (their imports, ~1 s each, would have delayed it), then seeding.
            with contextlib.suppress(Exception):  # stopped meanwhile: the start says why
                demo_sandbox.spawn()
            demo_engine.spawn()
            demo_source.painted()

        class DemoApp(TrailtopApp):
            """Starts the demo's estate and engine once the first screen is drawn."""

            def on_mount(self) -> None:  # before TrailtopApp's, which starts the source
                self.call_after_refresh(painted)

        app_class: type[TrailtopApp] = DemoApp
    else:
        source = monitor_for(settings)
        app_class = TrailtopApp
    from core.mute import mute_file_path

    app = app_class(
        source,
        title_hint="demo estate" if demo else "",
        bell=settings.ui.bell,
        remediation_enabled=settings.remediation.enabled,
        mute_file=mute_file_path(settings),
    )
    try:
        app.run()
    finally:
        source.stop()
        if engine is not None:  # spawned, though the estate may never have started
            engine.stop()
        if server is not None:
            server.stop()
    return int(app.return_code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
