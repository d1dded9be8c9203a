"""`trailtop watch` on the command line: its flags reach the settings; no Textual loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.settings import Settings
from tui.cli import _watch_overrides, build_watch_parser, overrides_from_args

ROOT = Path(__file__).resolve().parents[2]


def test_watch_flags_become_settings() -> None:
    args = build_watch_parser().parse_args(
        ["--metrics-port", "0", "--metrics-address", "::1", "--interval", "5",
         "--webhook-url", "http://127.0.0.1:1/h", "--no-metrics"]
    )  # fmt: skip
    args.allow_remediation = False
    o = overrides_from_args(args) | _watch_overrides(args)
    s = Settings(**o)
    assert (s.metrics.port, s.metrics.address, s.metrics.enabled) == (0, "::1", False)
    assert s.poll.interval_seconds == 5 and s.notify.webhook_url == "http://127.0.0.1:1/h"


def test_the_watch_path_does_not_load_textual() -> None:
    code = "import sys, tui.cli, tui.watch, core.watch.run; print('textual' in sys.modules)"
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.stdout.strip() == "False", r.stderr
