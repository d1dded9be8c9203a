"""Layering rules, checked on the source (imports are the contract; docs/architecture.md).

core/util, core/codes.py, core/model.py   plain data and helpers: import nothing else of core
core/judge                                pure judgement: util, codes, model, judge
core/fix (but apply.py)                   pure plans: the above plus fix
core/aws                                  AWS I/O: may use judge and util, never engine or fix
core/engine                               wires everything
tui/                                      never an AWS SDK; from core only the seams
sandbox/                                  nothing of the code under test
No cycle among module-level imports (imports under TYPE_CHECKING or in functions excepted).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AWS_SDKS = {"boto3", "botocore", "aiobotocore", "aiohttp"}
UI_LIBS = {"textual", "rich"}
IO_MODULES = AWS_SDKS | UI_LIBS | {"socket", "subprocess", "asyncio", "http", "os", "pathlib"}
#: urllib.parse is string handling; the rest of urllib is network I/O.
IO_SUBMODULES = ("urllib.request", "urllib.error", "urllib.response")


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(tree: ast.AST, *, module_level_only: bool) -> Iterator[str]:
    """Absolute module names imported; optionally only those run at import time."""

    def visit(node: ast.AST, top: bool) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                if top or not module_level_only:
                    yield from (a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if (top or not module_level_only) and child.module and child.level == 0:
                    yield child.module
                    # `from core.fix import model` imports the submodule core.fix.model.
                    yield from (f"{child.module}.{a.name}" for a in child.names)
            elif _deferred(child):
                yield from visit(child, False)
            else:
                yield from visit(child, top)

    yield from visit(tree, True)


def _deferred(node: ast.AST) -> bool:
    """Imports inside a function or an `if TYPE_CHECKING:` block do not run at import time."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        return True
    return isinstance(node, ast.If) and _is_type_checking(node.test)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(path: Path, *, module_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    return set(_imports(tree, module_level_only=module_level_only))


def imported_roots(path: Path) -> set[str]:
    return {m.split(".")[0] for m in imported(path)}


def core_imports(path: Path) -> set[str]:
    """The core modules `path` imports, as dotted names (core.judge.policy, core.model...)."""
    known = {module_name(p) for p in files("core")}
    return {m for m in imported(path) if m.startswith("core") and m in known}


def _allowed(module: str, target: str, prefixes: tuple[str, ...]) -> bool:
    return target == module or any(target == p or target.startswith(p + ".") for p in prefixes)


BASE = ("core.util", "core.codes", "core.model")
LAYERS: dict[str, tuple[str, ...]] = {
    "core.util": ("core.util",),
    "core.codes": (),
    "core.model": ("core.util", "core.codes"),
    "core.judge": (*BASE, "core.judge"),
    "core.fix": (*BASE, "core.judge", "core.fix"),
    "core.aws": (*BASE, "core.judge", "core.aws", "core.settings", "core.engine.protocols"),
}
#: Modules of a layer that do I/O and may import more (they are not pure).
IMPURE = {"core.fix.apply": ("core.aws", "core.settings")}
#: What the TUI may import from core: data, seams, formatting of output, settings.
TUI_MAY_IMPORT = (
    *BASE,
    "core.engine",
    "core.fix.model",
    "core.mute",
    "core.report",
    "core.settings",
    "core.watch",
)

PURE = [
    p
    for p in files("core")
    if module_name(p).startswith(("core.util", "core.judge", "core.fix"))
    and module_name(p) not in IMPURE
] + [ROOT / "core/model.py", ROOT / "core/codes.py", ROOT / "core/engine/protocols.py"]


def _layer(module: str) -> str | None:
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


@pytest.mark.parametrize("path", files("core"), ids=module_name)
def test_core_never_imports_textual_or_rich(path: Path) -> None:
    assert not imported_roots(path) & UI_LIBS


@pytest.mark.parametrize("path", files("core"), ids=module_name)
def test_core_layers_import_only_downwards(path: Path) -> None:
    module = module_name(path)
    layer = _layer(module)
    if layer is None:
        return  # core.engine, core.settings, core.report: the wiring
    allowed = LAYERS[layer] + IMPURE.get(module, ())
    wrong = {t for t in core_imports(path) if not _allowed(module, t, allowed)}
    assert not wrong, f"{module} ({layer}) imports {sorted(wrong)}"


@pytest.mark.parametrize("path", files("tui"), ids=module_name)
def test_tui_never_imports_an_aws_sdk(path: Path) -> None:
    assert not imported_roots(path) & AWS_SDKS


@pytest.mark.parametrize("path", files("tui"), ids=module_name)
def test_tui_imports_only_the_seams_of_core(path: Path) -> None:
    wrong = {t for t in core_imports(path) if not _allowed("", t, TUI_MAY_IMPORT)}
    assert not wrong, f"{module_name(path)} imports {sorted(wrong)}"


@pytest.mark.parametrize("path", files("sandbox"), ids=module_name)
def test_sandbox_imports_nothing_from_the_code_under_test(path: Path) -> None:
    assert not imported_roots(path) & {"core", "tui"}


@pytest.mark.parametrize("path", PURE, ids=module_name)
def test_pure_modules_do_no_io(path: Path) -> None:
    assert not imported_roots(path) & IO_MODULES
    assert not {m for m in imported(path) if m.startswith(IO_SUBMODULES)}
    assert "open(" not in path.read_text()


def test_no_import_cycles_at_module_level() -> None:
    graph: dict[str, set[str]] = {}
    paths = files("core") + files("tui")
    known = {module_name(p) for p in paths}
    for p in paths:
        deps = imported(p, module_level_only=True)
        graph[module_name(p)] = {d for d in deps if d in known and d != module_name(p)}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                walk(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_sees_a_cycle(tmp_path: Path) -> None:
    """The walker above must be able to fail: feed it a two-module cycle."""
    a = tmp_path / "a.py"
    a.write_text("from core.b import x\nif TYPE_CHECKING:\n    from core.c import y\n")
    assert imported(a, module_level_only=True) == {"core.b", "core.b.x"}
    assert imported(a) == {"core.b", "core.b.x", "core.c", "core.c.y"}


def test_headless_path_does_not_load_textual() -> None:
    import subprocess
    import sys

    code = "import sys, tui.cli, core.engine.monitor, core.report; print('textual' in sys.modules)"
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.stdout.strip() == "False", r.stderr
