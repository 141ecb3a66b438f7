"""The regression gate end to end: baselines recorded from real runs, compared by `check`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import read_json, run_cli, write_scenario

pytestmark = pytest.mark.integration

GATE = """
name = "gate"
description = "pool size regression"
repeats = 3
[database]
max_connections = 30
[load]
endpoints = { read = 0.5, slow = 0.5 }
slow_ms = 20
stages = [{ duration = "1s", users = 5, spawn_rate = 20 },
          { duration = "4s", users = 16, spawn_rate = 20 }]
[target.persistent]
pool_min = 1
pool_max = POOL
[[variants]]
name = "app"
[check.min_change]  # base and same run minutes apart on a 2-core machine shared with CI
"latency.p50_ms" = "50%"
"latency.p95_ms" = "50%"
"latency.p99_ms" = "50%"
"latency.max_ms" = "100%"
"http.rps" = "50%"
"http.requests" = "50%"
"host.cpu.postgres.mean" = "50%"
"host.cpu.target.mean" = "50%"
[check.min_abs]  # how busy Locust was is this machine's state, not the pool's
"load.saturated" = 2
"""


def run_gate(folder: Path, name: str, pool: int) -> Path:
    scenario = write_scenario(folder, GATE.replace("POOL", str(pool)), f"{name}.toml")
    out = folder / name
    result = run_cli("run", str(scenario), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gate")
    out = {"base": run_gate(folder, "base", 10), "same": run_gate(folder, "same", 10),
           "tiny": run_gate(folder, "tiny", 1)}
    baseline = folder / "baselines" / "gate.json"
    result = run_cli("baseline", str(out["base"]), "--save", str(baseline))
    assert result.returncode == 0, result.stderr
    out["baseline"] = baseline
    return out


def test_same_configuration_passes(runs: dict[str, Path], tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = run_cli("check", str(runs["same"]), "--baseline", str(runs["baseline"]),
                     "--junit", str(junit))
    assert result.returncode == 0, result.stdout + result.stderr
    suites = ET.parse(junit).getroot()
    cases = suites.findall(".//testcase")
    assert len(cases) > 5
    assert not suites.findall(".//failure")


def test_another_version_of_the_scenario_is_refused(runs: dict[str, Path]) -> None:
    result = run_cli("check", str(runs["tiny"]), "--baseline", str(runs["baseline"]))
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "target.persistent.pool_max: 10 -> 1" in line and "--compare-all" in line


def test_a_pool_far_too_small_is_a_latency_regression(runs: dict[str, Path],
                                                      tmp_path: Path) -> None:
    """The same machine, the scenario's pool changed (compared anyway): latency regresses."""
    junit, markdown = tmp_path / "junit.xml", tmp_path / "summary.md"
    result = run_cli("check", str(runs["tiny"]), "--baseline", str(runs["baseline"].parent),
                     "--compare-all", "--junit", str(junit), "--markdown", str(markdown))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "latency" in result.stdout and "regress" in result.stdout
    failed = [case.get("name", "") for case in ET.parse(junit).getroot().iter("testcase")
              if case.find("failure") is not None]
    assert "latency.p95_ms" in failed
    assert "regress" in markdown.read_text().lower()


def test_json_output(runs: dict[str, Path]) -> None:
    result = run_cli("check", str(runs["tiny"]), "--baseline", str(runs["baseline"]), "--json",
                     "--compare-all")
    assert result.returncode == 1
    assert "regressed" in result.stdout


def test_incomplete_run_folder_never_passes(runs: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(runs["same"], broken)
    (broken / "app" / "2" / "requests.parquet").unlink()
    result = run_cli("check", str(broken), "--baseline", str(runs["baseline"]))
    assert result.returncode == 3, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_folder_keeps_repeats(runs: dict[str, Path]) -> None:
    summary = read_json(runs["base"] / "summary.json")
    assert len(summary["variants"]["app"]["repeats"]) == 3
