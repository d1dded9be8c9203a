"""Layering rules of DESIGN.md section 2, checked on the source (imports are the contract)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AWS_SDKS = {"boto3", "botocore", "aiobotocore", "aiohttp"}
UI_LIBS = {"textual", "rich"}
PURE = [
    "core/judge/evaluate.py",
    "core/judge/policy.py",
    "core/judge/rootcause.py",
    "core/model.py",
    "core/fix/plans.py",
]


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", files("core"), ids=lambda p: p.name)
def test_core_never_imports_textual_or_rich(path: Path) -> None:
    assert not imported_roots(path) & UI_LIBS


@pytest.mark.parametrize("path", files("tui"), ids=lambda p: p.name)
def test_tui_never_imports_an_aws_sdk(path: Path) -> None:
    assert not imported_roots(path) & AWS_SDKS


@pytest.mark.parametrize("path", files("sandbox"), ids=lambda p: p.name)
def test_sandbox_imports_nothing_from_the_code_under_test(path: Path) -> None:
    assert not imported_roots(path) & {"core", "tui"}


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_do_no_io(name: str) -> None:
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} not written yet")
    roots = imported_roots(path)
    assert not roots & (AWS_SDKS | UI_LIBS | {"socket", "subprocess", "asyncio", "urllib", "http"})
    assert "open(" not in path.read_text()


def test_headless_path_does_not_load_textual() -> None:
    import subprocess
    import sys

    code = "import sys, tui.cli, core.engine.monitor, core.report; print('textual' in sys.modules)"
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.stdout.strip() == "False", r.stderr
