"""The JSON contract (docs/json-schema.json) and the OCSF output, on the demo estate's real
output: a run with mutes from the config and the mute file, then a second run with every
failing finding muted (exit status no longer 1, the same OCSF uids)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from core.engine.sweep import engine_from_settings
from core.model import Snapshot, State
from core.mute import Mute, add_mute
from core.ocsf import to_ocsf_text
from core.report import EXIT_FAILING, exit_code, snapshot_json, tool_version
from core.settings import Settings
from sandbox import Sandbox
from tests.support.engine import ROOT, aws_env, settings_for

SCHEMA = json.loads((ROOT / "docs" / "json-schema.json").read_text(encoding="utf-8"))
FAR = datetime(2099, 1, 1, tzinfo=UTC)


def validate(doc: object) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in Draft202012Validator(SCHEMA).iter_errors(doc)
    ]
    assert errors == []


def sweep_once(sb: Sandbox, settings: Settings) -> Snapshot:
    """One run of the engine as `--once` makes it, without Event history lookups (the
    culprits are not what this checks, and they are the slow part)."""
    engine = engine_from_settings(settings)
    engine.culprits = None

    async def run() -> Snapshot:
        try:
            return await engine.sweep()
        finally:
            await engine.close()

    with aws_env(sb):
        return asyncio.run(run())


def test_the_schema_is_a_valid_json_schema_that_can_fail() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    with pytest.raises(AssertionError):
        validate({"schema_version": 1, "summary": {}})


def test_demo_output_fits_the_schema_mutes_apply_and_ocsf_is_stable(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    mute_file = tmp_path / "mutes.toml"
    add_mute(mute_file, Mute("KMS_KEY_DISABLED", "key rotation drill", FAR, account="111*"))
    expired = {"code": "*", "reason": "old", "expires": "2020-01-01"}
    settings = settings_for(sandbox, mute={"file": str(mute_file), "rules": [expired]})
    snap = sweep_once(sandbox, settings)
    doc = json.loads(json.dumps(snapshot_json(snap)))
    validate(doc)
    assert doc["trailtop_version"] == tool_version()
    muted = [f for v in doc["views"] for f in v["findings"] if "muted" in f]
    assert muted and {f["code"] for f in muted} == {"KMS_KEY_DISABLED"}
    assert muted[0]["muted"]["source"] == str(mute_file)
    assert doc["summary"]["muted"] == len(muted)
    assert {n["kind"] for n in doc["notices"]} == {"mute-expired"}  # the 2020 rule, said once
    assert exit_code(snap) == EXIT_FAILING

    first = [DetectionFinding.model_validate(r) for r in json.loads(to_ocsf_text(snap))]
    uids = [r.finding_info.uid for r in first]
    assert (
        len(uids)
        == len(set(uids))
        == sum(len(v.findings) for v in snap.views) + sum(len(g.findings) for g in snap.coverage)
    )

    # Every failing finding muted: `--once` no longer exits 1; a second run, same uids.
    failing = {str(f.code) for v in snap.views for f in v.findings if f.state is State.FAILING} | {
        str(f.code) for g in snap.coverage for f in g.findings if f.state is State.FAILING
    }
    rules = [{"code": c, "reason": "all known", "expires": FAR.isoformat()} for c in failing]
    quiet = settings_for(sandbox, mute={"file": "", "rules": rules})
    again = sweep_once(sandbox, quiet)
    second = [DetectionFinding.model_validate(r) for r in json.loads(to_ocsf_text(again))]
    status = exit_code(again)
    unknown = any(v.state is State.UNKNOWN for v in snap.views) or snap.targets_in_error
    assert status == (3 if unknown else 0)
    assert {r.finding_info.uid for r in second} == set(uids)
    assert {r.status for r in second if r.severity in ("Critical", "High")} == {"Suppressed"}
