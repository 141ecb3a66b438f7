"""The session-state leak probe (/set_state, /read_state) against a real PostgreSQL, through
PgBouncer in transaction and session mode and directly: a probe value read back by another
request is a leak; transaction pooling leaks, session pooling and direct connections do not."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from harness.results.endpoints import EndpointRequest
from harness.runtime.pgbouncer import PgBouncer
from harness.runtime.postgres import PostgresCluster
from targets.shared.endpoints import Counter, EndpointContext, handle

pytestmark = pytest.mark.integration

CLIENTS, ROUNDS = 16, 10


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    tmp = tmp_path_factory.mktemp("pg")
    with PostgresCluster(workdir=tmp, max_connections=60, log_path=tmp / "postgres.log") as pg:
        yield pg


class PoolDatabase:
    """The persistent target's way: one asyncpg pool, a connection per unit of work."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    def connection(self) -> AbstractAsyncContextManager[Any]:
        acquired: AbstractAsyncContextManager[Any] = self.pool.acquire(timeout=60)
        return acquired


async def client(ctx: EndpointContext) -> tuple[int, int]:
    """One client: set its state, then read what a fresh request finds, ROUNDS times."""
    leaks = reads = 0
    for _ in range(ROUNDS):
        put = await handle(EndpointRequest("POST", "/set_state"), ctx)
        got = await handle(EndpointRequest("GET", "/read_state"), ctx)
        assert (put.status, got.status) == (200, 200), (put.body, got.body)
        leaks += int(got.body["counter"])  # type: ignore[call-overload]
        reads += 1
    return leaks, reads


async def probe(dsn: str, until_leak: bool) -> tuple[int, int]:
    """Leaks and reads of CLIENTS concurrent clients; with ``until_leak``, repeat (120 s at
    most) until one leak is seen."""
    leaks = reads = 0
    deadline = time.monotonic() + 120.0
    async with asyncpg.create_pool(dsn, min_size=CLIENTS, max_size=CLIENTS,
                                   statement_cache_size=0) as pool:
        ctx = EndpointContext(instance="probe", db=PoolDatabase(pool), counter=Counter(),
                              background_delay_ms=0)
        while True:
            for found, n in await asyncio.gather(*(client(ctx) for _ in range(CLIENTS))):
                leaks, reads = leaks + found, reads + n
            if not until_leak or leaks or time.monotonic() > deadline:
                return leaks, reads


def pooled(cluster: PostgresCluster, tmp_path: Path, mode: str) -> PgBouncer:
    """Transaction mode shares 3 server connections; session mode needs one per client."""
    size = 3 if mode == "transaction" else CLIENTS
    return PgBouncer(workdir=tmp_path, upstream_port=cluster.port, pool_mode=mode,
                     pool_size=size, log_path=tmp_path / f"pgbouncer-{mode}.log")


def test_transaction_pooling_leaks_session_state(cluster: PostgresCluster,
                                                 tmp_path: Path) -> None:
    with pooled(cluster, tmp_path, "transaction") as pb:
        leaks, reads = asyncio.run(probe(pb.app_dsn, until_leak=True))
    assert leaks > 0, f"no leak in {reads} reads"


@pytest.mark.parametrize("mode", ["session", "direct"])
def test_session_pooling_and_direct_do_not_leak(cluster: PostgresCluster, tmp_path: Path,
                                                mode: str) -> None:
    with contextlib.ExitStack() as stack:
        dsn = cluster.app_dsn if mode == "direct" else \
            stack.enter_context(pooled(cluster, tmp_path, mode)).app_dsn
        leaks, reads = asyncio.run(probe(dsn, until_leak=False))
    assert reads == CLIENTS * ROUNDS
    assert leaks == 0
