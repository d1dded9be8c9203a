"""OCSF output (core/ocsf.py): every finding is one Detection Finding that the OCSF models
accept, with a uid that depends on the finding and its trail only, never on time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from core.model import Snapshot
from core.mute import Mute, apply_mutes
from core.ocsf import to_ocsf_text
from core.report import tool_version
from tests.support.builders import T0, coverage_gap, demo_views, make_snapshot


def snapshot(now: datetime = T0) -> Snapshot:
    return make_snapshot(demo_views(now), now=now, coverage=[coverage_gap()])


def records(snap: Snapshot) -> list[DetectionFinding]:
    raw = json.loads(to_ocsf_text(snap))
    assert isinstance(raw, list)
    return [DetectionFinding.model_validate(r) for r in raw]


def test_one_valid_detection_finding_per_finding() -> None:
    snap = snapshot()
    out = records(snap)
    findings = [f for v in snap.views for f in v.findings] + [
        f for g in snap.coverage for f in g.findings
    ]
    assert len(out) == len(findings) > 5
    assert {r.class_uid for r in out} == {2004}
    assert {int(r.type_uid) for r in out} == {200401}
    assert [r.metadata.event_code for r in out] == [str(f.code) for f in findings]
    kms = next(r for r in out if r.metadata.event_code == "KMS_KEY_DISABLED")
    assert (kms.severity, kms.status) == ("Critical", "New")
    assert kms.cloud.account.uid == "222222222222" and kms.cloud.region == "eu-west-1"
    assert kms.resources[0].uid == "arn:aws:cloudtrail:eu-west-1:222222222222:trail/staging-trail"
    assert kms.time == int(T0.timestamp() * 1000)  # OCSF times are milliseconds
    assert kms.metadata.product.version == tool_version()
    assert kms.unmapped["plans"] == ["enable-key"]
    gap = out[-1]
    assert gap.metadata.event_code == "REGION_NOT_COVERED"
    assert gap.resources[0].type == "AwsAccount" and gap.cloud.region == "ap-south-1"


def test_uids_are_unique_and_the_same_in_a_later_run() -> None:
    first = [r.finding_info.uid for r in records(snapshot(T0))]
    later = [r.finding_info.uid for r in records(snapshot(T0 + timedelta(hours=3)))]
    assert len(set(first)) == len(first)
    assert later == first
    moved = make_snapshot(
        [v for v in demo_views() if v.key.region == "eu-west-1"], now=T0
    )  # fewer views: the uids of the ones left do not change
    assert {r.finding_info.uid for r in records(moved)} <= set(first)


def test_a_muted_finding_is_suppressed_with_its_reason() -> None:
    snap = snapshot()
    mute = Mute("KMS_KEY_DISABLED", "vendor migration", T0 + timedelta(days=7))
    out = apply_mutes(snap.views, snap.coverage, [mute], T0)
    muted = make_snapshot(out.views, now=T0, coverage=out.coverage)
    kms = next(r for r in records(muted) if r.metadata.event_code == "KMS_KEY_DISABLED")
    assert (kms.status_id, kms.status, kms.comment) == (3, "Suppressed", "vendor migration")
    assert kms.unmapped["muted"]["expires"] == "2026-12-04T18:00:00Z"
    before = {r.metadata.event_code: r.finding_info.uid for r in records(snap)}
    assert kms.finding_info.uid == before["KMS_KEY_DISABLED"]  # muting keeps the uid


def test_no_findings_is_an_empty_array() -> None:
    assert json.loads(to_ocsf_text(make_snapshot([], now=T0))) == []


def test_the_cli_takes_format_ocsf_and_a_mute_file() -> None:
    from tui.cli import build_parser, overrides_from_args

    args = build_parser().parse_args(["--once", "-o", "ocsf", "--mute-file", "m.toml"])
    assert args.format == "ocsf"
    assert overrides_from_args(args)["mute"] == {"file": "m.toml"}
