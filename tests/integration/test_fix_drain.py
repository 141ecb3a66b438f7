"""The leaked-connection fix as a switch: on_freeze = "drain" closes an instance's idle
connection before it is frozen (also the one that work after a response, /background, opened
again); "keep" leaves it open and idle on the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import metrics, run_complete

pytestmark = pytest.mark.integration

SCENARIO = """
name = "drain"
description = "frozen instances with and without their idle connections"
repeats = 1

[database]
max_connections = 60

[load]
think_time = ["0ms", "50ms"]
endpoints = { read = 0.7, background = 0.3 }
stages = [
  { duration = "2s", users = 6, spawn_rate = 50 },
  { duration = "2s", users = 1, spawn_rate = 50 },
]

[target.serverless]
background_delay = "20ms"
idle_timeout = "60s"
freeze = true

[[variants]]
name = "keep"
target = "serverless"

[[variants]]
name = "drain"
target = "serverless"
target_overrides = { on_freeze = "drain" }
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_complete(tmp_path_factory.mktemp("drain"), SCENARIO)


def test_drain_holds_fewer_idle_connections_than_keep_for_the_same_load(run_dir: Path) -> None:
    keep, drain = metrics(run_dir, "keep"), metrics(run_dir, "drain")
    assert keep["http.failures"] == 0 == drain["http.failures"]
    assert keep["platform.instances.peak"] > 1
    assert drain["db.connections.idle.peak"] < keep["db.connections.idle.peak"]
    assert drain["db.connections.idle.mean"] < keep["db.connections.idle.mean"] / 2
    assert drain["db.connects"] > keep["db.connects"]  # the price: a connect per request


def test_a_pool_is_drained_only_when_none_of_its_connections_is_in_use(
        tmp_path: Path) -> None:
    """Several requests per instance with db_client = "pool": work after one response may
    still hold a connection when another request drains; the pool then stays until the last
    user is done (closing it would wait, then kill that work's query)."""
    import asyncio

    from harness.runtime.process import PostgresCluster
    from targets.serverless.handler import GlobalPool
    from targets.shared.settings import TargetSettings

    async def scenario(dsn: str) -> tuple[bool, bool]:
        pool = GlobalPool(TargetSettings(dsn=dsn, pool_min=1, pool_max=2, ssl="disable"))
        async with pool.connection() as held:  # the work after a response, mid-query
            await held.fetchval("SELECT 1")
            await pool.drain()  # a request answered meanwhile
            kept = pool.pool is not None
        await pool.drain()  # the work ended: nothing in use now
        return kept, pool.pool is None

    with PostgresCluster(workdir=tmp_path, max_connections=20,
                         log_path=tmp_path / "postgres.log") as pg:
        kept, closed = asyncio.run(scenario(pg.app_dsn))
    assert kept and closed
