"""What the chosen runtime cannot do (a fault it cannot carry out, a user's [app]) is refused
when the scenario loads: one line, exit 2, before the engine is asked anything and before a
run folder exists."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.scenario import FaultSpec, Scenario, load_scenario
from harness.scenario.records import AppSpec
from harness.services.registry import UNSUPPORTED_FAULTS, check_supported

ROOT = Path(__file__).parents[2]
NO_ENGINE = "unix:///nonexistent/pgstampede-test.sock"


def quickstart(*faults: FaultSpec) -> Scenario:
    scenario = load_scenario(ROOT / "scenarios" / "quickstart.toml")
    return dataclasses.replace(scenario, faults=faults)


@pytest.mark.parametrize("kind", ["restart_postgres", "restart_pgbouncer", "freeze_target"])
def test_docker_refuses_a_fault_it_cannot_do(kind: str) -> None:
    with pytest.raises(InputError) as err:
        check_supported("docker", quickstart(FaultSpec(kind=kind, at_s=5.0)))
    message = str(err.value)
    assert message.startswith(f"--runtime docker: fault {kind} (variant ")
    assert "use --runtime process" in message and "\n" not in message


@pytest.mark.parametrize("kind", ["restart_postgres", "restart_pgbouncer", "kill_instances",
                                  "freeze_target", "terminate_backends"])
def test_the_process_runtime_does_every_fault(kind: str) -> None:
    check_supported("process", quickstart(FaultSpec(kind=kind, at_s=5.0)))


def test_only_the_variants_that_run_count() -> None:
    scenario = quickstart(FaultSpec(kind="restart_pgbouncer", at_s=5.0))
    check_supported("docker", scenario, ["persistent", "serverless"])  # no PgBouncer there
    with pytest.raises(InputError, match=r"variant persistent\+pgbouncer"):
        check_supported("docker", scenario, ["persistent", "persistent+pgbouncer"])


def test_docker_still_does_the_faults_it_can() -> None:
    kinds = {"kill_instances", "terminate_backends"}
    assert kinds.isdisjoint(UNSUPPORTED_FAULTS["docker"])
    check_supported("docker", quickstart(*(FaultSpec(kind=k, at_s=5.0) for k in sorted(kinds))))


def test_docker_refuses_an_app_variant_up_front() -> None:
    scenario = quickstart()
    app = dataclasses.replace(scenario.variants[2], app=AppSpec(kind="asgi", entry="shop:app"))
    scenario = dataclasses.replace(scenario, variants=(*scenario.variants[:2], app,
                                                       *scenario.variants[3:]))
    with pytest.raises(InputError) as err:
        check_supported("docker", scenario)
    assert str(err.value) == ("--runtime docker: variant serverless runs your [app], which only "
                              "the process runtime does (use --runtime process)")
    check_supported("docker", scenario, ["persistent"])  # the app variant is not run
    check_supported("process", scenario)


def test_cli_refuses_before_the_engine_is_asked(tmp_path: Path) -> None:
    """Without an engine, the fault is what is reported: it was checked first."""
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "harness", "run", "quickstart", "--runtime", "docker",
         "--fault", "restart_postgres@5s+1s", "--out", str(out), "--quiet"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "DOCKER_HOST": NO_ENGINE})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "fault restart_postgres (variant persistent) cannot be carried out" in lines[0]
    assert not out.exists()
