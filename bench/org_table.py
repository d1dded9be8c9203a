"""The organization case's table: every figure of `bench/results-org.json` against its
target, met or missed, with the command and the machine's load (bench/org.py prints it).
"""

from __future__ import annotations

from typing import Any

from bench.markdown import markdown_table

GROUPS = ("status", "describe", "diagnose", "credentials", "other")
#: The latency the targets are stated at (ms).
TARGET_LATENCY = 40


Row = tuple[str, list[str], str, str]


def _f(v: Any, fmt: str = "{:.2f}") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, (int, float)):
        return fmt.format(v)
    return str(v)


def _mark(value: float | None, limit: float, at_most: bool = True) -> str:
    if value is None:
        return "not measured"
    ok = value <= limit if at_most else value >= limit
    return "met" if ok else "MISSED"


def rows(results: dict[str, Any]) -> list[Row]:
    lats = list(results["latency"].values())
    target = next((x for x in lats if x["latency_ms"] == TARGET_LATENCY), lats[-1])
    accounts = results["estate"]["accounts"]
    out: list[Row] = []

    def add(
        label: str,
        get: Any,
        fmt: str = "{:.2f}",
        target_text: str = "",
        limit: float | None = None,
        at_most: bool = True,
    ) -> None:
        values = []
        for x in lats:
            try:
                values.append(_f(get(x), fmt))
            except (KeyError, TypeError, ZeroDivisionError):
                values.append("n/a")
        mark = ""
        if limit is not None:
            try:
                mark = _mark(get(target), limit, at_most)
            except (KeyError, TypeError, ZeroDivisionError):
                mark = "not measured"
        out.append((label, values, target_text, mark))

    def status_reads(x: dict[str, Any]) -> int:
        return int(x["cold"]["by_group"]["status"])

    add("cold --once: wall s", lambda x: x["cold"]["wall_seconds"], "{:.1f}", "<= 60 s", 60)
    add("cold --once: exit status", lambda x: x["cold"]["exit_status"], "{}")
    add("cold --once: peak RSS MB", lambda x: x["cold"]["maxrss_mb"], "{:.0f}", "<= 400 MB", 400)
    add("cold --once: process CPU s", lambda x: x["cold"]["cpu_seconds"], "{:.1f}")
    add("cold --once: calls", lambda x: x["cold"]["calls"], "{}")
    add("cold --once: calls per account", lambda x: x["cold"]["calls"] / accounts, "{:.2f}")
    add(
        "cold --once: calls/account excl. status reads",
        lambda x: (x["cold"]["calls"] - status_reads(x)) / accounts,
        "{:.2f}",
        "<= 5 + status reads",
        5,
    )
    for g in GROUPS:
        add(f"cold --once: {g} calls", lambda x, g=g: x["cold"]["by_group"][g], "{}")
    add(
        "cold --once: cold start s (spawn..sweep + resolve)",
        lambda x: x["cold"]["cold_start_seconds"],
        "{:.2f}",
        "<= 5 s",
        5,
    )
    add("cold --once: resolve phase s", lambda x: x["cold"]["phases"]["resolve"], "{:.2f}")
    add(
        "cold --once: sandbox CPU s per resolve second (user + system)",
        lambda x: x["cold"]["server_cpu_share_of_resolve"],
        "{:.2f}",
    )
    add("cold --once: views (JSON)", lambda x: x["cold"]["views"], "{}")
    add("cold --once: organization_trails (JSON)", lambda x: x["cold"]["organization_trails"], "{}")
    add(
        "cold --once: states",
        lambda x: " ".join(f"{k}={v}" for k, v in x["cold"]["states"].items() if v),
        "{}",
    )

    def _only(key: str, want: str, text: str, limit: float) -> tuple[str, float | None]:
        """A target for one of the two engine runs only."""
        return (text, limit) if key == want else ("", None)

    for where, key in (("sandbox", "warm"), ("canned", "warm_canned")):
        add(f"engine ({where}): cold sweep s", lambda x, k=key: x[k]["cold_sweep_seconds"])
        add(
            f"engine ({where}): cold start s (imports + resolve)",
            lambda x, k=key: x[k]["cold_start_seconds"],
            "{:.2f}",
            *_only(key, "warm", "<= 5 s", 5),
        )
        add(
            f"engine ({where}): warm sweep s",
            lambda x, k=key: x[k]["warm_sweep_seconds"],
            "{:.2f}",
            *_only(key, "warm", "<= 10 s", 10),
        )
        add(
            f"engine ({where}): calls per warm sweep", lambda x, k=key: x[k]["warm_calls"], "{:.0f}"
        )
        for g in GROUPS:
            add(
                f"engine ({where}): warm {g} calls",
                lambda x, k=key, g=g: x[k]["warm_by_group"][g],
                "{}",
            )
        add(
            f"engine ({where}): client CPU ms per call (warm)",
            lambda x, k=key: x[k]["cpu_ms_per_call"],
            "{:.2f}",
            *_only(key, "warm_canned", "<= 0.7 ms (keep-alive)", 0.7),
        )
        add(
            f"engine ({where}): settle ms CPU between warm sweeps (outside them)",
            lambda x, k=key: x[k].get("settle_ms"),
            "{:.0f}",
        )
        add(
            f"engine ({where}): peak RSS MB",
            lambda x, k=key: x[k]["maxrss_mb"],
            "{:.0f}",
            *_only(key, "warm", "<= 400 MB", 400),
        )
    add("canned: replay misses (forwarded)", lambda x: x["warm_canned"]["misses"], "{}")
    add("ceiling (canned): status reads s", lambda x: x["ceiling_canned"]["seconds"], "{:.3f}")
    add("ceiling (canned): requests", lambda x: x["ceiling_canned"]["requests"], "{}")
    add(
        "ceiling (canned, trailtop's concurrency): status reads s",
        lambda x: x["ceiling_canned_same"]["seconds"],
        "{:.3f}",
    )
    add(
        "ceiling (canned, trailtop's concurrency): in flight",
        lambda x: x["ceiling_canned_same"]["concurrency"],
        "{}",
    )
    add("ceiling (sandbox): status reads s", lambda x: x["ceiling_sandbox"]["seconds"], "{:.3f}")
    add(
        "warm (canned) / ceiling (canned) at --ceiling-concurrency",
        lambda x: x["ratios"]["warm_canned_to_ceiling"],
        "{:.2f}x",
        "<= 1.5x",
        1.5,
    )
    add(
        "warm (canned) / ceiling (canned) at trailtop's concurrency",
        lambda x: x["ratios"]["warm_canned_to_ceiling_same"],
        "{:.2f}x",
    )
    add(
        "warm (sandbox) / ceiling (sandbox)",
        lambda x: x["ratios"]["warm_sandbox_to_ceiling"],
        "{:.2f}x",
    )
    seq_label = lats[0]["sequential"]["label"]
    add(f"sequential boto3 s ({seq_label})", lambda x: x["sequential"]["seconds"], "{:.1f}")
    add(f"sequential boto3 calls ({seq_label})", lambda x: x["sequential"]["calls"], "{}")
    add(
        "cold --once speed-up over sequential",
        lambda x: x["ratios"]["cold_speedup_over_sequential"],
        "{:.1f}x",
        ">= 10x",
        10,
        at_most=False,
    )
    floor = (results.get("sdk_floor") or {}).get("cpu_ms_per_call")
    out.append(
        (
            "bare aiobotocore CPU ms per call (same reads, canned, 0 ms)",
            [""] * (len(lats) - 1) + [_f(floor) if floor is not None else "not measured"],
            "the SDK's floor",
            "",
        )
    )
    tui = results.get("tui") or {}
    for label, key, limit in (
        ("TUI: filter ms (overview at the estate's size)", "filter_ms", 50),
        ("TUI: sort ms", "sort_ms", 50),
        ("TUI: jump ms", "jump_ms", 50),
        ("TUI: key p95 ms during the cold sweep", "key_p95_cold_ms", 50),
        ("TUI: key p95 ms during warm sweeps", "key_p95_ms", 50),
        ("TUI: worst key ms during sweeps", "worst_key_ms", 250),
        ("TUI: worst event-loop stall ms during sweeps", "worst_stall_ms", 250),
        ("TUI, engine on a thread instead: key p95 ms, cold", "thread_key_p95_cold_ms", 50),
        ("TUI, engine on a thread instead: worst stall ms", "thread_worst_stall_ms", 250),
    ):
        v = tui.get(key)
        text = _f(v, "{:.1f}") if v is not None else "not measured"
        out.append((label, [""] * (len(lats) - 1) + [text], f"<= {limit} ms", _mark(v, limit)))
    return out


def render(results: dict[str, Any]) -> str:
    lats = list(results["latency"].values())
    target = next((x for x in lats if x["latency_ms"] == TARGET_LATENCY), lats[-1])
    head = ["figure", *[f"{x['latency_ms']} ms" for x in lats], "target",
            f"at {target['latency_ms']} ms"]  # fmt: skip
    table = [head] + [[label, *values, tgt, mark] for label, values, tgt, mark in rows(results)]
    lines = markdown_table(table)
    m, e = results["machine"], results["estate"]
    tui_note = results.get("tui", {}).get("note")
    notes = [
        f"command: {results['command']}",
        f"estate: scenario {e['scenario']}, {e['accounts']} accounts x {e['regions']} regions, "
        f"{e.get('size')}",
        f"machine: {m['cpus']} cpus, load {tuple(round(x, 2) for x in m['loadavg_start'])} at "
        f"start, {tuple(round(x, 2) for x in m.get('loadavg_end', ()))} at end; {m['platform']}",
        "ceiling = the warm sweep's GetTrailStatus reads, pre-signed, raw aiohttp; "
        "ratio basis: trailtop's warm sweep and the ceiling against the same endpoint; the "
        "target is judged with the ceiling at --ceiling-concurrency; at trailtop's own "
        "concurrency (poll.concurrency) the ratio leaves out what the extra requests in "
        "flight buy (at 40 ms it is mostly latency, so read it with the CPU per call)",
        "peak RSS at 5,000 views (<= 250 MB): measured by `python -m bench`, not here",
    ]
    if tui_note:
        notes.append(f"TUI: {tui_note}")
    if results.get("profile"):
        notes.append(f"profile (cProfile, canned endpoint, 0 ms): {results['profile']['file']}")
    return "\n".join([*lines, "", *notes])
