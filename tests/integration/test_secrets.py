"""No credential, session token or signed header in any output channel, faults included.

Channels: `--once` stdout/stderr (json and table), the `--debug-log` file, the snapshot's
error texts and evidence, the TUI screen and drill-downs, and log records. Secrets: the
sandbox's static secret key and access key id (`manifest["secrets"]`, `access_keys`) and the
keys and session tokens of every role trailtop assumed during the run.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.engine.sweep import engine_from_settings
from core.report import to_json_text, to_table
from sandbox import Sandbox
from tests.integration.test_faults import wait_for
from tests.support.engine import ROOT, aws_env, settings_for
from tests.support.fakes import FakeSource
from tests.support.screens import screen_text, statics_text
from tui.app import TrailtopApp
from tui.cli import setup_logging

MGMT = "123456789012"
PROD = "111111111111"
STAGING = "222222222222"
SIGNED = (
    "Signature=",
    "X-Amz-Security-Token",
    "AWS4-HMAC-SHA256 Credential",
    "x-amz-security-token",
)


def static_secrets(sb: Sandbox) -> list[str]:
    out = [*sb.manifest["secrets"], *sb.manifest["access_keys"].values()]
    assert out and all(len(s) >= 16 for s in out)
    return out


def leaks(text: str, secrets: list[str]) -> list[str]:
    found = [s[:6] + "…" for s in secrets if s and s in text]
    found += [h for h in SIGNED if h in text]
    return found


def add_faults(faults: Any) -> None:
    faults.add("expired_token", account=PROD)
    faults.add("access_denied", service="cloudtrail", operation="GetTrailStatus", account=STAGING)
    faults.add("drop", service="cloudtrail", operation="DescribeTrails", region="eu-west-1")


def test_cli_outputs_and_debug_log_carry_no_secrets(
    sandbox: Sandbox, sandbox_faults: Any, tmp_path: Path
) -> None:
    add_faults(sandbox_faults)
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[aws]\nprofiles = ["demo-mgmt", "demo-prod"]\n'
        'regions = ["us-east-1", "eu-west-1"]\n'
        '[[aws.assume_roles]]\nrole_arn = "arn:aws:iam::222222222222:role/TrailtopReadOnly"\n'
        "[poll]\nmax_attempts = 1\n"
    )
    secrets = static_secrets(sandbox)
    for fmt in ("json", "table"):
        log = tmp_path / f"debug-{fmt}.log"
        r = subprocess.run(
            [sys.executable, "-m", "tui.cli", "--config", str(cfg), "--once", "--format", fmt,
             "--debug-log", str(log)],
            capture_output=True, text=True, cwd=ROOT, env=sandbox.process_env(), timeout=120,
        )  # fmt: skip
        assert r.returncode in (1, 3), r.stderr
        assert "ExpiredToken" in r.stdout and "AccessDenied" in r.stdout  # errors are shown
        for channel in (r.stdout, r.stderr, log.read_text()):
            assert not leaks(channel, secrets), leaks(channel, secrets)
        assert log.exists()


async def test_engine_errors_tui_and_logs_carry_no_session_tokens(
    sandbox: Sandbox, sandbox_faults: Any, tmp_path: Path
) -> None:
    log = tmp_path / "debug.log"
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    setup_logging(str(log))
    # Even at DEBUG everywhere (beyond what setup_logging allows), nothing is leaked by us.
    logging.getLogger("trailtop").setLevel(logging.DEBUG)
    engine = engine_from_settings(settings_for(sandbox, aws={"regions": ["us-east-1", "eu-west-1"]},
                                               poll={"max_attempts": 1}))  # fmt: skip
    try:
        with aws_env(sandbox):
            await engine.sweep()
            add_faults(sandbox_faults)
            engine.request_full_refresh()
            snap = await engine.sweep()
            # Every credential the run holds: profiles' and assumed roles'.
            col = engine.collector
            sessions = [*col._profile_sessions.values(), *col._role_sessions.values()]
            tokens: list[str] = []
            for s in sessions:
                creds = await s.get_credentials()
                if creds is None:
                    continue
                frozen = await creds.get_frozen_credentials()
                tokens += [x for x in (frozen.access_key, frozen.secret_key, frozen.token) if x]
    finally:
        await engine.close()
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
    assert len(tokens) >= 6, "expected role session credentials to check"
    secrets = static_secrets(sandbox) + tokens
    assert [t for t in snap.targets if not t.ok]
    texts = [to_json_text(snap), to_table(snap), log.read_text()]
    texts += [t.error or "" for t in snap.targets]
    texts += [repr(f.evidence) + f.message for v in snap.views for f in v.findings]
    for text in texts:
        assert not leaks(text, secrets), leaks(text, secrets)

    app = TrailtopApp(FakeSource(snap))
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, 10, "snapshot")
        await pilot.pause()
        assert not leaks(screen_text(app), secrets)
        for v in [v for v in snap.views if v.state.value == "unknown"][:3]:
            app.open_drilldown(v.id)
            await pilot.pause()
            assert not leaks(statics_text(app.screen, width=400), secrets)
            await pilot.press("escape")
