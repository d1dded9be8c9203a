"""The key map in one place: the help screen renders it and a test checks bindings against it."""

from __future__ import annotations

KEYMAP: tuple[tuple[str, str, str], ...] = (
    # (keys, what, where)
    ("↑ ↓ j k PgUp PgDn g G", "move the cursor", "overview"),
    ("enter / click", "drill down into the view under the cursor", "overview"),
    ("/", "filter: account id/alias, profile, region, trail, finding code", "overview"),
    ("enter / tab", "in a prompt: keep the filter, jump / complete the name", "overview"),
    ("esc", "clear the filter / close the prompt / go back", "everywhere"),
    ("f", "faults only (hide ok views)", "overview"),
    (":", "jump to an account or region (tab completes)", "overview"),
    ("s / S", "next sort column / reverse the order", "overview"),
    ("1-8 / click header", "sort by that column (again: reverse)", "overview"),
    ("r", "refresh now (ask the engine for a sweep)", "everywhere"),
    ("x", "fix: review a plan; apply it by typing the trail name, then enter", "drill-down"),
    ("e", "who broke it: the full CloudTrail event of the culprit", "drill-down"),
    ("c", "copy the trail ARN, a plan id or a command (OSC 52)", "drill-down"),
    (
        "m",
        "mute a finding: reason and duration; shown dimmed, no longer counted",
        "overview, drill-down",
    ),
    ("t", "targets in error: which could not be read, and why", "everywhere"),
    ("?", "this help", "everywhere"),
    ("ctrl+p", "command palette (every action above)", "everywhere"),
    ("q / ctrl+c", "quit", "everywhere"),
)

LEGEND: tuple[tuple[str, str], ...] = (
    ("FAIL", "failing: delivery broken or about to break (critical/high finding)"),
    ("WARN", "warning: medium finding (SNS, CloudWatch staleness)"),
    ("UNKN", "unknown: could not tell (access denied, throttled, endpoint down)"),
    ("OK", "ok: delivering, nothing wrong found"),
    ("*", "changed in the last sweep (briefly)"),
    ("+CODE", "the filter matched this finding, not the row's top one"),
    ("muted CODE", "muted: shown dimmed, not counted (drill-down: why, until when)"),
    ("WRITES ARMED", "remediation is enabled: a confirmed plan writes to AWS"),
    ("~12m", "stale: status not refreshed for two sweeps; age of the data"),
    ("never / -", "no delivery ever / channel not configured"),
)
