"""The state fix as a switch: /counter in each instance's memory diverges, in PostgreSQL not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import (
    marked_processes,
    metrics,
    new_mark,
    run_cli,
    write_scenario,
)

pytestmark = pytest.mark.integration

SCENARIO = """
name = "state"
description = "the global counter in memory and in the database"
repeats = 1

[database]
max_connections = 60

[load]
think_time = ["0ms", "50ms"]
endpoints = { counter = 1.0 }
stages = [{ duration = "3s", users = 6, spawn_rate = 50 }]

[target.serverless]
idle_timeout = "60s"

[[variants]]
name = "memory"
target = "serverless"

[[variants]]
name = "postgres"
target = "serverless"
target_overrides = { state = "postgres" }

[[variants]]
name = "persistent-postgres"
target = "persistent"
target_overrides = { state = "postgres", workers = 2 }
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("state")
    mark = new_mark()
    out = folder / "run"
    result = run_cli("run", str(write_scenario(folder, SCENARIO)), "--out", str(out),
                     "--quiet", mark=mark)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert marked_processes(mark) == set()
    return out


def test_memory_counters_diverge_across_instances(run_dir: Path) -> None:
    m = metrics(run_dir, "memory")
    assert m["state.instances_seen"] > 1
    assert m["state.counter_divergence"] > 0


def test_a_counter_in_postgres_does_not_diverge(run_dir: Path) -> None:
    for variant in ("postgres", "persistent-postgres"):
        m = metrics(run_dir, variant)
        assert m["http.requests"] > 0 and m["http.failures"] == 0
        assert m["state.counter_divergence"] == 0
    assert metrics(run_dir, "postgres")["state.instances_seen"] > 1
