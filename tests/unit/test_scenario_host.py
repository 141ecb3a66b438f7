"""Scenario ``[host]``: pin parsed for every variant, recorded in the target config."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.scenario import load_scenario

MINIMAL = """
name = "t"
[load]
stages = [{ duration = "5s", users = 3, spawn_rate = 3 }]
[[variants]]
name = "a"
[[variants]]
name = "b"
target = "serverless"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_pin_applies_to_every_variant_and_is_recorded(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, MINIMAL + "[host]\npin = true\n"))
    assert [v.host.pin for v in s.variants] == [True, True]
    assert s.variants[0].target_config()["host"] == {"pin": True}


def test_no_host_table_means_no_pinning_and_nothing_recorded(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, MINIMAL))
    assert [v.host.pin for v in s.variants] == [False, False]
    assert "host" not in s.variants[1].target_config()


@pytest.mark.parametrize(("text", "message"), [
    ("[host]\npin = 1\n", "host.pin"),
    ("[host]\npinned = true\n", "pinned"),
])
def test_bad_host_table(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        load_scenario(write(tmp_path, MINIMAL + text))
