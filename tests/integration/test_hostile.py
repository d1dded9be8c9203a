"""Hostile strings from AWS and from config: shown literally, controls neutralised, no crash.

Strings reach trailtop through the emulated estate (the sandbox's `error_message` fault puts
any text in a GetTrailStatus error field; `access_denied` takes any AWS error message) and
through config (profile names, keys). They must come out of the JSON unchanged (JSON escapes
by construction), out of the table and the TUI with control characters and bidi overrides
made visible, and never be interpreted as Rich/Textual markup (`[@click=app.quit]` must not
quit, `[/]` must not raise). moto refuses hostile trail and bucket names (AWS naming rules),
so names are covered with the fake source in tests/tui/test_tui.py and here through profiles.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.engine.monitor import Monitor
from core.engine.sweep import Engine
from core.model import State
from core.report import printable, snapshot_json, to_json_text, to_table
from core.settings import ConfigError, load_settings
from sandbox import Sandbox
from tests.support.engine import ROOT, aws_env, settings_for
from tests.support.pilot import wait_for
from tests.support.screens import screen_text, statics_text
from tui.app import TrailtopApp
from tui.safe import plain
from tui.screens.drilldown import DrilldownScreen

MGMT = "123456789012"
RTL = "\u202eevil\u202c"
HOSTILE = {
    "close-tag": "[/]",
    "click-action": "[@click=app.quit]x[/]",
    "link": "[link=http://x]y[/link]",
    "osc52": "\x1b]52;c;aGVsbG8=\x07",
    "clear-screen": "\x1b[2J",
    "long": "A" * 10_000,
    "bidi": f"ok {RTL} \u200f\u2066x\u2069",
    "odd-unicode": "\ufeff\u0000\u0085\u009b31m e\u0301 \U0001f4a3 \ud7ff \uffff",
    "cr-backspace": "fine\rEVIL\x08\x08",
}
#: Characters that must never reach a terminal raw.
RAW = ("\x1b", "\x07", "\x00", "\x08", "\r", "\x9b", "\x85", "\u202e", "\u202c", "\u200f", "\u2066")


def no_raw(text: str) -> bool:
    return not any(c in text for c in RAW)


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
def test_neutralisers_escape_controls_and_bound_length(value: str) -> None:
    for out in (printable(value), plain(value), printable(value, 90), plain(value, max_len=300)):
        assert no_raw(out), repr(out)
        assert "\n" not in out
    assert len(printable(value, 90)) <= 90 and len(plain(value, max_len=300)) <= 300
    if value.startswith("["):  # markup is kept as literal text, not stripped
        assert value.split("]")[0] in printable(value) and value.split("]")[0] in plain(value)


# ---------------------------------------------------------------------------- engine + outputs

HEALTHY = {"aws": {"profiles": ["demo-mgmt"], "regions": ["eu-west-1"], "assume_roles": [],
                   "organization": {"enabled": False}},
           "poll": {"max_attempts": 1, "read_timeout_seconds": 2, "interval_seconds": 1}}  # fmt: skip


@pytest.fixture
def hostile_faults(sandbox: Sandbox, sandbox_faults: Any) -> dict[str, str]:
    """Hostile text in every GetTrailStatus error field of mgmt's eu-west-1 trails."""
    fields = {
        "LatestDeliveryError": HOSTILE["click-action"] + HOSTILE["osc52"],
        "LatestDigestDeliveryError": HOSTILE["clear-screen"] + HOSTILE["close-tag"],
        "LatestNotificationError": HOSTILE["bidi"] + HOSTILE["odd-unicode"],
        "LatestCloudWatchLogsDeliveryError": HOSTILE["link"] + HOSTILE["long"],
    }
    for f, text in fields.items():
        sandbox_faults.add("error_message", account=MGMT, region="eu-west-1", field=f, message=text)
    return fields


async def test_hostile_status_errors_survive_engine_json_and_table(
    sandbox: Sandbox, hostile_faults: dict[str, str]
) -> None:
    engine = Engine(settings_for(sandbox, **HEALTHY))
    try:
        with aws_env(sandbox):
            snap = await engine.sweep()
    finally:
        await engine.close()
    views = [v for v in snap.views if v.trail.arn]
    assert views
    for v in views:
        assert v.state is State.FAILING  # an S3 delivery error is never ok
        for f, text in hostile_faults.items():
            assert v.status is not None and v.status[f] == text  # kept verbatim
    doc = json.loads(to_json_text(snap))  # valid JSON, and literal after a round trip
    for jv in doc["views"]:
        for f, text in hostile_faults.items():
            assert jv["status"][f] == text
    assert json.loads(json.dumps(snapshot_json(snap))) == doc
    table = to_table(snap)
    assert no_raw(table)


async def test_hostile_aws_error_message_in_reasons(sandbox: Sandbox, sandbox_faults: Any) -> None:
    message = "".join(HOSTILE[k] for k in ("click-action", "osc52", "clear-screen", "bidi"))
    sandbox_faults.add(
        "access_denied",
        service="cloudtrail",
        operation="GetTrailStatus",
        account=MGMT,
        message=message,
    )
    engine = Engine(settings_for(sandbox, **HEALTHY))
    try:
        with aws_env(sandbox):
            snap = await engine.sweep()
    finally:
        await engine.close()
    bad = [t for t in snap.targets if not t.ok]
    assert bad and all(message in (t.error or "") for t in bad)
    assert all(v.state is State.UNKNOWN for v in snap.views)
    assert [message in json.dumps(t["error"]) or message in t["error"]
            for t in json.loads(to_json_text(snap))["targets"]]  # fmt: skip
    table = to_table(snap)
    assert no_raw(table) and "[@click=app.quit]x[/]" in table and "\\x1b]52;c;" in table


def test_cli_output_channels_stay_clean(
    sandbox: Sandbox, hostile_faults: dict[str, str], sandbox_faults: Any, tmp_path: Path
) -> None:
    sandbox_faults.add(
        "access_denied", service="cloudtrail", operation="DescribeTrails", account=MGMT,
        region="us-east-1", message=HOSTILE["osc52"] + HOSTILE["click-action"],
    )  # fmt: skip
    cfg = tmp_path / "c.toml"
    regions = 'regions = ["eu-west-1", "us-east-1"]\n'
    env = sandbox.process_env()

    def once(fmt: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tui.cli", "--config", str(cfg), "--once", "--format", fmt],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
        )  # fmt: skip

    # A hostile profile name the shared config lacks stops trailtop at start, shown escaped.
    cfg.write_text('[aws]\nprofiles = ["demo-mgmt", "\\u001b[2J[/]"]\n' + regions)
    r = once("table")
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert no_raw(r.stderr) and "\\x1b[2J[/]" in r.stderr
    cfg.write_text('[aws]\nprofiles = ["demo-mgmt"]\n' + regions)
    for fmt in ("table", "json"):
        r = once(fmt)
        assert r.returncode == 1, r.stderr  # failing (the hostile delivery errors) wins
        assert "Traceback" not in r.stderr
        assert no_raw(r.stdout) and no_raw(r.stderr)
        if fmt == "json":
            errors = [t["error"] or "" for t in json.loads(r.stdout)["targets"]]
            assert any(HOSTILE["osc52"] in e for e in errors)  # literal after decoding
        else:
            assert "\\x1b]52;c;" in r.stdout and "UNREACHABLE" in r.stdout


# ---------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[poll]\ninterval_seconds = 1000000000\n", ["'poll.interval_seconds'", "less than"]),
        ("[poll]\nmax_attempts = 0\n", ["'poll.max_attempts'"]),
        ("[poll]\nread_timeout_seconds = -1\n", ["'poll.read_timeout_seconds'"]),
        ("[thresholds]\ns3_stale_seconds = -60\n", ["'thresholds.s3_stale_seconds'"]),
        ("[poll]\nconcurrency = true\n", ["'poll.concurrency'"]),
        ("[aws]\nassume_roles = 'arn'\n", ["'aws.assume_roles'"]),
        ("[aws.organization]\nenabled = 'yes please'\n", ["'aws.organization.enabled'"]),
        ('[poll]\n"\\u001b[2J" = 1\n', ["unknown key 'poll.\\x1b[2J'"]),
        ("[poll\n", ["malformed TOML"]),
        ("x = \x00\n", ["malformed TOML"]),
    ],
)
def test_bad_config_refused_naming_the_key(tmp_path: Path, text: str, expected: list[str]) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_settings(str(cfg))
    msg = printable(str(e.value))  # what the CLI prints (tui.cli._err)
    for part in expected:
        assert part in msg, msg
    assert no_raw(msg)


def test_config_not_utf8_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_bytes(b"[poll]\ninterval_seconds = 5 # \xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(str(cfg))


def test_cli_hostile_unknown_key_exits_2_with_clean_stderr(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('["\\u001b]52;c;aGVsbG8=\\u0007"]\nx = 1\n')
    r = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", str(cfg), "--once"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "unknown key" in r.stderr and "\\x1b]52;c;aGVsbG8=\\x07" in r.stderr
    assert no_raw(r.stderr)


# ---------------------------------------------------------------------------- the TUI, real engine


async def test_tui_shows_hostile_text_literally(sandbox: Sandbox, sandbox_faults: Any) -> None:
    settings = settings_for(
        sandbox,
        **{
            **HEALTHY,
            "aws": {**HEALTHY["aws"], "profiles": ["demo-mgmt", "[@click=app.quit]p\x1b[2J"]},
        },
    )
    with aws_env(sandbox):
        monitor = Monitor(Engine(settings))
        app = TrailtopApp(monitor)
        try:
            async with app.run_test(size=(160, 45)) as pilot:
                await wait_for(pilot, lambda: app.snapshot is not None, 30, "first sweep")
                assert app.snapshot is not None and app.snapshot.counts()["failing"] == 0
                # Break delivery with hostile text while running: rows turn failing, toast.
                text = HOSTILE["click-action"] + HOSTILE["osc52"] + HOSTILE["link"] + RTL
                sandbox_faults.add("error_message", account=MGMT, region="eu-west-1", message=text)
                await pilot.press("r")
                await wait_for(
                    pilot,
                    lambda: app.snapshot is not None and app.snapshot.counts()["failing"] > 0,
                    30,
                    "failing rows",
                )
                await pilot.pause()
                screen = screen_text(app)
                assert no_raw(screen)
                assert "profile:[@click=app.qui" in screen  # the hostile profile, literal
                assert "FAIL" in screen
                toasts = [n.message for n in app._notifications]
                assert toasts and all(no_raw(str(m)) for m in toasts)
                # Clicking every row must not run an action.
                for y in range(5, 15):
                    await pilot.click(offset=(100, y))
                assert app.is_running and app.return_value is None
                rid = next(
                    m.id for m in app.models.values()
                    if m.view.status and m.view.status.get("LatestDeliveryError") == text
                )  # fmt: skip
                app.open_drilldown(rid)
                await wait_for(pilot, lambda: isinstance(app.screen, DrilldownScreen), 5, "drill")
                await pilot.pause()
                body = statics_text(app.screen, width=4000)
                assert no_raw(body) and no_raw(screen_text(app))
                assert "[@click=app.quit]x[/]" in body and "[link=http://x]y[/link]" in body
                assert "\\x1b]52;c;aGVsbG8=\\x07" in body and "\\u202e" in body
                # A click on the (now below the fold) status panel must not run markup.
                app.screen.query_one("#dd-status").scroll_visible(animate=False)
                await pilot.pause()
                await pilot.click("#dd-status", offset=(30, 2))
                assert app.is_running and app.return_value is None
                await pilot.press("escape")
                await wait_for(pilot, lambda: not isinstance(app.screen, DrilldownScreen), 5,
                               "back")  # fmt: skip
                assert app.is_running
        finally:
            monitor.stop()
