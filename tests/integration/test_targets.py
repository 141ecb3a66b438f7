"""The persistent target against a real PostgreSQL (and PgBouncer in transaction mode)."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.runtime.ports import free_port
from harness.runtime.process import ManagedProcess, PgBouncer, PostgresCluster
from tests.integration.pipeline_helpers import wait_until

pytestmark = pytest.mark.integration


def call(url: str, method: str = "GET", timeout: float = 30.0) -> tuple[int, dict[str, Any]]:
    """One HTTP request; (status, JSON body)."""
    data = b"payload" if method == "POST" else None
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def call_many(url: str, n: int, workers: int) -> list[tuple[int, dict[str, Any]]]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda _: call(url), range(n)))


@contextmanager
def persistent(tmp: Path, dsn: str, **env: str) -> Iterator[str]:
    port = free_port()
    full_env = {
        "PATH": "/usr/bin:/bin",
        "PGSTAMPEDE_DSN": dsn,
        "PGSTAMPEDE_POOL_MIN": "1",
        "PGSTAMPEDE_POOL_MAX": "5",
        "PGSTAMPEDE_ACQUIRE_TIMEOUT": "10",
        "PGSTAMPEDE_BACKGROUND_DELAY_MS": "300",
        "PGSTAMPEDE_APP_NAME": "pgstampede-persistent",
        **env,
    }
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "targets.persistent.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]
    url = f"http://127.0.0.1:{port}"
    with ManagedProcess(
        name="target",
        argv=argv,
        env=full_env,
        log_path=tmp / "target.log",
        cwd=Path(__file__).resolve().parents[2],
        ready_url=f"{url}/health",
    ):
        yield url


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    tmp = tmp_path_factory.mktemp("pg")
    with PostgresCluster(workdir=tmp, max_connections=20, log_path=tmp / "postgres.log") as pg:
        yield pg


def test_every_endpoint_answers(cluster: PostgresCluster, tmp_path: Path) -> None:
    with persistent(tmp_path, cluster.app_dsn) as url:
        status, body = call(f"{url}/health")
        assert status == 200 and body["ok"] is True and body["instance"].isdigit()
        status, body = call(f"{url}/read")
        assert status == 200 and 1 <= body["id"] <= 10_000 and body["name"] == f"item-{body['id']}"
        status, body = call(f"{url}/write", "POST")
        assert status == 200 and body["id"] >= 1
        status, body = call(f"{url}/slow?ms=50")
        assert status == 200 and body["slept_ms"] == 50
        counters = [call(f"{url}/counter")[1]["counter"] for _ in range(3)]
        assert counters == [counters[0], counters[0] + 1, counters[0] + 2]
        assert call(f"{url}/slow?ms=x")[0] == 400
        assert call(f"{url}/nope")[0] == 404
        status, body = call(f"{url}/background", "POST")
        assert status == 200
        job = body["job"]
        assert wait_job_completed(cluster.monitor_dsn, job, timeout_s=20.0)
    with psycopg.connect(cluster.monitor_dsn) as conn:
        row = conn.execute("SELECT source, payload FROM writes ORDER BY id DESC LIMIT 1").fetchone()
        assert row is not None and row[1] == "payload"
        delay = conn.execute(
            "SELECT extract(epoch FROM due_at - scheduled_at) FROM background_jobs WHERE id = %s",
            (job,),
        ).fetchone()
        assert delay is not None and abs(float(delay[0]) - 0.3) < 0.01


def wait_job_completed(dsn: str, job: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT completed_at IS NOT NULL FROM background_jobs WHERE id = %s", (job,)
            ).fetchone()
            if row is not None and row[0]:
                return True
            time.sleep(0.1)
    return False


def test_pool_larger_than_max_connections_gets_503(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    with persistent(tmp_path, cluster.app_dsn, PGSTAMPEDE_POOL_MAX="40") as url:
        results = call_many(f"{url}/slow?ms=400", n=120, workers=40)
    kinds = Counter(body.get("error", {}).get("kind", "") for _, body in results)
    statuses = {status for status, body in results if "error" in body}
    assert kinds["db_too_many_connections"] > 0, kinds
    assert kinds[""] > 0, kinds
    assert statuses == {503}
    refused = [b for _, b in results if b.get("error", {}).get("kind") == "db_too_many_connections"]
    assert refused[0]["error"]["sqlstate"] == "53300"


def test_starts_when_database_refuses_its_pool(cluster: PostgresCluster, tmp_path: Path) -> None:
    """All slots taken at start: the app still starts, answers 503, and recovers."""
    hogs: list[psycopg.Connection[Any]] = []
    try:
        while True:
            hogs.append(psycopg.connect(cluster.app_dsn, autocommit=True))
    except psycopg.OperationalError as exc:
        assert "remaining connection slots" in str(exc) or "too many clients" in str(exc)
    with persistent(
        tmp_path, cluster.app_dsn, PGSTAMPEDE_POOL_MIN="2", PGSTAMPEDE_ACQUIRE_TIMEOUT="3"
    ) as url:
        assert call(f"{url}/health")[0] == 200
        status, body = call(f"{url}/read")
        assert (status, body["error"]["kind"]) == (503, "db_too_many_connections")
        for conn in hogs:
            conn.close()
        hogs.clear()
        # psycopg's close() does not wait for the server's backends to exit: the slots free
        # within moments, and the next request after that succeeds
        assert wait_until(lambda: call(f"{url}/read")[0] == 200, 10.0)
    for conn in hogs:
        conn.close()


@pytest.mark.parametrize(("cache", "expect_errors"), [("", True), ("0", False)])
def test_pgbouncer_transaction_mode_statement_cache(
    cluster: PostgresCluster, tmp_path: Path, cache: str, expect_errors: bool
) -> None:
    with (
        PgBouncer(
            workdir=tmp_path,
            upstream_port=cluster.port,
            log_path=tmp_path / "pgb.log",
            pool_mode="transaction",
            pool_size=3,
        ) as pgb,
        persistent(
            tmp_path, pgb.app_dsn, PGSTAMPEDE_POOL_MAX="10", PGSTAMPEDE_STATEMENT_CACHE_SIZE=cache
        ) as url,
    ):
        results = call_many(f"{url}/read", n=300, workers=20)
    kinds = Counter(body.get("error", {}).get("kind", "") for _, body in results)
    if expect_errors:
        assert kinds["db_other"] > 0, kinds
        assert {s for s, b in results if "error" in b} == {500}
        assert set(kinds) <= {"", "db_other"}, kinds
    else:
        assert kinds == Counter({"": 300}), kinds
