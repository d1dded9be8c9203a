"""What an operator sees when something is wrong before or around the first sweep.

Each error names the fix, has the documented exit status (2 configuration or usage, 3 could
not read) and never a traceback. The runs are `tui.cli.main(argv)` in this process with a
private HOME and shared config (no AWS endpoint is ever reached: every case fails at the
credential or configuration step), and one real process for the terminal check.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.report import EXIT_UNKNOWN, EXIT_USAGE
from tests.support.engine import ROOT
from tui.cli import main

Run = Callable[..., tuple[int, str, str]]

SSO_CONFIG = """
[profile corp]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = ReadOnly
region = eu-west-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
"""


@pytest.fixture
def run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Run]:
    """`run(*argv, config=..., env=...)` -> (exit status, stdout, stderr) in a private HOME."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "TRAILTOP_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-role lookup
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.lastResort)
    quiet = {n: logging.getLogger(n).level for n in ("botocore", "aiobotocore", "asyncio")}

    def go(*argv: str, config: str = "", env: dict[str, str] | None = None) -> tuple[int, str, str]:
        (home / ".aws" / "config").write_text(config)
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        code = main(list(argv))
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    yield go
    for h in list(root.handlers):
        root.removeHandler(h)
        if h not in saved[0]:
            h.close()
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])
    logging.lastResort = saved[2]
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


def test_a_profile_missing_from_the_shared_config_stops_at_start(run: Run) -> None:
    config = "[default]\nregion = eu-west-1\n[profile prod]\nregion = eu-west-1\n" + SSO_CONFIG
    code, out, err = run("--once", "--profile", "prdo", config=config)
    assert code == EXIT_USAGE and out == ""
    assert "profile 'prdo' (from --profile)" in err
    assert "Did you mean 'prod'?" in err and "Known profiles: corp, default, prod" in err
    assert "aws configure --profile prdo" in err
    # AWS_PROFILE is checked the same way, and named as the source (not "default").
    code, out, err = run("--once", config=config, env={"AWS_PROFILE": "nope"})
    assert code == EXIT_USAGE and "profile 'nope' (from AWS_PROFILE)" in err
    assert "profile:default" not in out + err
    # No profiles at all: say how to create one.
    code, _, err = run("--once", "--profile", "prod", config="")
    assert code == EXIT_USAGE and "no profiles are configured" in err
    assert "aws configure sso --profile prod" in err


def test_sso_profile_without_a_token_says_to_log_in(run: Run) -> None:
    code, out, err = run("--once", "--profile", "corp", "--region", "eu-west-1", config=SSO_CONFIG)
    assert code == EXIT_UNKNOWN, err
    assert "run aws sso login" in out
    assert "UNREACHABLE  corp" in out


def test_broken_credential_process_names_the_command(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-helper"
    failing = tmp_path / "helper.sh"
    failing.write_text("#!/bin/sh\necho 'token for corp has expired' >&2\nexit 3\n")
    failing.chmod(0o755)
    config = (
        f"[profile gone]\ncredential_process = {missing} --account 1\n"
        f"[profile fails]\ncredential_process = {failing} --account 2 --session-token hunter2\n"
    )
    code, out, _ = run(
        "--once", "--profile", "gone", "--profile", "fails", "--region", "eu-west-1", config=config
    )
    assert code == EXIT_UNKNOWN
    gone = next(line for line in out.splitlines() if line.startswith("UNREACHABLE  gone"))
    assert "credential_process failed" in gone and f"{missing} --account 1" in gone
    assert "No such file or directory" in gone and "network error" not in gone
    fails = next(line for line in out.splitlines() if line.startswith("UNREACHABLE  fails"))
    assert "token for corp has expired" in fails and f"{failing} --account 2" in fails
    assert "--session-token <redacted>" in fails and "hunter2" not in out  # never a secret


def test_no_credentials_at_all_gives_the_way_to_get_some(run: Run) -> None:
    code, out, _ = run("--once", "--region", "eu-west-1", config="")
    assert code == EXIT_UNKNOWN
    line = next(line for line in out.splitlines() if line.startswith("UNREACHABLE"))
    assert "no credentials found" in line
    assert "--profile" in line and "aws configure" in line


def test_a_debug_log_that_cannot_be_written_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    code, out, err = run("--once", "--debug-log", str(tmp_path / "missing" / "debug.log"))
    assert code == EXIT_USAGE and out == ""
    assert f"create {tmp_path / 'missing'} first" in err


def test_debug_log_records_targets_and_errors_never_secrets(run: Run, tmp_path: Path) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    credentials = tmp_path / "home" / ".aws" / "credentials"
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text(
        f"[keys]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = {secret}\n"
    )
    log_file = tmp_path / "debug.log"
    config = f"[profile broken]\ncredential_process = {tmp_path / 'nope'}\n"
    code, _, _ = run(
        "--once",
        *("--profile", "broken", "--profile", "keys", "--region", "eu-west-1"),
        *("--endpoint-url", "http://127.0.0.1:9", "--debug-log", str(log_file)),
        config=config,
        env={"TRAILTOP_POLL__MAX_ATTEMPTS": "1"},  # the closed port refuses at once
    )
    assert code == EXIT_UNKNOWN
    text = log_file.read_text()
    assert "profiles ['broken', 'keys']" in text  # what was asked
    assert "target profile broken account ? region eu-west-1: ERROR credential_process" in text
    assert "target profile keys" in text and "sweep 1:" in text
    assert secret not in text


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TRAILTOP_AWS__PROFILES": "[prod"}, ["TRAILTOP_AWS__PROFILES: not valid JSON", "a,b"]),
        ({"TRAILTOP_FOO": "1"}, ["TRAILTOP_FOO: unknown variable"]),
        (
            {"TRAILTOP_POLL__INTERVALL_SECONDS": "5"},
            ["did you mean TRAILTOP_POLL__INTERVAL_SECONDS?"],
        ),
        (
            {"TRAILTOP_POLL__CONCURRENCY": "0"},
            ["TRAILTOP_POLL__CONCURRENCY: key 'poll.concurrency'"],
        ),
        (
            {"TRAILTOP_AWS__REGIONS": "eu-wst-1"},
            ["region 'eu-wst-1' (from TRAILTOP_AWS__REGIONS)", "did you mean eu-west-1"],
        ),
    ],
)
def test_environment_errors_name_the_variable(
    run: Run, env: dict[str, str], expected: list[str]
) -> None:
    code, out, err = run("--once", env=env)
    assert code == EXIT_USAGE and out == ""
    for part in expected:
        assert part in err


def test_region_typo_and_a_comma_list_of_regions(run: Run) -> None:
    code, _, err = run("--once", "--region", "eu-west-1,eu-wst-1", config="")
    assert code == EXIT_USAGE
    assert "region 'eu-wst-1' (from --region)" in err and "eu-west-1" in err


def test_the_tui_needs_a_terminal(run: Run) -> None:
    # Under pytest stdout is captured, as in `trailtop > out.txt`.
    code, out, err = run(config="")
    assert code == EXIT_USAGE and out == ""
    assert "needs a terminal" in err and "--once" in err
    with pytest.raises(SystemExit) as e:
        run("--format", "json")
    assert e.value.code == EXIT_USAGE


def test_in_a_pipe_trailtop_exits_at_once_without_drawing(tmp_path: Path) -> None:
    """A real process with stdout a pipe (`trailtop | jq`): exit 2 at once, no escapes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TRAILTOP_"))}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
    r = subprocess.run(
        [sys.executable, "-m", "tui.cli"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == EXIT_USAGE
    assert r.stdout == "" and "\x1b" not in r.stderr and "Traceback" not in r.stderr
    assert "needs a terminal" in r.stderr and "--once" in r.stderr


def test_an_html_error_page_is_not_shown_as_the_reason() -> None:
    from botocore.exceptions import ClientError

    from core.aws.errors import describe_error

    page = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>"
    exc = ClientError(
        {"Error": {"Code": "500", "Message": page}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "DescribeTrails",
    )
    reason = describe_error(exc)
    assert reason.startswith("service error: 500 on DescribeTrails")
    assert "<html" not in reason and "check the region name and --endpoint-url" in reason
