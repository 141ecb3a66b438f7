"""The key reference and the loader cannot disagree: every key the reference lists is one the
loader accepts where the reference says, and writing a key's documented default changes
nothing in the loaded scenario (for the sections parsed by hand as for the others)."""

from __future__ import annotations

import copy
import dataclasses
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from harness.scenario import Scenario, parse_scenario
from harness.scenario.app import COMMAND_ONLY
from harness.scenario.fields import Key
from harness.scenario.reference import KeySection, key_sections

APPS = Path(__file__).parents[1] / "apps"
BASE: dict[str, Any] = {
    "name": "ref",
    "load": {"stages": [{"duration": "10s", "users": 1}]},
    "variants": [{"name": "p"}, {"name": "b", "pooler": "pgbouncer"},
                 {"name": "s", "target": "serverless", "pooler": "pgpool"}],
    "faults": [{"kind": "terminate_backends", "at": "1s"}],
}
APP: dict[str, Any] = {"asgi": "tiny.asgi_app:app", "root": str(APPS),
                       "python": sys.executable}
COMMAND_APP: dict[str, Any] = {"command": ["true"]}


def _base(section: str, key: str) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    if section == "app":
        data["app"] = dict(COMMAND_APP if key in COMMAND_ONLY else APP)
        data["load"]["paths"] = {"GET /": 1}
    return data


def _put(data: dict[str, Any], section: str, key: str, value: object) -> None:
    """``key = value`` where the reference says ``section`` is."""
    if section == "load.stages":
        data["load"]["stages"][0][key] = value
    elif section == "variants":
        data["variants"][0][key] = value
    elif section == "faults":
        data["faults"][0][key] = value
    else:
        table = data
        for part in filter(None, section.split(".")):
            table = table.setdefault(part, {})
        table[key] = value


def _loaded(data: dict[str, Any], tmp_path: Path) -> Scenario:
    return dataclasses.replace(parse_scenario(data, str(tmp_path / "s.toml")), raw={})


def _written_defaults() -> list[tuple[str, Key, object]]:
    out = []
    for section in key_sections():
        if section.entries:
            continue  # keys of each entry (load.paths)
        for key in section.keys:
            try:
                value = tomllib.loads(f"v = {key.default}")["v"] if key.default else None
            except tomllib.TOMLDecodeError:
                continue  # prose: "(the scenario's folder)"
            if value is not None and not key.required:
                out.append((section.path, key, value))
    return out


WRITTEN = _written_defaults()


@pytest.mark.parametrize(("section", "key", "value"), WRITTEN,
                         ids=[f"{s}.{k.name}" for s, k, _ in WRITTEN])
def test_writing_the_documented_default_changes_nothing(tmp_path: Path, section: str,
                                                        key: Key, value: object) -> None:
    before = _loaded(_base(section, key.name), tmp_path)
    data = _base(section, key.name)
    _put(data, section, key.name, value)
    assert _loaded(data, tmp_path) == before


def test_most_keys_have_a_written_default() -> None:
    """The test above covers the sections parsed by hand too (not only the records)."""
    covered = {s for s, _, _ in WRITTEN}
    assert {"", "database", "load", "load.stages", "target.persistent", "target.serverless",
            "pooler.pgbouncer", "pooler.pgpool", "app", "host", "collect", "variants", "faults",
            "check", "limit"} <= covered
    assert len(WRITTEN) > 70


def _sections() -> list[KeySection]:
    return [s for s in key_sections() if s.keys and s.path not in ("load.paths",)]


@pytest.mark.parametrize("section", _sections(), ids=lambda s: s.path or "top")
def test_an_unknown_key_in_each_section_is_refused_naming_the_keys(section: KeySection,
                                                                  tmp_path: Path) -> None:
    """The loader's unknown-key check lists exactly the reference's keys."""
    from harness.errors import ScenarioError

    data = _base(section.path, "")
    _put(data, section.path, "turbo", 1)
    with pytest.raises(ScenarioError, match="unknown key") as err:
        parse_scenario(data, str(tmp_path / "s.toml"))
    listed = err.value.expected.split("expected one of: ", 1)[1].rstrip(")")
    assert set(listed.split(", ")) == {k.name for k in section.keys}
