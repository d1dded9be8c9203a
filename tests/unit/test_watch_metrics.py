"""Metrics from a snapshot (pure), through prometheus_client's exposition and parser, and
the example alert rules against the metric names the exporter really writes."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from core.model import TargetResult
from core.watch.metrics import Counters, SnapshotCollector
from tests.support.builders import T0, breaking, make_snapshot, make_view

ROOT = Path(__file__).resolve().parents[2]


def scrape(snap: object) -> dict[str, list[tuple[dict[str, str], float]]]:
    collector = SnapshotCollector(Counters(interval_seconds=30.0, started_at=1000.0))
    collector.update(snap)  # type: ignore[arg-type]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def value(m: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    hits = [v for lab, v in m[name] if all(lab.get(k) == x for k, x in labels.items())]
    assert len(hits) == 1, (name, labels, m.get(name))
    return hits[0]


def test_state_age_findings_and_targets_per_view() -> None:
    ok = make_view("111111111111", "us-east-1", "main", s3_age=300.0)
    bad = breaking(make_view("222222222222", "eu-west-1", "other"))
    down = TargetResult(
        "ops",
        "333333333333",
        "ap-south-1",
        ok=False,
        error="Throttling: rate exceeded (throttled (retries exhausted))",
    )
    targets = [TargetResult("prod", v.key.account_id, v.key.region, ok=True) for v in (ok, bad)]
    m = scrape(make_snapshot([ok, bad], targets=[*targets, down]))
    assert value(m, "trailtop_view_state", account="111111111111", state="ok") == 1
    assert value(m, "trailtop_view_state", account="111111111111", state="failing") == 0
    assert value(m, "trailtop_view_state", account="222222222222", state="failing") == 1
    assert (
        value(m, "trailtop_view_delivery_age_seconds", account="111111111111", channel="s3") == 300
    )
    code = str(bad.findings[0].code)
    assert (
        value(m, "trailtop_view_findings", account="222222222222", code=code, severity="critical")
        == 1
    )
    assert value(m, "trailtop_target_reachable", account="333333333333") == 0
    assert value(m, "trailtop_target_reachable", account="111111111111") == 1
    assert value(m, "trailtop_sweep_throttled_targets") == 1
    assert value(m, "trailtop_sweep_target_errors") == 0  # the builder's stats: not derived here
    assert value(m, "trailtop_poll_interval_seconds") == 30


def test_labels_are_bounded_never_messages() -> None:
    bad = breaking(make_view())
    bad = replace(bad, findings=(replace(bad.findings[0], message="free text " * 50),))
    m = scrape(make_snapshot([bad]))
    allowed = {"account", "region", "owner", "trail", "state", "channel", "code", "severity",
               "profile", "sink", "outcome"}  # fmt: skip
    for samples in m.values():
        for labels, _v in samples:
            assert set(labels) <= allowed
            assert all("free text" not in x for x in labels.values())


def test_last_success_and_sso_hint() -> None:
    snap = replace(make_snapshot([make_view()]), sso_login_needed=("sso-dev",))
    m = scrape(snap)
    assert snap.last_success_at is not None
    assert (
        value(m, "trailtop_last_successful_sweep_timestamp_seconds")
        == snap.last_success_at.timestamp()
    )
    assert value(m, "trailtop_sso_login_needed", profile="sso-dev") == 1
    assert value(m, "trailtop_last_sweep_timestamp_seconds") == T0.timestamp()


def test_before_the_first_sweep_only_the_watcher_metrics() -> None:
    m = scrape(None)
    assert value(m, "trailtop_start_time_seconds") == 1000
    assert "trailtop_view_state" not in m


ALERTS = ROOT / "docs" / "alerts.yml"
RULES = {"TrailtopViewFailing", "TrailtopDeliveryAgeHigh", "TrailtopTargetUnreachable",
         "TrailtopNoSuccessfulSweep"}  # fmt: skip


def test_alert_rules_parse_and_name_only_metrics_the_exporter_writes() -> None:
    yaml = pytest.importorskip("yaml")  # a test dependency only (moto brings it)
    doc = yaml.safe_load(ALERTS.read_text())
    rules = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    assert set(rules) == RULES
    bad = breaking(make_view())
    written = set(scrape(replace(make_snapshot([bad]), sso_login_needed=("p",))))
    written |= {re.sub(r"_total$", "", n) for n in written}
    for name, rule in rules.items():
        used = set(re.findall(r"\btrailtop_[a-z_]+", rule["expr"]))
        assert used and used <= written, (name, used - written)
    age = rules["TrailtopDeliveryAgeHigh"]["expr"]
    assert 'trailtop_view_state{state="failing"}' in age  # only failing views page on age
    assert rules["TrailtopViewFailing"]["for"] == "10m"
    assert "3 * trailtop_poll_interval_seconds" in rules["TrailtopNoSuccessfulSweep"]["expr"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_alert_rules_pass_promtool() -> None:
    r = subprocess.run(["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_muted_finding_is_not_counted() -> None:
    from core.model import MuteMark

    bad = breaking(make_view("222222222222", "eu-west-1", "other"))
    first = bad.findings[0]
    mark = MuteMark("accepted: sandbox account", T0, "config")
    muted = replace(bad, findings=(replace(first, muted=mark), *bad.findings[1:]))
    counted = scrape(make_snapshot([bad])).get("trailtop_view_findings", [])
    silent = scrape(make_snapshot([muted])).get("trailtop_view_findings", [])
    code = str(first.code)
    assert any(lab.get("code") == code for lab, _ in counted)
    assert not any(lab.get("code") == code for lab, _ in silent)
