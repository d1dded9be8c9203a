"""Least privilege, proven against moto's IAM enforcement on a PRIVATE sandbox.

`iam/trailtop-readonly.json` must list exactly the read actions trailtop calls (derived here
from the sandbox's request log of a full sweep with diagnostics and culprit lookups, as the
management account's admin), a role holding only that policy must sweep with diagnostics
without a single permission-caused `unknown` or `DIAGNOSTICS_INCOMPLETE`, and the
remediation writes must be refused by AWS for it. Enforcement (`/moto-api/reset-auth`) is
global for a server, so it is only ever turned on in this module's own sandbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.engine.sweep import Engine, engine_from_settings
from core.fix.apply import apply
from core.model import Snapshot, State
from sandbox import Sandbox
from tests.support.engine import ROOT, aws_env, settings_for

MGMT = "123456789012"
ROLE = "TrailtopLeastPrivilege"
PROFILE = "trailtop-lp"
READONLY = json.loads((ROOT / "iam" / "trailtop-readonly.json").read_text())
REMEDIATE = json.loads((ROOT / "iam" / "trailtop-remediate.json").read_text())

#: API operation -> IAM action, where the two differ.
ACTION_OF = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
}
SERVICE_PREFIX = {"logs": "logs", "organizations": "organizations"}
DENIED = ("AccessDenied", "AccessDeniedException", "403", "UnauthorizedOperation",
          "AuthorizationError", "access denied")  # fmt: skip


def actions(policy: dict[str, Any], effect: str = "Allow") -> set[str]:
    out: set[str] = set()
    for st in policy["Statement"]:
        if st["Effect"] == effect:
            acts = st["Action"]
            out.update([acts] if isinstance(acts, str) else acts)
    return out


def action_of(service: str, operation: str) -> str:
    return ACTION_OF.get(
        (service, operation), f"{SERVICE_PREFIX.get(service, service)}:{operation}"
    )


@dataclass
class Estate:
    sb: Sandbox
    admin: Snapshot
    admin_actions: set[str]
    lp: Snapshot
    lp_actions: set[str]
    engine: Engine
    loop: asyncio.Runner


SETTINGS = {
    "aws": {"profiles": [PROFILE], "regions": [], "assume_roles": [],
            "organization": {"enabled": False}},
    "poll": {"max_attempts": 1},
}  # fmt: skip


def _sweep_actions(sb: Sandbox, since: float) -> set[str]:
    return {action_of(e["service"], e["operation"]) for e in sb.request_log(since)}


@pytest.fixture(scope="module")
def estate() -> Iterator[Estate]:
    sb = Sandbox(scenario="demo", delivery_interval=1.0).start()
    runner = asyncio.Runner()
    engine: Engine | None = None
    try:
        iam = sb.boto3_client("iam")
        iam.create_role(
            RoleName=ROLE,
            AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                               "Principal": {"AWS": f"arn:aws:iam::{MGMT}:user/sandbox-admin"}}],
            }),
        )  # fmt: skip
        iam.put_role_policy(
            RoleName=ROLE, PolicyName="trailtop-readonly", PolicyDocument=json.dumps(READONLY)
        )
        # moto quirk, not shipped: moto authorises HeadBucket as "s3:HeadBucket", an action
        # AWS does not have (AWS checks s3:ListBucket, which the policy grants).
        iam.put_role_policy(
            RoleName=ROLE,
            PolicyName="moto-quirk-headbucket",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:HeadBucket", "Resource": "*"}]}),
        )  # fmt: skip
        # The source profile's user may only assume roles (it reads nothing itself).
        iam.put_user_policy(
            UserName="sandbox-admin",
            PolicyName="assume-only",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}),
        )  # fmt: skip
        with open(sb.config_file, "a") as f:
            f.write(f"\n[profile {PROFILE}]\nrole_arn = arn:aws:iam::{MGMT}:role/{ROLE}\n"
                    "source_profile = demo-mgmt\nregion = us-east-1\n")  # fmt: skip
        with aws_env(sb):
            # As admin first (no enforcement yet): the operations a full sweep makes.
            since = time.time()
            admin_engine = engine_from_settings(settings_for(sb))
            admin = runner.run(admin_engine.sweep())
            runner.run(admin_engine.close())
            admin_actions = _sweep_actions(sb, since)

            req = urllib.request.Request(
                f"{sb.endpoint_url}/moto-api/reset-auth", data=b"0", method="POST",
                headers={"Content-Type": "text/plain"},
            )  # fmt: skip
            with urllib.request.urlopen(req, timeout=10) as r:
                assert r.status == 200
            since = time.time()
            engine = engine_from_settings(settings_for(sb, **SETTINGS))
            lp = runner.run(engine.sweep())
            lp_actions = _sweep_actions(sb, since)
            yield Estate(sb, admin, admin_actions, lp, lp_actions, engine, runner)
    finally:
        if engine is not None:
            runner.run(engine.close())
        runner.close()
        sb.stop()


def test_readonly_policy_lists_exactly_the_actions_trailtop_calls(estate: Estate) -> None:
    allowed = actions(READONLY)
    assert not actions(READONLY, "Deny")
    # sts:GetCallerIdentity needs no permission in AWS; listing it documents the call.
    assert estate.admin_actions - allowed == set(), "calls missing from the policy"
    assert allowed - estate.admin_actions == set(), "policy grants actions never called"
    assert all(not a.split(":")[1].startswith(("Put", "Create", "Delete", "Update", "Start",
                                               "Stop", "Set", "Enable", "Cancel", "Attach"))
               for a in allowed)  # fmt: skip


def test_full_sweep_with_diagnostics_works_with_the_readonly_role(estate: Estate) -> None:
    snap = estate.lp
    assert snap.targets and all(t.ok for t in snap.targets), [t for t in snap.targets if not t.ok]
    views = [v for v in snap.views if v.trail.arn]
    assert len(views) >= 5
    for v in views:
        codes = {f.code for f in v.findings}
        assert "STATUS_UNAVAILABLE" not in codes, v.id
        for f in v.findings:
            if f.code == "DIAGNOSTICS_INCOMPLETE":
                reason = json.dumps(f.evidence)
                assert not any(d in reason for d in DENIED), (v.id, reason)
    # The same verdict as the admin's, view by view (the management account's views).
    admin = {v.id: (v.state, {f.code for f in v.findings}) for v in estate.admin.views
             if v.key.account_id == MGMT}  # fmt: skip
    mine = {v.id: (v.state, {f.code for f in v.findings}) for v in views}
    assert mine == admin
    assert any(s is State.FAILING for s, _ in mine.values())  # diagnostics saw root causes
    # Every call it made is one the policy allows (sanity of the derivation).
    assert estate.lp_actions <= actions(READONLY)


def test_remediation_is_refused_by_aws_with_the_readonly_role(
    estate: Estate, tmp_path: Path
) -> None:
    plans = [p for p in estate.lp.plans.values() if p.account_id == MGMT]
    assert plans, "the demo's broken management trails should have remediation plans"
    account = next(a for a in estate.engine.accounts if a.account_id == MGMT)
    audit = tmp_path / "audit.jsonl"
    for plan in plans:
        res = estate.loop.run(
            apply(plan, estate.engine.collector, account.session, enabled=True,
                  audit_path=audit, confirm_extra=True)
        )  # fmt: skip
        assert res.result in ("failed", "aborted", "refused") and res.completed == 0, res
        if res.result == "failed":
            assert any(d in (res.error or res.message) for d in DENIED), res
    # At least one plan reached AWS and was denied there (not refused locally).
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert any(x["result"] == "failed" for x in lines), lines
    write_actions = actions(REMEDIATE)
    for plan in plans:
        for call in plan.calls:
            assert action_of(call.service, _op(call.operation)) in write_actions, call
    assert not (write_actions - actions(REMEDIATE, "Allow")) and os.path.exists(audit)
    # The audit log never holds a credential: the static keys, nor the role's session.
    creds = estate.loop.run(_frozen(account.session))
    secrets = [*estate.sb.manifest["secrets"], *estate.sb.manifest["access_keys"].values(),
               creds.access_key, creds.secret_key, creds.token]  # fmt: skip
    text = audit.read_text()
    assert all(s and s not in text for s in secrets)
    assert "Signature=" not in text and "X-Amz-Security-Token" not in text


async def _frozen(session: Any) -> Any:
    return await (await session.get_credentials()).get_frozen_credentials()


def test_readme_shows_both_policies() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "## Permissions" in readme
    for name in ("trailtop-readonly.json", "trailtop-remediate.json"):
        assert (ROOT / "iam" / name).read_text().strip() in readme, name


def _op(snake: str) -> str:
    return "".join(p.capitalize() for p in snake.split("_"))
