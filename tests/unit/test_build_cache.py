"""tests/build_cache.py: an expensive test input is built once per content of its sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.build_cache import COMPLETE, built_once


def test_built_once_per_content_and_again_after_a_failure(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "node_modules").mkdir(parents=True)
    (app / "package.json").write_text("{}")
    builds: list[Path] = []

    def build(folder: Path) -> None:
        builds.append(folder)
        (folder / "out").write_text((app / "package.json").read_text())

    cache = tmp_path / "cache"
    first = built_once("app", [app], build, cache=cache)
    assert built_once("app", [app], build, cache=cache) == first and len(builds) == 1
    (app / "node_modules" / "x.js").write_text("an output, not a source")
    assert built_once("app", [app], build, cache=cache) == first and len(builds) == 1
    assert built_once("app", [app], build, extra="node 22", cache=cache) != first
    (app / "package.json").write_text('{"name": "changed"}')
    changed = built_once("app", [app], build, cache=cache)
    assert changed != first and (changed / "out").read_text() == '{"name": "changed"}'

    def failing(folder: Path) -> None:
        (folder / "half").write_text("")
        raise RuntimeError("npm ci failed")

    (app / "package.json").write_text('{"name": "again"}')
    with pytest.raises(RuntimeError):
        built_once("app", [app], failing, cache=cache)
    again = built_once("app", [app], build, cache=cache)
    assert (again / COMPLETE).exists() and not (again / "half").exists()
