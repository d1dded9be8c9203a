"""`trailtop fix PLAN_ID` end to end against a private sandbox (it writes)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox import Sandbox
from tests.support.engine import ROOT

ARGS = ["--profile", "demo-prod", "--region", "us-west-2"]


def trailtop(sb: Sandbox, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(f'[remediation]\naudit_log = "{tmp_path / "audit" / "audit.jsonl"}"\n')
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args, "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=sb.process_env(),
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def bucket_policy(sb: Sandbox, bucket: str) -> dict[str, Any]:
    s3 = sb.boto3_client("s3", account="111111111111", region="us-west-2")
    return json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])


@pytest.fixture(scope="module")
def private(request: pytest.FixtureRequest) -> Any:
    sb = Sandbox(scenario="demo", delivery_interval=3600).start()
    request.addfinalizer(sb.stop)
    return sb


def find_plan(doc: dict[str, Any], trail: str, code: str) -> str:
    for v in doc["views"]:
        if v["trail_name"] == trail:
            for f in v["findings"]:
                if f["code"] == code and f.get("plans"):
                    return str(f["plans"][0])
    raise AssertionError(f"no plan for {trail} {code}")


def test_json_lists_plans_and_fix_applies_only_when_enabled_and_confirmed(
    private: Sandbox, tmp_path: Path
) -> None:
    sb = private
    bucket = sb.trail("prod-s3-policy")["bucket"]
    listed = trailtop(sb, tmp_path, "--once", "--format", "json", *ARGS)
    doc = json.loads(listed.stdout)
    plan_id = find_plan(doc, "prod-s3-policy", "S3_POLICY_DENIES_CLOUDTRAIL")
    plan = doc["plans"][plan_id]
    assert plan["calls"][0]["operation"] == "put_bucket_policy" and plan["diff"].startswith("---")
    before = bucket_policy(sb, bucket)
    audit = tmp_path / "audit" / "audit.jsonl"

    # Disabled: the plan is shown, nothing is written, exit 2.
    off = trailtop(sb, tmp_path, "fix", plan_id, "--yes", *ARGS)
    assert off.returncode == 2, off.stdout + off.stderr
    assert "put-bucket-policy" in off.stdout and "disabled" in off.stdout
    assert bucket_policy(sb, bucket) == before

    # Enabled but no terminal and no --yes: refused, nothing written.
    no_tty = trailtop(sb, tmp_path, "fix", plan_id, "--allow-remediation", *ARGS)
    assert no_tty.returncode == 2 and "--yes" in no_tty.stdout
    assert bucket_policy(sb, bucket) == before

    # Enabled and confirmed: applied, audited (0600), finding gone, old statements kept.
    on = trailtop(sb, tmp_path, "fix", plan_id, "--allow-remediation", "--yes", *ARGS)
    assert on.returncode == 0, on.stdout + on.stderr
    assert "finding cleared" in on.stdout
    after = bucket_policy(sb, bucket)
    for stmt in before["Statement"]:
        assert stmt in after["Statement"]
    assert len(after["Statement"]) > len(before["Statement"])
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    # Every refusal is audited too: disabled, then no terminal to confirm on.
    assert [r["result"] for r in records] == ["refused", "refused", "applied"]
    record = records[-1]
    assert record["plan"]["id"] == plan_id and "disabled" in records[0]["message"]
    assert "terminal" in records[1]["message"]
    assert stat.S_IMODE(os.stat(audit).st_mode) == 0o600
    for secret in sb.manifest["secrets"]:
        assert secret not in audit.read_text()

    # The delivery recovers on CloudTrail's next delivery.
    sb.deliver()
    again = json.loads(trailtop(sb, tmp_path, "--once", "--format", "json", *ARGS).stdout)
    view = next(v for v in again["views"] if v["trail_name"] == "prod-s3-policy")
    assert view["state"] == "ok", view["findings"]
    assert "LatestDeliveryError" not in view["status"]


def test_unknown_plan_is_a_usage_error(private: Sandbox, tmp_path: Path) -> None:
    r = trailtop(
        private, tmp_path, "fix", "s3-policy-00000000", "--yes", "--allow-remediation", *ARGS
    )
    assert r.returncode == 2 and "no plan" in r.stdout and "Traceback" not in r.stderr
