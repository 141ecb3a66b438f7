"""Lifecycle of the serverless platform emulator: real gateway, instances and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from harness.platform.config import PlatformConfig
from harness.platform.pidfile import PIDFILE_NAME, read_pids
from harness.runtime.ports import free_port
from harness.runtime.process import ManagedProcess, PgBouncer, PostgresCluster
from tests.integration.pipeline_helpers import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def call(url: str, method: str = "GET", timeout: float = 60.0) -> tuple[int, dict[str, Any]]:
    data = b"x" if method == "POST" else None
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def call_many(url: str, n: int) -> list[tuple[int, dict[str, Any]]]:
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda _: call(url), range(n)))


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class Gateway:
    url: str
    workdir: Path
    app_name: str
    monitor_dsn: str
    proc: ManagedProcess

    def stats(self) -> dict[str, Any]:
        return call(f"{self.url}/__platform/stats")[1]

    def instances(self) -> list[dict[str, Any]]:
        data = call(f"{self.url}/__platform/instances")[1]
        assert isinstance(data, list)
        return data

    def backends(self) -> list[tuple[int, str]]:
        """(pid, state) of the client backends opened by this gateway's instances."""
        with psycopg.connect(self.monitor_dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid, state FROM pg_stat_activity WHERE application_name = %s",
                (self.app_name,),
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    tmp = tmp_path_factory.mktemp("pg")
    with PostgresCluster(workdir=tmp, max_connections=60, log_path=tmp / "postgres.log") as pg:
        yield pg


@dataclass(frozen=True)
class DatabaseView:
    """Where instances connect (app_dsn) and where the test looks (monitor_dsn)."""

    app_dsn: str
    monitor_dsn: str


def cluster_view(cluster: PostgresCluster) -> DatabaseView:
    return DatabaseView(cluster.app_dsn, cluster.monitor_dsn)


@contextmanager
def gateway(cluster: PostgresCluster | DatabaseView, tmp: Path, **knobs: Any) -> Iterator[Gateway]:
    app_name = f"gw-{tmp.name}"[:60]
    config = PlatformConfig(dsn=cluster.app_dsn, app_name=app_name, **knobs)
    (tmp / "platform.json").write_text(config.to_json())
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "harness.platform.gateway",
        "--config",
        str(tmp / "platform.json"),
        "--port",
        str(port),
        "--workdir",
        str(tmp / "gw"),
    ]
    url = f"http://127.0.0.1:{port}"
    with ManagedProcess(
        name="gateway",
        argv=argv,
        log_path=tmp / "gateway.log",
        cwd=REPO,
        ready_url=f"{url}/__platform/health",
    ) as proc:
        yield Gateway(url, tmp / "gw", app_name, cluster.monitor_dsn, proc)


def test_first_request_cold_starts_one_instance_and_the_next_reuses_it(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    with gateway(cluster, tmp_path) as gw:
        assert gw.stats()["cold_starts"] == 0
        status, first = call(f"{gw.url}/read")
        assert status == 200
        stats = gw.stats()
        assert stats["cold_starts"] == 1 and len(stats["cold_start_events"]) == 1
        assert stats["cold_start_events"][0]["instance"] == first["instance"]
        assert stats["cold_start_events"][0]["duration_ms"] > 0
        status, second = call(f"{gw.url}/read")
        assert status == 200 and second["instance"] == first["instance"]
        assert gw.stats()["cold_starts"] == 1
        assert call(f"{gw.url}/__platform/stats?since=1")[1]["cold_start_events"] == []


def test_concurrent_requests_start_one_instance_each(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    with gateway(cluster, tmp_path) as gw:
        results = call_many(f"{gw.url}/slow?ms=1500", 6)
        assert [s for s, _ in results] == [200] * 6
        assert len({body["instance"] for _, body in results}) == 6
        assert gw.stats()["cold_starts"] == 6


def test_instance_concurrency_shares_one_instance(cluster: PostgresCluster, tmp_path: Path) -> None:
    with gateway(cluster, tmp_path, instance_concurrency=5) as gw:
        call(f"{gw.url}/health")
        results = call_many(f"{gw.url}/slow?ms=300", 5)
        assert [s for s, _ in results] == [200] * 5
        assert len({body["instance"] for _, body in results}) == 1
        assert gw.stats()["cold_starts"] == 1


def test_frozen_instance_is_stopped_and_its_connection_idle(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    with gateway(cluster, tmp_path) as gw:
        assert call(f"{gw.url}/read")[0] == 200
        (inst,) = gw.instances()
        assert inst["state"] == "frozen"
        assert wait_until(lambda: psutil.Process(inst["pid"]).status() == psutil.STATUS_STOPPED)
        assert wait_until(lambda: [s for _, s in gw.backends()] == ["idle"])
        assert gw.stats()["frozen"] == 1
        status, body = call(f"{gw.url}/read")  # thawed for its next request
        assert status == 200 and body["instance"] == inst["id"]
        assert [s for _, s in gw.backends()] == ["idle"]


def test_reap_kill_removes_the_instance_and_its_backend(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    with gateway(cluster, tmp_path, idle_timeout_s=1.0, reap="kill") as gw:
        assert call(f"{gw.url}/read")[0] == 200
        (inst,) = gw.instances()
        assert len(gw.backends()) == 1
        assert wait_until(lambda: gw.stats()["reaped"] == 1)
        assert gw.instances() == []
        assert wait_until(lambda: not alive(inst["pid"]))
        assert wait_until(lambda: gw.backends() == [])
        assert inst["pid"] not in read_pids(gw.workdir / PIDFILE_NAME)


def test_reap_abandon_leaves_a_zombie_holding_its_backend_until_max_lifetime(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    with gateway(cluster, tmp_path, idle_timeout_s=1.0, reap="abandon", max_lifetime_s=5.0) as gw:
        assert call(f"{gw.url}/read")[0] == 200
        (inst,) = gw.instances()
        assert wait_until(lambda: gw.stats()["zombie"] == 1)
        stats = gw.stats()
        assert (stats["reaped"], stats["instances"]) == (1, 0)
        assert psutil.Process(inst["pid"]).status() == psutil.STATUS_STOPPED
        assert [s for _, s in gw.backends()] == ["idle"]
        status, body = call(f"{gw.url}/read")  # a zombie never serves again: a new cold start
        assert status == 200 and body["instance"] != inst["id"]
        assert len(gw.backends()) == 2
        assert wait_until(lambda: not alive(inst["pid"]), timeout_s=30.0)  # max_lifetime
        assert wait_until(lambda: len(gw.backends()) <= 1)


def test_max_instances_reject_answers_429(cluster: PostgresCluster, tmp_path: Path) -> None:
    with gateway(cluster, tmp_path, max_instances=2, when_full="reject") as gw:
        results = call_many(f"{gw.url}/slow?ms=2000", 5)
        statuses = sorted(s for s, _ in results)
        assert statuses == [200, 200, 429, 429, 429]
        assert {b["error"]["kind"] for s, b in results if s == 429} == {"http_429"}
        stats = gw.stats()
        assert (stats["throttled"], stats["cold_starts"]) == (3, 2)


def test_max_instances_queue_waits(cluster: PostgresCluster, tmp_path: Path) -> None:
    with gateway(cluster, tmp_path, max_instances=1, when_full="queue") as gw:
        results = call_many(f"{gw.url}/slow?ms=300", 4)
        assert [s for s, _ in results] == [200] * 4
        stats = gw.stats()
        assert (stats["cold_starts"], stats["throttled"], stats["queue"]) == (1, 0, 0)


def test_scale_rate_caps_cold_starts_per_second(cluster: PostgresCluster, tmp_path: Path) -> None:
    rate, n = 4.0, 12
    with gateway(cluster, tmp_path, scale_rate=rate) as gw:
        results = call_many(f"{gw.url}/slow?ms=3500", n)
        assert [s for s, _ in results] == [200] * n
        starts = sorted(e["t"] for e in gw.stats()["cold_start_events"])
    assert len(starts) == n
    burst = rate  # the bucket holds one second's worth
    for k, t in enumerate(starts):
        earliest = max(0.0, (k + 1 - burst) / rate)
        assert t - starts[0] >= earliest - 0.15, (k, t - starts[0])
    window_max = max(sum(1 for u in starts if s <= u < s + 1.0) for s in starts)
    assert window_max <= burst + rate


def job_completed_at(dsn: str, job: int) -> float | None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM completed_at - due_at) FROM background_jobs WHERE id = %s",
            (job,),
        ).fetchone()
    assert row is not None
    return None if row[0] is None else float(row[0])


def test_background_work_is_lost_when_its_instance_is_reaped(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    with gateway(
        cluster, tmp_path, idle_timeout_s=0.5, reap="kill", background_delay_ms=2000
    ) as gw:
        status, body = call(f"{gw.url}/background", "POST")
        assert status == 200
        assert wait_until(lambda: gw.stats()["reaped"] == 1)
        time.sleep(3.0)  # past the job's due time
        assert job_completed_at(cluster.monitor_dsn, body["job"]) is None


def test_background_work_is_delayed_while_frozen(cluster: PostgresCluster, tmp_path: Path) -> None:
    with gateway(cluster, tmp_path, idle_timeout_s=60.0, background_delay_ms=300) as gw:
        status, body = call(f"{gw.url}/background", "POST")
        assert status == 200
        time.sleep(1.5)
        assert job_completed_at(cluster.monitor_dsn, body["job"]) is None  # frozen
        # Each request thaws the instance for a moment: the overdue work progresses only then.
        late = None
        deadline = time.monotonic() + 20.0
        while late is None and time.monotonic() < deadline:
            assert call(f"{gw.url}/health")[0] == 200
            late = job_completed_at(cluster.monitor_dsn, body["job"])
        assert late is not None and late >= 1.0


def test_without_freeze_background_work_completes(cluster: PostgresCluster, tmp_path: Path) -> None:
    with gateway(cluster, tmp_path, freeze=False, background_delay_ms=200) as gw:
        status, body = call(f"{gw.url}/background", "POST")
        assert status == 200
        assert wait_until(lambda: job_completed_at(cluster.monitor_dsn, body["job"]) is not None)
        assert gw.instances()[0]["state"] == "warm"


def test_counter_is_per_instance(cluster: PostgresCluster, tmp_path: Path) -> None:
    with gateway(cluster, tmp_path) as gw:
        results = call_many(f"{gw.url}/slow?ms=800", 3)  # three instances
        assert len({b["instance"] for _, b in results}) == 3
        counters = [call(f"{gw.url}/counter")[1]["counter"] for _ in range(3)]
        assert counters == [1, 2, 3]  # one warm instance reused, its own counter


def test_pool_db_client_opens_pool_max_connections_per_instance(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    with gateway(cluster, tmp_path, db_client="pool", pool_max=3) as gw:
        call_many(f"{gw.url}/slow?ms=800", 2)
        assert gw.stats()["cold_starts"] == 2
        assert len(gw.backends()) == 6


def test_exec_cold_start_runs_a_fresh_interpreter(cluster: PostgresCluster, tmp_path: Path) -> None:
    with gateway(cluster, tmp_path, cold_start="exec", init_delay_s=0.2) as gw:
        status, body = call(f"{gw.url}/read")
        assert status == 200
        (inst,) = gw.instances()
        cmdline = psutil.Process(inst["pid"]).cmdline()
        assert "harness.platform.instance" in cmdline
        assert gw.stats()["cold_start_events"][0]["duration_ms"] >= 200.0


def _instance_pids(gw: Gateway) -> list[int]:
    pids = read_pids(gw.workdir / PIDFILE_NAME)
    assert len(pids) >= 4  # the template and three instances
    assert all(alive(pid) for pid in pids)
    return pids


def test_no_instance_survives_sigterm(cluster: PostgresCluster, tmp_path: Path) -> None:
    with gateway(cluster, tmp_path, reap="abandon", idle_timeout_s=0.5) as gw:
        call_many(f"{gw.url}/slow?ms=500", 3)
        assert wait_until(lambda: gw.stats()["zombie"] == 3)
        pids = _instance_pids(gw)
    assert wait_until(lambda: not any(alive(pid) for pid in pids), timeout_s=10.0)
    assert read_pids(gw.workdir / PIDFILE_NAME) == []
    assert json.loads((gw.workdir / "stats.json").read_text())["cold_starts"] == 3


def test_no_instance_survives_sigkill_of_the_gateway(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    with gateway(cluster, tmp_path) as gw:
        call_many(f"{gw.url}/slow?ms=500", 3)
        pids = _instance_pids(gw)
        os.kill(gw.proc.pid, signal.SIGKILL)
        assert wait_until(lambda: not any(alive(pid) for pid in pids), timeout_s=10.0)


def test_instances_beyond_max_connections_are_refused(tmp_path: Path) -> None:
    pg = PostgresCluster(workdir=tmp_path, max_connections=8, log_path=tmp_path / "pg.log")
    with pg, gateway(pg, tmp_path) as gw:
        results = call_many(f"{gw.url}/slow?ms=1500", 10)
    kinds = [b.get("error", {}).get("kind", "") for _, b in results]
    assert kinds.count("") == 5  # 8 slots - 3 reserved for superusers
    assert kinds.count("db_too_many_connections") == 5
    assert {s for s, b in results if "error" in b} == {503}


@pytest.mark.parametrize(("cache", "errors"), [("", True), ("0", False)])
def test_statement_cache_behind_pgbouncer_transaction_mode(
    cluster: PostgresCluster, tmp_path: Path, cache: str, errors: bool
) -> None:
    with PgBouncer(
        workdir=tmp_path,
        upstream_port=cluster.port,
        log_path=tmp_path / "pgb.log",
        pool_mode="transaction",
        pool_size=2,
    ) as pgb:
        via_pgbouncer = dataclasses.replace(cluster_view(cluster), app_dsn=pgb.app_dsn)
        with gateway(via_pgbouncer, tmp_path, statement_cache_size=cache) as gw:
            results = []
            for _ in range(4):
                results += call_many(f"{gw.url}/read", 8)
    kinds = {b.get("error", {}).get("kind", "") for _, b in results}
    assert kinds == ({"", "db_other"} if errors else {""}), kinds
