"""`python -m bench` (`make bench ARGS=...`): trailtop's sweep against the limit and a plain script.

One run, one estate (the sandbox's `bench` scenario in its own process), per injected
latency (`--latency 0,40`: ms added by the sandbox to every request):

  ceiling            DescribeTrails per account-region + GetTrailStatus per view, SigV4-signed
                     once up front, sent as raw HTTP by aiohttp at --ceiling-concurrency
  ceiling-status     the same without DescribeTrails (what a warm sweep asks)
  sequential         a plain boto3 loop (assume role, client per region, describe, status);
                     at latency > 0 over --sequential-sample accounts, scaled to the estate
  trailtop-cold      a new process: settings, accounts (profile + Organization roles, region
                     discovery), clients, describe, status; no destination diagnostics
  trailtop-cold+diag a new process: the first sweep as the TUI runs it (diagnostics and
                     who-broke-it included)
  trailtop-warm      the following sweeps of that process (steady state, as in the TUI)

Then peak RSS of the engine process at ~850 views (a region subset of the same estate) and
at ~5,000 views (a second estate), and the TUI figures (bench/tui_figures.py: table apply,
time to first paint and first rows of `trailtop --demo`, key latency). Prints a
table and writes bench/results.json. Medians over --runs.

`--case org` runs the organization case instead (bench/org.py: 1,000 accounts with an
organization trail, cold `--once`, warm sweeps, a canned-response ceiling); the flags after
it are bench.org's own (`python -m bench --case org --help`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.engine_child import run_child
from bench.markdown import markdown_table

ROOT = Path(__file__).resolve().parents[1]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def start_estate(accounts: int, regions: int, trails: int, multi: int | None = None) -> Any:
    from sandbox import Sandbox

    args: dict[str, Any] = {"accounts": accounts, "regions": regions, "trails": trails}
    if multi is not None:
        args["multi_region_trails"] = multi
    t0 = time.monotonic()
    # Deliveries every hour: the estate does not change under the benchmark.
    sb = Sandbox(
        scenario="bench", scenario_args=args, delivery_interval=3600.0, lookup_events_rps=2.0
    ).start()
    log(
        f"estate {args}: {sb.manifest['size']['views']} views, seeded in "
        f"{time.monotonic() - t0:.0f}s (sandbox pid {sb.pid})"
    )
    return sb


def views_near(sb: Any, target: int) -> tuple[list[str], int]:
    """The first-k regions of the estate whose views come closest to `target`."""
    regions = list(sb.manifest["regions"])
    best: tuple[int, list[str]] = (10**9, regions)
    for k in range(1, len(regions) + 1):
        chosen = set(regions[:k])
        n = sum(1 for t in sb.manifest["trails"] for v in t["views"] if v["region"] in chosen)
        if abs(n - target) < best[0]:
            best = (abs(n - target), regions[:k])
    chosen = set(best[1])
    n = sum(1 for t in sb.manifest["trails"] for v in t["views"] if v["region"] in chosen)
    return best[1], n


def run_latency(sb: Any, latency: int, a: argparse.Namespace) -> dict[str, Any]:
    from bench import cases

    sb.faults.clear()
    if latency:
        sb.faults.add("latency", latency_ms=latency)
    views = int(sb.manifest["size"]["views"])
    creds = cases.estate_credentials(sb)
    full = cases.sweep_requests(sb, creds)
    status_only = cases.sweep_requests(sb, creds, describe=False)
    out: dict[str, Any] = {}

    def record(name: str, seconds: list[float], requests: int, **extra: Any) -> None:
        out[name] = {
            "case": name,
            "latency_ms": latency,
            "views": views,
            "requests": requests,
            "seconds": median(seconds),
            "runs": seconds,
            **extra,
        }
        log(
            f"  {name:<20} {median(seconds):8.2f}s  {requests} requests  runs={[round(s, 2) for s in seconds]}"
        )

    for name, reqs in (("ceiling", full), ("ceiling-status", status_only)):
        secs = []
        for _ in range(a.runs):
            r = cases.ceiling(reqs, a.ceiling_concurrency)
            if r["failed"]:
                raise RuntimeError(f"{name}: {r['failed']} requests failed")
            secs.append(r["seconds"])
        record(name, secs, len(reqs), concurrency=a.ceiling_concurrency)

    sample = None
    if (latency or a.sample_all) and a.sequential_sample:
        sample = list(sb.manifest["accounts"])[: a.sequential_sample]
    secs, measured = [], []
    for _ in range(a.runs):
        sb.reset_requests()
        r = cases.sequential(sb, sample)
        req = int(sb.requests()["total"])
        scale = views / r["views"]
        secs.append(r["seconds"] * scale)
        measured.append(r["seconds"])
    record(
        "sequential",
        secs,
        round(req * scale),
        sampled_accounts=len(sample) if sample else None,
        measured_seconds=measured,
        measured_requests=req,
        note=(
            f"measured over {len(sample)} of {len(sb.manifest['accounts'])} accounts, "
            f"scaled by views"
            if sample
            else "whole estate"
        ),
    )

    colds, reqs_c = [], 0
    rss_cold: list[float] = []
    for _ in range(a.runs):
        r = run_child(sb, sweeps=1, diagnostics=False, concurrency=a.concurrency)
        s = r["sweeps"][0]
        colds.append(s["seconds"])
        reqs_c = s["requests"]
        rss_cold.append(r["maxrss_mb"])
        assert s["views"] == views, (s["views"], views)
    record("trailtop-cold", colds, reqs_c, maxrss_mb=median(rss_cold), process_seconds=None)

    cd: list[float] = []
    warm: list[float] = []
    wstats: list[dict[str, Any]] = []
    reqs_d = reqs_w = 0
    since_spawn: list[float] = []
    rss: list[float] = []
    for _ in range(a.runs):
        r = run_child(sb, sweeps=1 + a.warm_sweeps, diagnostics=True, concurrency=a.concurrency)
        first, rest = r["sweeps"][0], r["sweeps"][1:]
        cd.append(first["seconds"])
        since_spawn.append(first["since_spawn"])
        reqs_d = first["requests"]
        warm.extend(s["seconds"] for s in rest)
        reqs_w = rest[-1]["requests"]
        wstats.extend(
            {k: s[k] for k in ("describe_calls", "diagnostic_calls", "status_calls", "requests")}
            for s in rest
        )
        rss.append(r["maxrss_mb"])
    record(
        "trailtop-cold+diag",
        cd,
        reqs_d,
        process_seconds=median(since_spawn),
        diagnostic_calls=r["sweeps"][0]["diagnostic_calls"],
        maxrss_mb=median(rss),
    )
    record(
        "trailtop-warm",
        warm,
        reqs_w,
        describe_calls=max(w["describe_calls"] for w in wstats),
        diagnostic_calls=max(w["diagnostic_calls"] for w in wstats),
        maxrss_mb=median(rss),
    )

    seq = out["sequential"]["seconds"]
    for name, case in out.items():
        basis = "ceiling-status" if name in ("trailtop-warm", "ceiling-status") else "ceiling"
        case["requests_per_second"] = case["requests"] / case["seconds"]
        case["ratio_to_ceiling"] = case["seconds"] / out[basis]["seconds"]
        case["ratio_basis"] = basis
        case["speedup_over_sequential"] = seq / case["seconds"]
    sb.faults.clear()
    return out


def print_table(results: dict[str, Any]) -> str:
    rows = [("case", "lat ms", "views", "requests", "seconds", "req/s", "x ceiling", "x seq")]
    for lat in results["latency"].values():
        for c in lat.values():
            rows.append(
                (
                    c["case"],
                    str(c["latency_ms"]),
                    str(c["views"]),
                    str(c["requests"]),
                    f"{c['seconds']:.2f}",
                    f"{c['requests_per_second']:.0f}",
                    f"{c['ratio_to_ceiling']:.2f}",
                    f"{c['speedup_over_sequential']:.1f}",
                )
            )
    lines = markdown_table(rows)
    extra = []
    for label, r in results.get("rss", {}).items():
        extra.append(
            f"peak RSS of the engine process at {r['views']} views ({label}): "
            f"{r['maxrss_mb']:.0f} MB"
        )
    t = results.get("tui", {})
    if "table" in t:
        tb = t["table"]
        extra.append(
            f"TUI table, {tb['views']} views: initial apply {tb['initial_table_seconds']:.3f}s "
            f"(total {tb['initial_apply_seconds']:.3f}s); {tb['diff_views']:.0f}-view diff "
            f"{tb['diff_table_seconds']:.3f}s (total {tb['diff_apply_seconds']:.3f}s)"
        )
    if "demo_start" in t:
        d = t["demo_start"]

        def secs(v: float | None) -> str:
            return f"{v:.1f} s" if v is not None else "not reached"

        extra.append(
            f"`trailtop --demo` at {d['size']} (tmux): first paint "
            f"{secs(d['first_paint_seconds'])}, first rows {secs(d['first_rows_seconds'])}"
        )
    if "keys" in t:
        k = t["keys"]
        extra.append(
            f"key latency, {k['views']} views, engine sweeping in its thread: "
            f"p50 {k['sweep_p50_ms']:.1f} ms, p95 {k['sweep_p95_ms']:.1f} ms "
            f"({k['keys_during_sweep']} keys; idle p50 {k['idle_p50_ms']:.1f} ms)"
        )
    return "\n".join(lines + [""] + extra)


def _case(argv: list[str]) -> tuple[str, list[str]]:
    """`--case NAME` / `--case=NAME` taken out of argv: the other flags belong to that case."""
    for i, arg in enumerate(argv):
        if arg == "--case" and i + 1 < len(argv):
            return argv[i + 1], argv[:i] + argv[i + 2 :]
        if arg.startswith("--case="):
            return arg.split("=", 1)[1], argv[:i] + argv[i + 1 :]
    return "sweep", argv


def main(argv: list[str] | None = None) -> int:
    case, rest = _case(list(sys.argv[1:] if argv is None else argv))
    if case == "org":
        from bench import org

        return org.main(rest)
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--case",
        choices=("sweep", "org"),
        default="sweep",
        help="sweep: the cases above (default); org: the organization case (bench/org.py)",
    )
    p.add_argument("--accounts", type=int, default=50)
    p.add_argument("--regions", type=int, default=17)
    p.add_argument("--trails", type=int, default=4, help="trails per account (half multi-region)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--latency", default="0,40", help="injected ms per request, comma-separated")
    p.add_argument("--warm-sweeps", type=int, default=2, help="warm sweeps per engine process")
    p.add_argument(
        "--sequential-sample",
        type=int,
        default=5,
        help="accounts the sequential loop covers when latency > 0 (0 = all)",
    )
    p.add_argument(
        "--sample-all",
        action="store_true",
        help="sample the sequential loop at 0 ms too (default: whole estate)",
    )
    p.add_argument("--ceiling-concurrency", type=int, default=128)
    p.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="trailtop poll.concurrency (default: the settings default)",
    )
    p.add_argument(
        "--rss-views",
        type=int,
        default=5000,
        help="views of the second estate for the peak-RSS figure (0 = skip)",
    )
    p.add_argument("--small-views", type=int, default=850)
    p.add_argument("--no-tui", action="store_true")
    p.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    a = p.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))

    started = time.time()
    results: dict[str, Any] = {
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_start": os.getloadavg(),
        },
        "estate": {"accounts": a.accounts, "regions": a.regions, "trails_per_account": a.trails},
        "runs": a.runs,
        "latency": {},
        "rss": {},
        "tui": {},
    }
    sb = start_estate(a.accounts, a.regions, a.trails)
    try:
        os.environ.update(sb.aws_env())
        results["estate"]["views"] = sb.manifest["size"]["views"]
        for lat in [int(x) for x in a.latency.split(",") if x.strip()]:
            log(f"latency {lat} ms")
            results["latency"][str(lat)] = run_latency(sb, lat, a)
        if a.small_views:
            regions, n = views_near(sb, a.small_views)
            rss = [
                run_child(
                    sb, sweeps=3, diagnostics=True, regions=regions, concurrency=a.concurrency
                )["maxrss_mb"]
                for _ in range(a.runs)
            ]
            results["rss"]["small"] = {
                "views": n,
                "regions": len(regions),
                "maxrss_mb": median(rss),
                "runs": rss,
            }
            log(f"  peak RSS at {n} views: {median(rss):.0f} MB")
        results["rss"]["estate"] = (
            {
                "views": sb.manifest["size"]["views"],
                "maxrss_mb": results["latency"][next(iter(results["latency"]))]["trailtop-warm"][
                    "maxrss_mb"
                ],
            }
            if results["latency"]
            else {}
        )
    finally:
        sb.stop()

    if a.rss_views or not a.no_tui:
        if a.rss_views:
            per_acct = max(1, round(a.rss_views / (a.accounts * a.regions)))
            big = start_estate(a.accounts, a.regions, per_acct, multi=per_acct)
        else:
            big = None
        try:
            if big is not None:
                os.environ.update(big.aws_env())
                rss = [
                    run_child(big, sweeps=3, diagnostics=True, concurrency=a.concurrency)[
                        "maxrss_mb"
                    ]
                    for _ in range(a.runs)
                ]
                results["rss"]["large"] = {
                    "views": big.manifest["size"]["views"],
                    "maxrss_mb": median(rss),
                    "runs": rss,
                }
                log(f"  peak RSS at {big.manifest['size']['views']} views: {median(rss):.0f} MB")
            if not a.no_tui:
                from bench import tui_figures

                log("TUI: table apply, 5,000 views")
                results["tui"]["table"] = tui_figures.table_apply(5000, 0.05, a.runs)
                log("TUI: `trailtop --demo` in tmux, time to first paint and to first rows")
                results["tui"]["demo_start"] = tui_figures.demo_start(a.runs)
                if big is not None:
                    from core.settings import load_settings

                    settings, _ = load_settings(
                        None,
                        {
                            "aws": {
                                "profiles": ["bench-mgmt"],
                                "regions": [],
                                "endpoint_url": big.endpoint_url,
                                "organization": {"enabled": True},
                            },
                            "poll": {
                                "interval_seconds": 1,
                                "read_timeout_seconds": 60,
                                **({"concurrency": a.concurrency} if a.concurrency else {}),
                            },
                        },
                    )
                    log("TUI: key latency while the engine sweeps")
                    results["tui"]["keys"] = tui_figures.keys_during_sweeps(settings, sweeps=2)
        finally:
            if big is not None:
                big.stop()

    results["machine"]["loadavg_end"] = os.getloadavg()
    results["wall_seconds"] = round(time.time() - started, 1)
    text = print_table(results)
    print(text)
    Path(a.out).write_text(json.dumps(results, indent=2, default=str) + "\n")
    log(f"wrote {a.out} ({results['wall_seconds']}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
