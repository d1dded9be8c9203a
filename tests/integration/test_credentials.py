"""Credentials over days: assumed roles renewed before they expire, and an IAM Identity
Center (SSO) session that ends and comes back, against the sandbox over HTTP.

Time passes on both sides: the estate's clock is advanced (its STS and SSO sessions expire
by it, as AWS's do) and the engine's clock by the same amount, so an hour is not waited for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.engine.sweep import engine_from_settings
from core.settings import load_settings
from sandbox import Sandbox
from tests.support.engine import ROOT, aws_env

ROLE = "arn:aws:iam::222233334444:role/trailtop-read"


class Clock:
    """The engine's clock: the machine's, plus what the test lets pass."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def _assume_role_calls(sb: Sandbox) -> int:
    counts = sb.requests(service="sts", operation="AssumeRole")["counts"]
    return sum(int(c["count"]) for c in counts)


@pytest.fixture(scope="module")
def empty_estate() -> Iterator[Sandbox]:
    """Just the server and the management account's static key (profile ``default``)."""
    sb = Sandbox(scenario="empty").start()
    try:
        yield sb
    finally:
        sb.stop()


async def test_an_assumed_role_is_renewed_before_it_expires_without_a_failing_sweep(
    empty_estate: Sandbox,
) -> None:
    sb = empty_estate
    overlay = {
        "aws": {
            "profiles": ["default"],
            "regions": ["us-east-1"],
            "endpoint_url": sb.endpoint_url,
            "assume_roles": [{"role_arn": ROLE}],
        },
        "poll": {"max_attempts": 1, "read_timeout_seconds": 5},
    }
    clock = Clock()
    with aws_env(sb):
        settings, _ = load_settings(None, overlay)
        engine = engine_from_settings(settings, clock=clock)
        engine.culprits = None
        try:
            first = await engine.sweep()
            reached = {t.account_id for t in first.targets if t.ok}
            assert "222233334444" in reached and first.targets_in_error == 0
            assumed = _assume_role_calls(sb)
            assert assumed == 1
            # 47 minutes on: the session (one hour) is inside the renewal window.
            for minutes in (47, 62, 118, 125):
                step = timedelta(minutes=minutes) - clock.offset
                clock.offset += step
                sb.advance_clock(step.total_seconds())
                engine.request_full_refresh()  # the account has no trail: describe it anew
                snap = await engine.sweep()
                errors = [t.error for t in snap.targets if not t.ok]
                assert errors == [], f"at +{minutes} min: {errors}"
            # Renewed once per hour of session, not on every call: +47 renews the first
            # session, +62 needs nothing, +118 renews the second (+107 is its renewal
            # window), +125 nothing; sessions the server expired were never used.
            assert _assume_role_calls(sb) - assumed == 2
        finally:
            await engine.close()


async def test_an_edited_profile_is_read_again_within_two_sweeps(empty_estate: Sandbox) -> None:
    sb = empty_estate
    config = Path(sb.manifest["config_file"])
    original = config.read_text()

    def role_profile(account: str) -> str:
        return (
            original
            + f"\n[profile work]\nrole_arn = arn:aws:iam::{account}:role/trailtop-read\n"
            + "source_profile = default\nregion = us-east-1\n"
        )

    overlay = {
        "aws": {
            "profiles": ["work"],
            "regions": ["us-east-1"],
            "endpoint_url": sb.endpoint_url,
        },
        "poll": {"max_attempts": 1, "read_timeout_seconds": 5},
    }
    config.write_text(role_profile("333344445555"))
    try:
        with aws_env(sb):
            settings, _ = load_settings(None, overlay)
            engine = engine_from_settings(settings)
            engine.culprits = None
            try:
                first = await engine.sweep()
                assert {t.account_id for t in first.targets} == {"333344445555"}
                # Someone points the profile at another account; its old session still works.
                config.write_text(role_profile("666677778888"))
                sweeps = [await engine.sweep(), await engine.sweep()]
                assert {t.account_id for t in sweeps[-1].targets} == {"666677778888"}
                said = [n for s in sweeps for n in s.notices]
                assert [(n.kind, n.account_id) for n in said] == [
                    ("account-removed", "333344445555")
                ]
            finally:
                await engine.close()
    finally:
        config.write_text(original)


# -- SSO ----------------------------------------------------------------------------------


class EngineChild:
    """An engine in its own process with its own HOME: the SDK reads the SSO token cache
    from ``~/.aws/sso/cache``, a path it fixes when it is imported."""

    def __init__(self, sb: Sandbox, home: Path, overlay: dict[str, Any]) -> None:
        env = sb.process_env({k: v for k, v in os.environ.items() if not k.startswith("AWS_")})
        env["HOME"] = str(home)
        env["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.engine_child", json.dumps(overlay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )

    def sweep(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("sweep\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            assert self.proc.stderr is not None
            raise AssertionError("engine child died:\n" + self.proc.stderr.read()[-3000:])
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("exit\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def sso_child(sandbox: Sandbox, tmp_path: Path) -> Iterator[tuple[EngineChild, Path]]:
    account = "111111111111"  # the demo estate's prod account
    sandbox.add_sso_profile("sso-prod", account, "TrailtopReadOnly")
    overlay = {
        "aws": {
            "profiles": ["sso-prod"],
            "regions": ["us-east-1", "eu-west-1"],
            "endpoint_url": sandbox.endpoint_url,
        },
        "poll": {"max_attempts": 1, "read_timeout_seconds": 5},
    }
    child = EngineChild(sandbox, tmp_path, overlay)
    try:
        yield child, tmp_path
    finally:
        child.close()


def test_an_sso_session_that_ends_asks_for_a_login_and_recovers_by_itself(
    sandbox: Sandbox, sso_child: tuple[EngineChild, Path]
) -> None:
    child, home = sso_child
    role = "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/TrailtopReadOnly"
    # Never logged in: no token cached.
    never = child.sweep()
    assert never["sso_login_needed"] == ["sso-prod"]
    assert never["views"] == {}
    # Logged in: the profile reaches its account.
    sandbox.sso_login("sso-prod", home)
    live = child.sweep()
    assert live["sso_login_needed"] == []
    assert live["views"] and set(live["accounts"]) == {"111111111111"}
    assert live["target_errors"] == []
    # The token's day is over (the cache is stale) and so are the role credentials it
    # bought: nothing is OK, a human is asked to log in, every sweep until they do.
    sandbox.sso_login("sso-prod", home, expires_in=-60)
    sandbox.expire_role_sessions(role)
    after = [child.sweep(), child.sweep()]
    for snap in after:
        assert snap["counts"]["ok"] == 0
    assert after[-1]["sso_login_needed"] == ["sso-prod"]
    # Someone ran `aws sso login`: the views come back with no restart.
    sandbox.sso_login("sso-prod", home)
    back = child.sweep()
    assert back["sso_login_needed"] == []
    assert set(back["views"]) == set(live["views"])
    assert back["views"] == live["views"]
