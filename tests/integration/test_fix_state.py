"""The state fix as a switch: /counter in each instance's memory diverges, in PostgreSQL not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import metrics, run_complete

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
    return run_complete(tmp_path_factory.mktemp("state"), SCENARIO)


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
