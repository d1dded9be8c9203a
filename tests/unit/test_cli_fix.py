"""`trailtop fix` refusals are audited, and audit lines say which endpoint they were for."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.fix.apply import apply
from core.fix.model import REFUSED
from tests.support.builders import make_plan, make_view


def _refuse(tmp_path: Path, endpoint: str | None, **kwargs: Any) -> list[dict[str, Any]]:
    plan = make_plan(make_view(), "s3-policy-1", extra=kwargs.pop("extra", ""))
    # A collector with nothing to call: a refusal must not make any AWS request.
    collector: Any = SimpleNamespace(pool=SimpleNamespace(endpoint_url=endpoint))
    audit = tmp_path / "audit.jsonl"
    result = asyncio.run(apply(plan, collector, None, audit_path=audit, **kwargs))  # type: ignore[arg-type]
    assert result.result == REFUSED and result.audit_path == str(audit)
    return [json.loads(line) for line in audit.read_text().splitlines()]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"enabled": False}, "remediation is disabled"),
        ({"enabled": True, "extra": "it alters a Deny"}, "extra confirmation: it alters a Deny"),
        ({"enabled": True, "refusal": "no terminal to confirm on"}, "no terminal to confirm on"),
    ],
)
def test_every_refusal_writes_one_audit_line(
    tmp_path: Path, kwargs: dict[str, Any], reason: str
) -> None:
    (line,) = _refuse(tmp_path, None, **kwargs)
    assert line["result"] == "refused" and reason in line["message"]
    assert line["plan"]["id"] == "s3-policy-1" and line["completed_calls"] == 0
    assert line["endpoint_url"] is None  # AWS's own endpoints


def test_audit_lines_against_an_emulated_estate_carry_its_endpoint(tmp_path: Path) -> None:
    (line,) = _refuse(tmp_path, "http://127.0.0.1:4566", enabled=False)
    assert line["endpoint_url"] == "http://127.0.0.1:4566"
