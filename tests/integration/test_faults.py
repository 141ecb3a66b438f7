"""Each fault kind, injected into a real run, shows its expected effect in the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.pipeline_helpers import (
    marked_processes,
    metrics,
    new_mark,
    read_json,
    run_cli,
    write_scenario,
)

pytestmark = pytest.mark.integration

FAULTS = """
name = "faults"
description = "one fault per variant"
[database]
max_connections = 40
[load]
endpoints = { read = 1.0 }
think_time = "10ms"
stages = [{ duration = "10s", users = 8, spawn_rate = 20 }]
[target.persistent]
pool_min = 4
pool_max = 8
acquire_timeout = "3s"
[target.serverless]
idle_timeout = "60s"
[pooler.pgbouncer]
pool_size = 5
[[variants]]
name = "pg-restart"
[[variants]]
name = "bouncer-restart"
pooler = "pgbouncer"
[[variants]]
name = "kill"
target = "serverless"
[[variants]]
name = "freeze"
[[variants]]
name = "terminate"
[[faults]]
kind = "restart_postgres"
at = "3s"
duration = "1s"
variants = ["pg-restart"]
[[faults]]
kind = "restart_pgbouncer"
at = "3s"
duration = "1s"
[[faults]]
kind = "kill_instances"
at = "3s"
count = 3
[[faults]]
kind = "freeze_target"
at = "3s"
duration = "2s"
variants = ["freeze"]
[[faults]]
kind = "terminate_backends"
at = "3s"
variants = ["terminate"]
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("faults")
    mark = new_mark()
    out = folder / "run"
    result = run_cli("run", str(write_scenario(folder, FAULTS)), "--out", str(out), "--quiet",
                     mark=mark)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert marked_processes(mark) == set()
    return out


def only_fault(run_dir: Path, variant: str) -> dict[str, Any]:
    faults = read_json(run_dir / "summary.json")["variants"][variant]["faults"]
    assert len(faults) == 1, faults
    fault: dict[str, Any] = faults[0]
    assert fault["ok"], fault
    return fault


def test_postgres_restart_fails_requests_then_recovers(run_dir: Path) -> None:
    fault = only_fault(run_dir, "pg-restart")
    assert fault["kind"] == "restart_postgres"
    assert fault["errors"] > 0
    assert fault["recovered"] and fault["reconnected"]
    m = metrics(run_dir, "pg-restart")
    assert m["faults.errors"] == fault["errors"] and m["faults.recovery_s.max"] >= 1.0
    assert m["faults.reconnected"] is True


def test_pgbouncer_restart(run_dir: Path) -> None:
    fault = only_fault(run_dir, "bouncer-restart")
    assert fault["kind"] == "restart_pgbouncer"
    assert fault["errors"] > 0
    assert fault["recovered"] and fault["reconnected"]


def test_killed_instances_are_replaced(run_dir: Path) -> None:
    fault = only_fault(run_dir, "kill")
    assert fault["detail"].startswith("killed 3 of")
    assert fault["reconnected"]
    m = metrics(run_dir, "kill")
    assert m["platform.cold_starts"] >= m["platform.instances.peak"]


def test_frozen_target_stalls_requests_without_errors(run_dir: Path) -> None:
    fault = only_fault(run_dir, "freeze")
    assert fault["duration_s"] >= 2.0
    m = metrics(run_dir, "freeze")
    assert m["latency.max_ms"] >= 1500
    assert m["http.failures"] == 0
    assert fault["recovered"]


def test_terminated_backends_are_reopened(run_dir: Path) -> None:
    fault = only_fault(run_dir, "terminate")
    assert fault["detail"].startswith("terminated ")
    assert int(fault["detail"].split()[1]) >= 1
    assert fault["recovered"] and fault["reconnected"]
    m = metrics(run_dir, "terminate")
    assert m["db.connects"] >= 1  # the pool opened new connections after the fault
