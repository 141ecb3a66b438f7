"""Idle timeouts as scenario keys: PgBouncer's server_idle_timeout closes the server
connections a burst left idle; with the default (600 s) they stay open."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.integration.pipeline_helpers import read_json, run_complete

pytestmark = pytest.mark.integration

SCENARIO = """
name = "idle-timeouts"
description = "idle server connections behind PgBouncer with and without server_idle_timeout"
repeats = 1

[database]
max_connections = 60

[load]
think_time = ["0ms", "20ms"]
endpoints = { read = 1.0 }
stages = [
  { duration = "2s", users = 8, spawn_rate = 50 },
  { duration = "5s", users = 0, spawn_rate = 50 },
]

[pooler.pgbouncer]
pool_size = 10

[check]
min_coverage = 0.5    # a loaded CI machine may sample less often; the quiet stage is what counts

[[variants]]
name = "default"
target = "persistent"
pooler = "pgbouncer"
target_overrides = { pool_min = 0, pool_max = 8 }

[[variants]]
name = "timeout"
target = "persistent"
pooler = "pgbouncer"
target_overrides = { pool_min = 0, pool_max = 8 }
pooler_overrides = { server_idle_timeout = "1s", client_idle_timeout = "1s" }
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_complete(tmp_path_factory.mktemp("idle"), SCENARIO)


def connections_when_quiet(run_dir: Path, variant: str) -> int:
    """Server connections open 3 to 4 s into the quiet stage (no request since the burst)."""
    db = pd.read_parquet(run_dir / variant / "1" / "db.parquet")
    requests = pd.read_parquet(run_dir / variant / "1" / "requests.parquet")
    last = float((requests["t"] + requests["latency_ms"] / 1000.0).max())
    quiet = db[(db["t"] > last + 3.0) & (db["t"] <= last + 4.0)]
    assert len(quiet) > 0
    return int(quiet["total"].max())


def test_server_idle_timeout_closes_what_a_burst_left_open(run_dir: Path) -> None:
    assert read_json(run_dir / "summary.json")["variants"]["timeout"]["status"] == "complete"
    assert connections_when_quiet(run_dir, "default") > 0
    assert connections_when_quiet(run_dir, "timeout") == 0
