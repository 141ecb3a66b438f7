"""The headline, through the whole pipeline: serverless instances exhaust PostgreSQL;
PgBouncer in transaction mode keeps the server within its pool."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import (
    marked_processes,
    metrics,
    new_mark,
    run_cli,
    temp_dirs,
    write_scenario,
)

pytestmark = [pytest.mark.integration, pytest.mark.fast]  # in make test-fast: end to end

HEADLINE = """
name = "headline"
description = "serverless direct vs through PgBouncer"
[database]
max_connections = 20
[load]
endpoints = { read = 0.5, slow = 0.5 }
slow_ms = 50
stages = [{ duration = "3s", users = 10, spawn_rate = 40 },
          { duration = "7s", users = 40, spawn_rate = 40 }]
[target.serverless]
idle_timeout = "60s"
[pooler.pgbouncer]
pool_size = 10
[[variants]]
name = "serverless"
target = "serverless"
[[variants]]
name = "serverless+pgbouncer"
target = "serverless"
pooler = "pgbouncer"
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("headline")
    mark = new_mark()
    out = folder / "run"
    result = run_cli("run", str(write_scenario(folder, HEADLINE)), "--out", str(out), "--quiet",
                     mark=mark)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert marked_processes(mark) == set(), "an instance, gateway or service survived the run"
    assert temp_dirs(mark) == set()
    return out


def test_serverless_direct_is_refused(run_dir: Path) -> None:
    m = metrics(run_dir, "serverless")
    assert m["errors.db_too_many_connections"] > 0
    assert m["db.refused"] > 0
    assert m["platform.instances.peak"] > 17  # more instances than non-superuser slots
    assert m["platform.cold_starts"] >= m["platform.instances.peak"]
    assert m["platform.cold_start_ms.p50"] > 0


def test_serverless_through_pgbouncer_stays_within_the_pool(run_dir: Path) -> None:
    m = metrics(run_dir, "serverless+pgbouncer")
    assert m["errors.db_too_many_connections"] == 0
    assert m["db.refused"] == 0
    assert m["db.connections.peak"] <= 10 + 1  # pool_size plus PgBouncer's own
    assert m["platform.instances.peak"] > 17
    assert m["pooler.cl_waiting.peak"] is not None
