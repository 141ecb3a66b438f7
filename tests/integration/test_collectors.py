"""Collector truth: the collectors against a real PostgreSQL, PgBouncer and real processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pandas as pd
import pytest

from harness.collect.base import Sampler
from harness.collect.host import HostCollector
from harness.collect.pg_activity import PgActivityCollector
from harness.collect.pg_log import PgLogCollector
from harness.collect.pgbouncer import PgBouncerCollector
from harness.runtime.process import PgBouncer, PostgresCluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    tmp = tmp_path_factory.mktemp("pg")
    with PostgresCluster(workdir=tmp, max_connections=40, log_path=tmp / "postgres.log") as pg:
        yield pg


async def wait_for_samples(sampler: Sampler, frame: str, since: float, n: int) -> pd.DataFrame:
    """Rows of ``frame`` sampled after ``since``, once there are at least ``n`` (60 s max)."""
    deadline = time.monotonic() + 60.0
    while True:
        rows = sampler.frames()[frame]
        rows = rows[rows["t"] > since]
        if rows["t"].nunique() >= n or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


def test_client_backend_count_equals_open_connections(cluster: PostgresCluster) -> None:
    async def scenario() -> list[tuple[int, pd.DataFrame, pd.DataFrame]]:
        seen = []
        collector = PgActivityCollector(cluster.monitor_dsn)
        async with Sampler([collector], interval_s=0.05) as sampler:
            for k in (0, 3, 17, 1):
                conns = [await asyncpg.connect(cluster.app_dsn) for _ in range(k)]
                opened = time.time()
                db = await wait_for_samples(sampler, "db", opened, 5)
                groups = sampler.frames()["db_groups"]
                groups = groups[groups["t"].isin(db["t"])]
                seen.append((k, db, groups))
                for conn in conns:
                    await conn.close()
                await asyncio.sleep(0.3)  # let the backends exit before the next K
            assert sampler.health()["pg_activity"].failures == 0
        return seen

    for k, db, groups in asyncio.run(scenario()):
        assert len(db) >= 5
        assert db["total"].tolist() == [k] * len(db), f"K={k}"
        assert db["idle"].tolist() == [k] * len(db)
        assert (db["active"] == 0).all() and (db["idle_in_transaction"] == 0).all()
        if k:
            per_sample = groups.groupby("t")["count"].sum()
            assert per_sample.tolist() == [k] * len(db)
            assert set(groups["usename"]) == {"app"}
            assert set(groups["state"]) == {"idle"}
        else:
            assert groups.empty


def test_active_and_idle_in_transaction_states(cluster: PostgresCluster) -> None:
    async def scenario() -> dict[str, float]:
        collector = PgActivityCollector(cluster.monitor_dsn)
        busy = await asyncpg.connect(cluster.app_dsn)
        in_tx = await asyncpg.connect(cluster.app_dsn)
        await collector.start()
        try:
            await in_tx.execute("BEGIN")
            sleeper = asyncio.create_task(busy.execute("SELECT pg_sleep(2)"))
            await asyncio.sleep(0.5)
            await collector.sample(time.time())
            latest = collector.latest()
            await sleeper
            await in_tx.execute("ROLLBACK")
        finally:
            await collector.stop()
            await busy.close()
            await in_tx.close()
        return latest

    latest = asyncio.run(scenario())
    assert latest["db.total"] == 2
    assert latest["db.active"] == 1
    assert latest["db.idle_in_transaction"] == 1


def test_pgbouncer_collector_sees_clients_waiting(cluster: PostgresCluster, tmp_path: Path) -> None:
    async def scenario(pb: PgBouncer) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
        collector = PgBouncerCollector(pb.admin_dsn)
        async with Sampler([collector], interval_s=0.05) as sampler:
            clients = [await asyncpg.connect(pb.app_dsn, statement_cache_size=0) for _ in range(6)]
            await asyncio.gather(*(c.execute("SELECT pg_sleep(1.0)") for c in clients))
            latest = sampler.latest()
            for c in clients:
                await c.close()
            assert sampler.health()["pgbouncer"].failures == 0
        frames = sampler.frames()
        return frames["pooler"], frames["pooler_stats"], latest

    with PgBouncer(
        workdir=tmp_path, upstream_port=cluster.port, log_path=tmp_path / "pgbouncer.log",
        pool_mode="transaction", pool_size=2,
    ) as pb:  # fmt: skip
        pooler, stats, latest = asyncio.run(scenario(pb))
    assert not pooler.empty and not stats.empty
    assert "pgbouncer" not in set(pooler["database"]) | set(stats["database"])
    app = pooler[pooler["database"] == "app"]
    assert app["cl_waiting"].max() > 0
    assert app["sv_active"].max() == 2  # never more server connections than pool_size
    assert app["maxwait_ms"].max() > 100.0  # some client waited at least one pg_sleep
    assert "pooler.cl_waiting" in latest


def test_pg_log_counts_every_refused_connection(tmp_path: Path) -> None:
    refused_attempts = 7

    async def take_all(dsn: str, held: list[asyncpg.Connection]) -> int:
        """Connect until refused; the refusal counts."""
        while True:
            try:
                held.append(await asyncpg.connect(dsn))
            except asyncpg.TooManyConnectionsError:
                return 1

    async def refuse(dsn: str, times: int) -> int:
        for _ in range(times):
            with pytest.raises(asyncpg.TooManyConnectionsError):
                await asyncpg.connect(dsn)
        return times

    async def exhaust(app_dsn: str, monitor_dsn: str) -> tuple[int, int]:
        """Fill the app slots, then the superuser-reserved ones: both 53300 messages."""
        held: list[asyncpg.Connection] = []
        try:
            refused = await take_all(app_dsn, held)  # "remaining connection slots are reserved"
            refused += await refuse(app_dsn, refused_attempts - 1)
            refused += await take_all(monitor_dsn, held)  # "sorry, too many clients already"
            refused += await refuse(monitor_dsn, 2)
        finally:
            for conn in held:
                await conn.close()
        return refused, len(held)

    async def collect(log: Path, since: float, refused: int, held: int) -> PgLogCollector:
        collector = PgLogCollector(log, since_t=since)
        async with Sampler([collector], interval_s=0.05) as sampler:
            deadline = time.monotonic() + 30.0
            while (
                sampler.latest().get("pglog.refused", 0) < refused
                or sampler.latest().get("pglog.disconnected", 0) < held
            ):
                assert time.monotonic() < deadline, "refusals never reached the log"
                await asyncio.sleep(0.05)
        return collector

    log = tmp_path / "postgres.log"
    with PostgresCluster(workdir=tmp_path, max_connections=5, log_path=log) as pg:
        since = time.time()
        refused, held = asyncio.run(exhaust(pg.app_dsn, pg.monitor_dsn))
        collector = asyncio.run(collect(log, since, refused, held))
    frame = collector.frames()["pglog"]
    assert refused == refused_attempts + 3 and held == 5
    # only backends whose connection was received in the window (not the setup's last one)
    ours = frame[frame["pid"].isin(frame.loc[frame["event"] == "received", "pid"])]
    events = ours["event"].value_counts().to_dict()
    assert events["refused"] == refused
    assert events["authorized"] == held
    assert events["received"] == held + refused
    assert events["disconnected"] == held
    assert set(ours.loc[ours["event"] == "authorized", "user"]) == {"app", "pgstampede_monitor"}
    messages = ours.loc[ours["event"] == "refused", "message"]
    assert messages.str.startswith("remaining connection slots are reserved").sum() == 7
    assert (messages == "sorry, too many clients already").sum() == 3
    assert (frame["t"] >= since - 1).all()


BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"

SPAWNER = """
import resource, subprocess, sys, time
for _ in range({n}):
    subprocess.run([sys.executable, "-c", {burn!r}], check=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(usage.ru_utime + usage.ru_stime, flush=True)
time.sleep(30)
"""


def test_host_collector_counts_children_that_come_and_go(tmp_path: Path) -> None:
    """A parent runs short CPU-burning children one after another: their CPU is counted."""
    argv = [sys.executable, "-c", SPAWNER.format(n=8, burn=BURN.format(s=0.15))]
    # the idle process's own start-up CPU must be over before the collector's first sample
    idle = subprocess.Popen([sys.executable, "-c",
                             "import time; print('up', flush=True); time.sleep(30)"],
                            stdout=subprocess.PIPE, text=True)
    assert idle.stdout is not None and idle.stdout.readline() == "up\n"
    spawner = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)

    async def scenario() -> tuple[pd.DataFrame, float]:
        collector = HostCollector(
            {"spawner": lambda: [spawner.pid], "idle": lambda: [idle.pid]}, interval_s=0.2
        )
        async with Sampler([collector], interval_s=0.05):
            assert spawner.stdout is not None
            children_cpu = float(await asyncio.to_thread(spawner.stdout.readline))
            await asyncio.sleep(0.6)  # a few samples after the last child was reaped
        return collector.frames()["host"], children_cpu

    try:
        host, children_cpu = asyncio.run(scenario())
    finally:
        for proc in (spawner, idle):
            proc.kill()
            proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()
    spawn = host[host["role"] == "spawner"].sort_values("t")
    dt = spawn["t"].diff().fillna(0.2)
    measured_cpu_s = float((spawn["cpu_percent"] / 100.0 * dt).sum())
    assert children_cpu > 1.0
    assert measured_cpu_s == pytest.approx(children_cpu, rel=0.3)
    assert spawn["processes"].max() >= 2  # the parent and a live child were seen together
    idle_rows = host[host["role"] == "idle"]
    assert idle_rows["cpu_percent"].max() < 20.0
    assert (idle_rows["processes"] == 1).all()
    assert (idle_rows["rss_mb"] > 1.0).all()
