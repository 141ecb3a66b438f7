"""The layers of docs/internals.md hold: no import cycle between the harness's packages
(imports inside functions counted), and the import-linter contracts of pyproject.toml pass
on this checkout and fail when a forbidden import is added."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "harness"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str) -> Iterator[str]:
    """Every module ``path`` imports, at any depth of its code (functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def package_of(module: str) -> str:
    """``harness.run`` for ``harness.run.variant``; a loose module is its own package."""
    return ".".join(module.split(".")[:2])


def package_graph(root: Path) -> dict[str, set[str]]:
    """harness package -> the harness packages it imports."""
    graph: dict[str, set[str]] = {}
    for path in sorted((root / "harness").rglob("*.py")):
        name = module_name(path, root)
        source = package_of(name)
        targets = graph.setdefault(source, set())
        for imported in imported_modules(path, name):
            if imported.startswith("harness.") and package_of(imported) != source:
                targets.add(package_of(imported))
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {t for ts in graph.values() for t in ts}):
        if node not in index:
            visit(node)
    return found


def test_cycles_finds_a_cycle_through_three_packages() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_imports_count(tmp_path: Path) -> None:
    module = tmp_path / "harness" / "analysis" / "late.py"
    module.parent.mkdir(parents=True)
    (tmp_path / "harness" / "__init__.py").write_text("")
    (module.parent / "__init__.py").write_text("")
    module.write_text("def f():\n    from harness.load import runner\n"
                      "    from ..collect import host\n")
    assert package_graph(tmp_path)["harness.analysis"] == {"harness.load", "harness.collect"}


def test_no_import_cycle_between_harness_packages() -> None:
    graph = package_graph(ROOT)
    assert "harness.services" in graph and "harness.runtime" in graph["harness.services"]
    assert cycles(graph) == []


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config",
                           str(cwd / "pyproject.toml")], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)})


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_forbidden_import_breaks_its_contract(tmp_path: Path) -> None:
    """A copy of the checkout where the analysis imports the load (inside a function)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("harness", "targets"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert lint_imports(tmp_path).returncode == 0  # the copy is the checkout
    (tmp_path / "harness" / "analysis" / "forbidden_example.py").write_text(
        '"""Not allowed: the analysis reads the run folder only."""\n\n\n'
        "def latency() -> object:\n"
        "    from harness.load import runner\n\n"
        "    return runner\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "Analysis, checks and reports read the run folder only BROKEN" in result.stdout
    assert "harness.analysis.forbidden_example -> harness.load.runner" in result.stdout
