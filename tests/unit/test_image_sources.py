"""The Python images copy every harness module their programs import (an image that misses
one starts a container that dies with ModuleNotFoundError, as happened when
harness/results/target_env.py was added)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from harness.runtime.images import image_spec

REPO = Path(__file__).resolve().parents[2]
# what each image runs: the uvicorn app, the instance container, the gateway, the handler and
# the job-queue consumer the instance and gateway images load
ENTRIES = ("targets.persistent.app", "targets.serverless.handler", "targets.worker",
           "harness.platform.container_instance", "harness.platform.gateway",
           "harness.apphost.template")
IMAGES = ("persistent", "instance", "gateway")


def module_file(module: str) -> Path | None:
    for path in (REPO / f"{module.replace('.', '/')}.py",
                 REPO / module.replace(".", "/") / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported(path: Path, module: str) -> set[str]:
    """The harness and targets modules ``path`` imports (inside functions too)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        out |= {n for n in names if n.split(".")[0] in ("harness", "targets")}
    return out


def closure(entries: tuple[str, ...]) -> set[Path]:
    """Every harness/targets file the entries import, with the packages on the way."""
    seen: set[str] = set()
    files: set[Path] = set()
    stack = list(entries)
    while stack:
        module = stack.pop()
        if module in seen:
            continue
        seen.add(module)
        path = module_file(module)
        if path is None:
            continue
        files.add(path)
        parents = module.split(".")
        stack += [".".join(parents[:i]) for i in range(1, len(parents))]
        stack += sorted(imported(path, module))
    return files


def copied(dockerfile: Path) -> list[str]:
    """The repository paths the Dockerfile's COPY instructions take (continuations joined)."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    sources: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


@pytest.mark.parametrize("image", IMAGES)
def test_every_imported_harness_module_is_in_the_image(image: str) -> None:
    sources = copied(REPO / "compose" / image / "Dockerfile")
    missing = []
    for path in sorted(closure(ENTRIES)):
        rel = path.relative_to(REPO).as_posix()
        if not any(rel == s or (s.endswith("/") and rel.startswith(s)) for s in sources):
            missing.append(rel)
    assert not missing, f"compose/{image}/Dockerfile copies none of: {missing}"


@pytest.mark.parametrize("image", IMAGES)
def test_the_image_spec_hashes_what_the_dockerfile_copies(image: str) -> None:
    """The source hash (which decides a rebuild) covers exactly the files the image copies."""
    spec = image_spec(image)
    copies = {s.rstrip("/") for s in copied(REPO / spec.dockerfile)}
    hashed = {s.rstrip("/") for s in spec.sources}
    assert copies <= hashed, f"{spec.dockerfile} copies what its hash misses: {copies - hashed}"


def test_the_closure_follows_imports() -> None:
    files = {p.relative_to(REPO).as_posix() for p in closure(("targets.persistent.app",))}
    assert {"targets/shared/settings.py", "harness/results/target_env.py",
            "harness/results/endpoints.py", "harness/__init__.py"} <= files
