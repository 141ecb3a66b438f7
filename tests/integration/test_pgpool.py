"""pgpool-II against a real PostgreSQL: more clients than ``num_init_children`` wait in the
listen backlog, the server never holds more than ``num_init_children × max_pool``
connections from it, and PostgreSQL refuses nobody."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from harness.collect.pgpool import PgpoolCollector
from harness.runtime.pgpool import Pgpool, PgpoolSettings
from harness.runtime.postgres import PostgresCluster
from tests.integration.pipeline_helpers import wait_until

pytestmark = pytest.mark.integration

CHILDREN, MAX_POOL, CLIENTS = 3, 2, 8
BACKENDS_SQL = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' " \
               "AND usename = 'app'"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    tmp = tmp_path_factory.mktemp("pg")
    with PostgresCluster(workdir=tmp, max_connections=40, log_path=tmp / "postgres.log") as pg:
        yield pg


@dataclass
class Clients:
    """CLIENTS threads: connect through pgpool, query, hold the session until released."""

    dsn: str
    release: threading.Event = field(default_factory=threading.Event)
    connected_before_release: list[int] = field(default_factory=list)
    connect_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def one(self, i: int) -> None:
        began = time.monotonic()
        try:
            with psycopg.connect(self.dsn, connect_timeout=120) as conn:
                conn.execute("SELECT 1")
                with self.lock:
                    self.connect_s.append(time.monotonic() - began)
                    if not self.release.is_set():
                        self.connected_before_release.append(i)
                self.release.wait(120)
        except psycopg.Error as exc:
            with self.lock:
                self.errors.append(str(exc))

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.one, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        return threads


async def sample_until_queued(collector: PgpoolCollector, monitor_dsn: str) -> list[int]:
    """Sample until every child serves a client and the rest wait (120 s at most); the
    server's app backends at each sample."""
    backends = []
    deadline = time.monotonic() + 120.0
    async with await psycopg.AsyncConnection.connect(monitor_dsn, autocommit=True) as mon:
        while time.monotonic() < deadline:
            await collector.sample(time.time())
            row = await (await mon.execute(BACKENDS_SQL)).fetchone()
            backends.append(int(row[0]) if row else -1)
            latest = collector.latest()
            if latest["pooler.cl_active"] == CHILDREN and \
                    latest["pooler.cl_waiting"] == CLIENTS - CHILDREN:
                break
            await asyncio.sleep(0.05)
    return backends


def app_backends(monitor_dsn: str) -> int:
    with psycopg.connect(monitor_dsn, autocommit=True) as mon:
        row = mon.execute(BACKENDS_SQL).fetchone()
    return int(row[0]) if row else -1


def test_clients_beyond_num_init_children_wait_and_postgres_refuses_none(
        cluster: PostgresCluster, tmp_path: Path) -> None:
    settings = PgpoolSettings(num_init_children=CHILDREN, max_pool=MAX_POOL)
    with Pgpool(upstream_port=cluster.port, log_path=tmp_path / "pgpool.log",
                settings=settings, workdir=tmp_path) as pool:
        collector = PgpoolCollector(pool.pcp, pool.port)
        asyncio.run(collector.start())
        clients = Clients(pool.app_dsn)
        threads = clients.start()
        try:
            backends = asyncio.run(sample_until_queued(collector, cluster.monitor_dsn))
            # a child is busy from accept(): let its client finish logging in and querying,
            # then give a client wrongly admitted beyond the children time to show
            wait_until(lambda: len(clients.connected_before_release) >= CHILDREN, 30.0)
            time.sleep(0.5)
            backends.append(app_backends(cluster.monitor_dsn))
        finally:
            clients.release.set()
            for t in threads:
                t.join(180)
        frame = collector.frames()["pooler"]
        assert pool.version.startswith("4.")
    assert clients.errors == []
    assert len(clients.connect_s) == CLIENTS  # everyone got in, eventually
    assert len(clients.connected_before_release) == CHILDREN  # the rest waited for a child
    assert frame["cl_active"].max() == CHILDREN
    assert frame["cl_waiting"].max() == CLIENTS - CHILDREN  # the listen backlog, measured
    assert frame["maxwait_ms"].isna().all()  # pgpool does not know a client's wait
    assert 0 < max(backends) <= CHILDREN * MAX_POOL
    assert frame["sv_active"].max() + frame["sv_idle"].max() <= CHILDREN * MAX_POOL
    log = cluster.log_path.read_text()
    assert "too many clients" not in log and "remaining connection slots" not in log
