"""`python -m bench.org` (`make bench-org`): trailtop on a 1,000-account organization.

    python -m bench.org [--accounts 1000] [--regions 17] [--latency 0,40]
                        [--sequential-sample 20] [--warm-sweeps 3] [--no-tui]

One estate (the sandbox's `org` scenario: an organization trail, local trails in every
`--local-every`-th member, `--broken` of them broken), then per injected latency:

  cold --once      the real `trailtop --once --format json` in a new process: wall time, exit
                   status, peak RSS and CPU (wait4), calls counted by the sandbox (per
                   operation), views / organization trails / states from its JSON, and its cold
                   start (spawn to the sweep's start, plus the resolve phase, from its debug log)
                   and the sandbox's own CPU during that resolve phase (/proc, sampled)
  warm (sandbox)   a long-lived engine (bench/engine_child.py) sweeping --warm-sweeps times:
                   cold and warm sweep seconds, calls per warm sweep by group, client CPU per
                   call, phase timings, peak RSS, and the CPU of the collection the monitor
                   runs between sweeps (Engine.settle), apart
  warm (canned)    the same engine against bench/canned.py replaying the estate's answers with
                   the same injected latency and no emulator behind it: trailtop's own cost
  ceiling          the warm sweep's status reads as pre-signed raw aiohttp requests
                   (bench/cases.py), against the canned endpoint and against the sandbox
  sequential       the plain boto3 loop over --sequential-sample accounts, scaled to the estate

Prints one table (figures per latency, the target, met or missed at the target's latency)
and writes bench/results-org.json. The TUI figures come from bench/tui_figures.py's
`org_figures` (the overview at this many accounts, keys while the engine sweeps this estate
at the last latency).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.org_table import GROUPS, render

ROOT = Path(__file__).resolve().parents[1]
MGMT = "123456789012"


def log(msg: str) -> None:
    print(f"[bench.org {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


_CREDENTIALS = {"AssumeRole", "GetCallerIdentity", "GetSessionToken", "GetRoleCredentials"}
_DESCRIBE = {
    "ListTrails",
    "DescribeTrails",
    "GetEventSelectors",
    "GetTrail",
    "GetInsightSelectors",
    "DescribeRegions",
    "ListRegions",
    "ListAccountAliases",
}
_DIAGNOSE_SERVICES = {"s3", "kms", "sns", "logs", "iam"}


def group_of(op_key: str) -> str:
    """`service:Operation` to the groups the targets count apart."""
    service, _, op = op_key.partition(":")
    if op == "GetTrailStatus":
        return "status"
    if op in _CREDENTIALS or service == "sts":
        return "credentials"
    if op in _DESCRIBE or service == "organizations":
        return "describe"
    if service in _DIAGNOSE_SERVICES or op == "LookupEvents":
        return "diagnose"
    return "other"


def by_group(by_op: dict[str, int]) -> dict[str, int]:
    out = dict.fromkeys(GROUPS, 0)
    for k, n in by_op.items():
        out[group_of(k)] += n
    return out


def _sandbox_by_op(sb: Any) -> Counter[str]:
    out: Counter[str] = Counter()
    for row in sb.requests()["counts"]:
        out[f"{row['service']}:{row['operation']}"] += int(row["count"])
    return out


# -- the estate ----------------------------------------------------------------------------


def start_estate(a: argparse.Namespace) -> Any:
    from sandbox import Sandbox
    from sandbox.scenarios import SCENARIOS

    if "org" in SCENARIOS:
        scenario = "org"
        args: dict[str, Any] = {
            "accounts": a.accounts,
            "regions": a.regions,
            "local_every": a.local_every,
            "broken": a.broken,
        }
    else:
        # Until the organization scenario exists: one multi-region trail per account.
        scenario = "bench"
        args = {"accounts": a.accounts, "regions": a.regions, "trails": 1,
                "multi_region_trails": 1, "broken": a.broken}  # fmt: skip
    t0 = time.monotonic()
    sb = Sandbox(
        scenario=scenario, scenario_args=args, delivery_interval=3600.0, lookup_events_rps=2.0
    ).start()
    log(
        f"estate {scenario} {args}: {sb.manifest['size']} seeded in "
        f"{time.monotonic() - t0:.0f}s (sandbox pid {sb.pid})"
    )
    return sb


# -- trailtop --once ---------------------------------------------------------------------------


def _config(endpoint: str, concurrency: int | None, where: Path) -> Path:
    poll = "read_timeout_seconds = 60\n" + (f"concurrency = {concurrency}\n" if concurrency else "")
    text = (
        "[aws]\n"
        'profiles = ["bench-mgmt"]\n'
        "regions = []\n"
        f'endpoint_url = "{endpoint}"\n\n'
        "[aws.organization]\nenabled = true\n\n"
        f"[poll]\n{poll}\n"
        '[mute]\nfile = ""\n'
    )
    path = where / "config.toml"
    path.write_text(text)
    return path


def _trailtop_command() -> list[str]:
    script = Path(sys.executable).with_name("trailtop")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from tui.cli import main; raise SystemExit(main())"]


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
_PHASE = re.compile(r"\b([a-z]+)=(\d+)ms")


def _sweep_line(debug_log: Path) -> tuple[float | None, dict[str, float]]:
    """(epoch of the engine's "sweep 1: ..." line, its phase timings in seconds)."""
    for line in debug_log.read_text(errors="replace").splitlines():
        if "core.engine.sweep: sweep " in line:
            m = _STAMP.match(line)
            at = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() if m else None
            return at, {k: int(v) / 1000 for k, v in _PHASE.findall(line)}
    return None, {}


def _execd(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"--once" in f.read()
    except OSError:
        return False


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process (every thread), from /proc; None if gone."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command's closing parenthesis: state is field 3, utime 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_share(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    """CPU seconds per wall second a sampled process spent between two epoch times, from
    the first and last samples inside that window (user + system: it may exceed 1)."""
    inside = [(t, c) for t, c in samples if start <= t <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def cold_once(sb: Any, endpoint: str, concurrency: int | None) -> dict[str, Any]:
    """The real CLI in a new process: one sweep, JSON on stdout."""
    from bench.engine_child import peak_rss_mb

    with tempfile.TemporaryDirectory(prefix="trailtop-bench-org-") as tmp:
        where = Path(tmp)
        config = _config(endpoint, concurrency, where)
        debug_log, out_path, err_path = where / "debug.log", where / "out.json", where / "err"
        cmd = [
            *_trailtop_command(),
            "--once",
            "--format",
            "json",
            "--config",
            str(config),
            "--debug-log",
            str(debug_log),
        ]
        env = sb.process_env()
        env["AWS_ENDPOINT_URL"] = endpoint
        sb.reset_requests()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            spawned = time.time()
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
            peak = 0.0
            # The endpoint's own CPU over time: what bounds the resolve phase when the
            # endpoint is the emulator (moto's AssumeRole), one core at most (its GIL).
            server_cpu: list[tuple[float, float]] = []
            while True:  # its own peak (VmHWM), read until it exits: see peak_rss_mb
                pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                # Until it has exec'd, the child is still a copy of this process (same
                # memory, same command line): read its own peak only after that.
                if _execd(proc.pid):
                    peak = max(peak, peak_rss_mb(proc.pid))
                if endpoint == sb.endpoint_url:
                    cpu_now = process_cpu_seconds(sb.pid)
                    if cpu_now is not None:
                        server_cpu.append((time.time(), cpu_now))
                time.sleep(0.05)
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
        by_op = dict(_sandbox_by_op(sb))
        text = out_path.read_text(errors="replace")
        try:
            doc = json.loads(text)
        except ValueError:
            raise RuntimeError(
                f"trailtop --once exited {proc.returncode} without JSON:\n"
                f"{err_path.read_text(errors='replace')[-2000:]}"
            ) from None
        at, phases = _sweep_line(debug_log)
    duration = float(doc.get("sweep", {}).get("duration_seconds") or 0)
    before_sweep = (at - duration - spawned) if at is not None else None
    resolve = phases.get("resolve", 0.0)
    server_share = (
        _cpu_share(server_cpu, at - duration, at - duration + resolve)
        if at is not None and resolve
        else None
    )
    summary = doc.get("summary", {})
    return {
        "command": " ".join(cmd[:1] + ["--once", "--format", "json", "--config", "CONFIG"]),
        "wall_seconds": wall,
        "exit_status": proc.returncode,
        "maxrss_mb": peak,
        "cpu_seconds": ru.ru_utime + ru.ru_stime,
        "calls": sum(by_op.values()),
        "by_op": by_op,
        "by_group": by_group(by_op),
        "sweep_seconds": duration,
        "phases": phases,
        "spawn_to_sweep_seconds": before_sweep,
        "cold_start_seconds": (before_sweep + phases.get("resolve", 0.0))
        if before_sweep is not None
        else None,
        # The sandbox's CPU seconds per second of the resolve phase.
        "server_cpu_share_of_resolve": server_share,
        "views": len(doc.get("views", [])),
        "organization_trails": len(doc.get("organization_trails") or []),
        "states": {k: v for k, v in summary.items() if k not in ("views",)},
    }


# -- the long-lived engine -------------------------------------------------------------------


def engine_child(
    sb: Any,
    endpoint: str,
    sweeps: int,
    concurrency: int | None,
    views_out: str | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    from bench.engine_child import run_child

    ran = run_child(
        sb,
        sweeps=sweeps,
        diagnostics=True,
        concurrency=concurrency,
        endpoint=endpoint,
        extra={"views_out": views_out, "profile": profile},
        timeout=3600,
    )
    sweeps_out = ran["sweeps"]
    first, warm = sweeps_out[0], sweeps_out[1:] or sweeps_out[:1]
    last = warm[-1]
    calls = sum(w["requests"] for w in warm) / len(warm)
    cpu = sum(w["cpu_seconds"] for w in warm) / len(warm)
    return {
        "cold_sweep_seconds": first["seconds"],
        "cold_start_seconds": first.get("imports", 0.0) + first["phases"].get("resolve", 0.0),
        "imports_seconds": first.get("imports"),
        "cold_calls": first["requests"],
        "cold_phases": first["phases"],
        "warm_sweep_seconds": sum(w["seconds"] for w in warm) / len(warm),
        "warm_runs": [w["seconds"] for w in warm],
        "warm_calls": calls,
        "warm_by_op": last["by_op"],
        "warm_by_group": by_group(last["by_op"]),
        "warm_phases": last["phases"],
        "cpu_ms_per_call": 1000 * cpu / calls if calls else None,
        # The monitor's collection between sweeps (Engine.settle), not inside the sweep.
        "settle_ms": 1000 * sum(w["settle_cpu_seconds"] for w in warm) / len(warm)
        if all("settle_cpu_seconds" in w for w in warm)
        else None,
        "views": last["views"],
        "organization_trails": last.get("organization_trails"),
        "states": last["states"],
        "maxrss_mb": ran["maxrss_mb"],
    }


# -- the raw ceiling ---------------------------------------------------------------------------


def credentials(sb: Any, accounts: set[str]) -> dict[str, Any]:
    role = sb.manifest["organization"]["role_name"]
    return {
        a: sb.session(None if a == MGMT else a, role_name=role)
        .get_credentials()
        .get_frozen_credentials()
        for a in sorted(accounts)
    }


def status_requests(endpoint: str, creds: dict[str, Any], views: list[list[str]]) -> list[Any]:
    """GetTrailStatus per view, SigV4-signed up front, as bench/cases.py signs them."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    from bench.cases import _TARGET, Prepared

    url = endpoint.rstrip("/") + "/"
    out = []
    for account, region, arn in views:
        body = json.dumps({"Name": arn}).encode()
        req = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={
                "X-Amz-Target": _TARGET + "GetTrailStatus",
                "Content-Type": "application/x-amz-json-1.1",
                "User-Agent": "trailtop-bench-ceiling",
            },
        )
        SigV4Auth(creds[account], "cloudtrail", region).add_auth(req)
        headers = {
            k: v.decode() if isinstance(v, bytes) else str(v) for k, v in req.headers.items()
        }
        out.append(Prepared("get_trail_status", "POST", url, headers, body))
    return out


def sdk_floor(
    endpoint: str, creds: dict[str, Any], views: list[list[str]], sample: int = 400
) -> dict[str, Any]:
    """CPU per call of a bare aiobotocore client (default configuration, static credentials,
    clients made beforehand, 64 in flight) making the warm sweep's GetTrailStatus calls
    against the same endpoint: the SDK's own cost per call, the floor under trailtop's."""
    import asyncio
    import contextlib

    from aiobotocore.session import AioSession

    chosen = views[:sample]

    async def go() -> dict[str, Any]:
        session = AioSession()
        clients: dict[tuple[str, str], Any] = {}
        async with contextlib.AsyncExitStack() as stack:
            for account, region, _arn in chosen:
                if (account, region) not in clients:
                    c = creds[account]
                    clients[(account, region)] = await stack.enter_async_context(
                        session.create_client(
                            "cloudtrail",
                            region_name=region,
                            endpoint_url=endpoint,
                            aws_access_key_id=c.access_key,
                            aws_secret_access_key=c.secret_key,
                            aws_session_token=c.token,
                        )
                    )
            sem = asyncio.Semaphore(64)

            async def one(v: list[str]) -> None:
                async with sem:
                    await clients[(v[0], v[1])].get_trail_status(Name=v[2])

            await asyncio.gather(*(one(v) for v in chosen))  # connections and caches warm
            c0, t0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one(v) for v in chosen))
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        return {"calls": len(chosen), "cpu_ms_per_call": 1000 * cpu / len(chosen), "seconds": wall}

    return asyncio.run(go())


def trailtop_concurrency() -> int:
    """The requests trailtop keeps in flight by default (`poll.concurrency`)."""
    from core.settings import PollSettings

    return int(PollSettings().concurrency)


def run_ceiling(reqs: list[Any], concurrency: int, runs: int) -> dict[str, Any]:
    from bench import cases

    secs = []
    for _ in range(runs):
        r = cases.ceiling(reqs, concurrency)
        if r["failed"]:
            raise RuntimeError(f"ceiling: {r['failed']} of {len(reqs)} requests failed")
        secs.append(r["seconds"])
    return {"seconds": min(secs), "runs": secs, "requests": len(reqs)}


# -- the plain loop ----------------------------------------------------------------------------


def sequential(sb: Any, sample: int) -> dict[str, Any]:
    from bench import cases

    accounts = list(sb.manifest["accounts"])
    chosen = accounts[:sample] if sample else accounts
    sb.reset_requests()
    r = cases.sequential(sb, chosen)
    calls = int(sb.requests()["total"])
    scale = len(accounts) / len(chosen)
    return {
        "seconds": r["seconds"] * scale,
        "measured_seconds": r["seconds"],
        "calls": round(calls * scale),
        "measured_calls": calls,
        "sampled": len(chosen),
        "of": len(accounts),
        "label": f"sampled {len(chosen)} of {len(accounts)}, scaled"
        if len(chosen) < len(accounts)
        else "whole estate",
    }


# -- one latency -------------------------------------------------------------------------------


def run_latency(
    sb: Any, canned: Any, latency: int, a: argparse.Namespace, ceiling_reqs: dict[str, list[Any]]
) -> dict[str, Any]:
    out: dict[str, Any] = {"latency_ms": latency}
    sb.faults.clear()
    if latency:
        sb.faults.add("latency", latency_ms=latency)
    log(f"latency {latency} ms: cold --once")
    out["cold"] = cold_once(sb, sb.endpoint_url, a.concurrency)
    log(f"  {out['cold']['wall_seconds']:.1f}s, {out['cold']['calls']} calls")
    log(f"latency {latency} ms: engine, {a.warm_sweeps} sweeps (sandbox)")
    out["warm"] = engine_child(sb, sb.endpoint_url, a.warm_sweeps, a.concurrency)
    log(f"  warm {out['warm']['warm_sweep_seconds']:.2f}s")
    log(f"latency {latency} ms: ceiling (sandbox)")
    out["ceiling_sandbox"] = run_ceiling(ceiling_reqs["sandbox"], a.ceiling_concurrency, a.runs)
    sb.faults.clear()  # from here on the canned endpoint adds the latency itself
    canned.mode("replay", latency)
    before = canned.stats()
    log(f"latency {latency} ms: engine, {a.warm_sweeps} sweeps (canned)")
    out["warm_canned"] = engine_child(sb, canned.endpoint_url, a.warm_sweeps, a.concurrency)
    after = canned.stats()
    out["warm_canned"]["misses"] = after["misses"] - before["misses"]
    out["warm_canned"]["hits"] = after["hits"] - before["hits"]
    log(f"  warm {out['warm_canned']['warm_sweep_seconds']:.2f}s")
    out["ceiling_canned"] = run_ceiling(ceiling_reqs["canned"], a.ceiling_concurrency, a.runs)
    log(f"  ceiling (canned) {out['ceiling_canned']['seconds']:.2f}s")
    # The ceiling again at trailtop's poll.concurrency: what is left once the difference in
    # requests in flight is taken out (at 40 ms mostly latency; read it with CPU per call).
    same = a.concurrency or trailtop_concurrency()
    out["ceiling_canned_same"] = {
        **run_ceiling(ceiling_reqs["canned"], same, a.runs),
        "concurrency": same,
    }
    log(f"  ceiling (canned, {same} in flight) {out['ceiling_canned_same']['seconds']:.2f}s")
    if latency:
        sb.faults.add("latency", latency_ms=latency)
    log(f"latency {latency} ms: sequential boto3 loop over {a.sequential_sample} accounts")
    out["sequential"] = sequential(sb, a.sequential_sample)
    log(f"  {out['sequential']['seconds']:.1f}s scaled")
    sb.faults.clear()
    cold, warm, seq = out["cold"], out["warm_canned"], out["sequential"]
    out["ratios"] = {
        "cold_speedup_over_sequential": seq["seconds"] / cold["wall_seconds"],
        "warm_canned_to_ceiling": warm["warm_sweep_seconds"] / out["ceiling_canned"]["seconds"],
        "warm_canned_to_ceiling_same": warm["warm_sweep_seconds"]
        / out["ceiling_canned_same"]["seconds"],
        "warm_sandbox_to_ceiling": out["warm"]["warm_sweep_seconds"]
        / out["ceiling_sandbox"]["seconds"],
    }
    return out


def _regroup(results: dict[str, Any]) -> dict[str, Any]:
    """Operation groups recomputed from the per-operation counts a results file keeps."""
    for lat in results["latency"].values():
        lat["cold"]["by_group"] = by_group(lat["cold"]["by_op"])
        for k in ("warm", "warm_canned"):
            lat[k]["warm_by_group"] = by_group(lat[k]["warm_by_op"])
    if (results.get("tui") or {}).get("raw"):
        results["tui"] = _tui_pick(results["tui"]["raw"], results["estate"]["accounts"])
    return results


# -- the table -------------------------------------------------------------------------------


# -- TUI --------------------------------------------------------------------------------------


def _org_settings(endpoint: str) -> Any:
    from core.settings import load_settings

    settings, _ = load_settings(
        None,
        {
            "aws": {
                "profiles": ["bench-mgmt"],
                "regions": [],
                "endpoint_url": endpoint,
                "organization": {"enabled": True},
            },
            "poll": {"interval_seconds": 1, "read_timeout_seconds": 60},
            "mute": {"file": ""},
        },
    )
    return settings


def _worst(actions: dict[str, Any], prefix: str, key: str) -> float | None:
    values = [float(v[key]) for k, v in actions.items() if k.startswith(prefix) and key in v]
    return max(values) if values else None


def tui_figures(sb: Any, accounts: int) -> dict[str, Any]:
    """bench/tui_figures.py's `org_figures` (the overview at `accounts` accounts, and key
    latency while the real engine sweeps this estate), its figures picked for the table."""
    from bench import tui_figures as tf

    fn = getattr(tf, "org_figures", None)
    if fn is None:
        return {"note": "not measured (bench/tui_figures.py has no org_figures)"}
    params = inspect.signature(fn).parameters
    kwargs: dict[str, Any] = {}
    if "settings" in params:
        kwargs["settings"] = _org_settings(sb.endpoint_url)
    if "accounts" in params:
        kwargs["accounts"] = accounts
    try:
        raw = dict(fn(**kwargs) or {})
    except Exception as e:  # noqa: BLE001 - a TUI figure that fails is reported, not fatal
        return {"note": f"not measured: org_figures raised {type(e).__name__}: {e}"}
    return _tui_pick(raw, accounts)


def _tui_pick(raw: dict[str, Any], accounts: int) -> dict[str, Any]:
    """The table's TUI figures out of `org_figures`' answer."""
    actions = (raw.get("overview") or {}).get("actions") or {}
    keys = raw.get("keys") or {}
    worst_keys = [keys.get(k) for k in ("cold_max_ms", "sweep_max_ms")]
    return {
        "filter_ms": _worst(actions, "filter", "median_ms"),
        "sort_ms": _worst(actions, "sort", "median_ms"),
        "jump_ms": _worst(actions, "jump", "median_ms"),
        "key_p95_cold_ms": keys.get("cold_p95_ms"),
        "key_p95_ms": keys.get("sweep_p95_ms"),
        "worst_key_ms": max((v for v in worst_keys if v is not None), default=None),
        "worst_stall_ms": keys.get("loop_lag_max_during_sweep_ms"),
        "thread_key_p95_cold_ms": (raw.get("keys_thread") or {}).get("cold_p95_ms"),
        "thread_worst_stall_ms": (raw.get("keys_thread") or {}).get("loop_lag_max_during_sweep_ms"),
        "note": "filter/sort/jump: the worst action's median over the runs (synthetic "
        f"{accounts}-account overview); keys: the real engine sweeping this estate in its "
        "own process, as the app runs it (cold sweep, then warm sweeps), and for comparison "
        "on a thread of the app's process; stall: the event loop's worst lag",
        "raw": raw,
    }


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.org",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--accounts", type=int, default=1000)
    p.add_argument("--regions", type=int, default=17)
    p.add_argument("--local-every", type=int, default=10, help="a local trail in every Nth member")
    p.add_argument("--broken", type=int, default=5, help="local trails broken")
    p.add_argument("--latency", default="0,40", help="injected ms per request, comma-separated")
    p.add_argument("--warm-sweeps", type=int, default=3, help="sweeps of the long-lived engine")
    p.add_argument(
        "--sequential-sample", type=int, default=20, help="accounts the boto3 loop covers (0 = all)"
    )
    p.add_argument("--ceiling-concurrency", type=int, default=128)
    p.add_argument("--runs", type=int, default=3, help="ceiling runs (the fastest is kept)")
    p.add_argument("--concurrency", type=int, default=None, help="trailtop poll.concurrency")
    p.add_argument("--tui", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument(
        "--profile",
        action="store_true",
        help="one more engine run under cProfile against the canned endpoint (no latency): "
        "its cold and warm sweeps' top functions in bench/results-org-profile.txt",
    )
    p.add_argument("--out", default=str(ROOT / "bench" / "results-org.json"))
    p.add_argument(
        "--table-from",
        metavar="JSON",
        help="print the table of an earlier run's results file and exit (nothing is run)",
    )
    a = p.parse_args(argv)
    if a.table_from:
        print(render(_regroup(json.loads(Path(a.table_from).read_text()))))
        return 0
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    from bench.canned import CannedEndpoint

    started = time.time()
    argv_text = " ".join(argv if argv is not None else sys.argv[1:])
    results: dict[str, Any] = {
        "command": f"python -m bench.org {argv_text}".strip(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_start": os.getloadavg(),
        },
        "latency": {},
        "tui": {},
    }
    sb = start_estate(a)
    canned = None
    try:
        os.environ.update(sb.aws_env())
        results["estate"] = {
            "scenario": sb.scenario,
            "accounts": len(sb.manifest["accounts"]),
            "regions": len(sb.manifest["regions"]),
            "size": sb.manifest.get("size"),
            "seed_seconds": sb.seed_seconds,
        }
        canned = CannedEndpoint(sb.endpoint_url)
        log(f"canned endpoint {canned.endpoint_url}: recording a {a.warm_sweeps}-sweep engine")
        canned.mode("record")
        with tempfile.TemporaryDirectory() as tmp:
            views_path = Path(tmp) / "views.json"
            engine_child(sb, canned.endpoint_url, a.warm_sweeps, a.concurrency, str(views_path))
            views = json.loads(views_path.read_text())
        creds = credentials(sb, {v[0] for v in views})
        reqs = {
            "sandbox": status_requests(sb.endpoint_url, creds, views),
            "canned": status_requests(canned.endpoint_url, creds, views),
        }
        run_ceiling(reqs["canned"], a.ceiling_concurrency, 1)  # recorded for the replay
        log(f"recorded {canned.stats()['recorded']} answers; {len(views)} status reads")
        canned.mode("replay", 0)
        results["sdk_floor"] = sdk_floor(canned.endpoint_url, creds, views)
        log(f"bare aiobotocore: {results['sdk_floor']['cpu_ms_per_call']:.2f} ms CPU per call")
        for lat in [int(x) for x in a.latency.split(",") if x.strip()]:
            canned.mode("record")
            results["latency"][str(lat)] = run_latency(sb, canned, lat, a, reqs)
        if a.profile:
            canned.mode("replay", 0)
            where = ROOT / "bench" / "results-org-profile.txt"
            log(f"profiling the engine against the canned endpoint: {where}")
            r = engine_child(
                sb, canned.endpoint_url, a.warm_sweeps, a.concurrency, None, str(where)
            )
            results["profile"] = {
                "file": str(where),
                "cold_sweep_seconds": r["cold_sweep_seconds"],
                "warm_sweep_seconds": r["warm_sweep_seconds"],
                "note": "under cProfile: seconds inflated; read the ranking, not the times",
            }
        if a.tui:
            last = results["latency"][next(reversed(results["latency"]))]
            if last["latency_ms"]:
                sb.faults.add("latency", latency_ms=last["latency_ms"])
            log("TUI figures at organization size")
            results["tui"] = tui_figures(sb, results["estate"]["accounts"])
            sb.faults.clear()
        else:
            results["tui"] = {"note": "not measured (--no-tui)"}
    finally:
        if canned is not None:
            canned.stop()
        sb.stop()
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["wall_seconds"] = round(time.time() - started, 1)
    print(render(results))
    Path(a.out).write_text(json.dumps(results, indent=2, default=str) + "\n")
    log(f"wrote {a.out} ({results['wall_seconds']}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
