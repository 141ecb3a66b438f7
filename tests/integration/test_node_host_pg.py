"""The Node host's contract with the platform, against a real PostgreSQL, with the platform's
freeze played by the test: an instance is stopped (SIGSTOP) once its response is in and the
control channel's pending count is 0, as the emulator does.

- waitUntil (the unmodified @vercel/functions) keeps the count above 0 until the email row is
  written: the freeze comes after it;
- the same work without waitUntil is frozen with the instance: it resumes at the thaw, and is
  lost when the frozen instance is killed (reaped);
- attachDatabasePool keeps the function awake until node-postgres' idle timeout closed its
  idle client: frozen with no idle connection, where the pool alone keeps one idle while
  frozen.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.runtime.process import PostgresCluster
from tests.nodehost import RunningHost, built_next_app, node_host, npm_app

pytestmark = pytest.mark.integration

SRC = Path(__file__).parents[1] / "apps" / "node_functions"
EMAIL_DELAY_MS = 1500  # longer than a busy machine takes between a response and the freeze


@pytest.fixture(scope="module")
def app() -> Path:
    return npm_app(SRC)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    tmp = tmp_path_factory.mktemp("pg")
    with PostgresCluster(workdir=tmp, max_connections=20, log_path=tmp / "postgres.log") as pg:
        yield pg


@pytest.fixture(autouse=True)
def schema(cluster: PostgresCluster) -> None:
    with psycopg.connect(cluster.app_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS emails, orders, items, writes")
        conn.execute((SRC / "schema.sql").read_text().encode())


def env(cluster: PostgresCluster, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": cluster.app_dsn, "EMAIL_DELAY_MS": str(EMAIL_DELAY_MS), **extra}


def scalar(cluster: PostgresCluster, sql: str) -> Any:
    with psycopg.connect(cluster.monitor_dsn, autocommit=True) as conn:
        row = conn.execute(sql.encode()).fetchone()
    assert row is not None
    return row[0]


def emails(cluster: PostgresCluster) -> int:
    return int(scalar(cluster, "SELECT count(*) FROM emails"))


def idle_connections(cluster: PostgresCluster) -> int:
    return int(scalar(cluster, "SELECT count(*) FROM pg_stat_activity "
                               "WHERE usename = 'app' AND state = 'idle'"))


def freeze_when_idle(host: RunningHost, timeout: float = 30.0) -> float:
    """The platform's rule: stop the instance once nothing is pending (the response is in);
    the seconds waited for that."""
    began = time.monotonic()
    host.pending_until(lambda counts: counts[-1:] == [0], timeout)
    os.kill(host.process.pid, signal.SIGSTOP)
    return time.monotonic() - began


def wait_for(check: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def post_order(host: RunningHost, path: str) -> None:
    reply = host.request("POST", path, b'{"customer": "ann"}', {"Content-Type": "application/json"})
    assert reply.status == 201, reply.body


def test_wait_until_keeps_the_instance_awake_until_the_email_is_written(
        app: Path, cluster: PostgresCluster) -> None:
    with node_host(app, {"/api/orders": "api/orders-wait-until.js"}, function=True,
                   env=env(cluster)) as host:
        post_order(host, "/api/orders")
        assert host.pending()[:1] == [1]  # told before the response arrived
        assert host.pending_until(lambda counts: len(counts) > 1)[:2] == [1, 2]
        waited = freeze_when_idle(host)
        assert waited >= EMAIL_DELAY_MS / 1000 * 0.9
        assert emails(cluster) == 1  # written before the freeze
        os.kill(host.process.pid, signal.SIGCONT)


def test_work_without_wait_until_is_frozen_then_resumed_or_lost(
        app: Path, cluster: PostgresCluster) -> None:
    with node_host(app, {"/api/orders": "api/orders.js"}, function=True,
                   env=env(cluster)) as host:
        post_order(host, "/api/orders")
        freeze_when_idle(host)
        assert host.pending() == [1, 0]  # the response's end only: nothing else to wait for
        time.sleep(EMAIL_DELAY_MS / 1000 + 0.5)
        assert emails(cluster) == 0  # frozen with the instance
        os.kill(host.process.pid, signal.SIGCONT)  # the next request thaws it
        assert wait_for(lambda: emails(cluster) == 1)  # delayed, not lost

        post_order(host, "/api/orders")
        freeze_when_idle(host)
        host.process.kill()  # reaped while frozen
        host.process.wait()
        time.sleep(0.5)
        assert emails(cluster) == 1  # the second email is lost
        assert int(scalar(cluster, "SELECT count(*) FROM orders WHERE customer = 'ann'")) == 2


@pytest.mark.parametrize(("route", "attached"), [("api/items-attached.mjs", True),
                                                 ("api/items.mjs", False)])
def test_attach_database_pool_closes_idle_connections_before_the_freeze(
        app: Path, cluster: PostgresCluster, route: str, attached: bool) -> None:
    with node_host(app, {"/api/items": route}, function=True,
                   env=env(cluster, DB_IDLE_TIMEOUT_MS="500")) as host:
        assert host.request("GET", "/api/items").status == 200
        waited = freeze_when_idle(host)
        if attached:
            assert host.pending() == [1, 2, 1, 0]
            assert waited >= 0.5  # node-postgres' idleTimeoutMillis (+ 100 ms)
            assert idle_connections(cluster) == 0
        else:
            assert host.pending() == [1, 0]
            time.sleep(1.0)  # past the idle timeout: its timer does not run while frozen
            assert idle_connections(cluster) == 1
        os.kill(host.process.pid, signal.SIGCONT)


NEXTJS = Path(__file__).parents[2] / "examples" / "nextjs-postgres"
NEXT_ROUTES = {"/api/orders": "app/api/orders/route.js",
               "/api/orders/[id]": "app/api/orders/[id]/route.js"}


def test_the_nextjs_examples_route_files_run_as_functions(cluster: PostgresCluster) -> None:
    """The Next.js example's route handlers, loaded as they are (no build) by the host:
    postgres.js at module scope, waitUntil from @vercel/functions keeping the email alive."""
    app = built_next_app(NEXTJS)  # the build shared with test_node_nextjs; only npm ci needed
    with psycopg.connect(cluster.app_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS emails, orders")
        conn.execute((NEXTJS / "schema.sql").read_text().encode())
    with node_host(app, NEXT_ROUTES, function=True, env=env(cluster)) as host:
        order = b'{"customer": "ann", "sku": "SKU-7", "quantity": 2}'
        reply = host.request("POST", "/api/orders", order, {"Content-Type": "application/json"})
        assert reply.status == 201, reply.body
        created = reply.json()["id"]
        freeze_when_idle(host)
        assert emails(cluster) == 1  # waitUntil held the freeze until it was written
        os.kill(host.process.pid, signal.SIGCONT)
        found = host.request("GET", f"/api/orders/{created}")
        assert found.json() == {"id": created, "customer": "ann", "sku": "SKU-7", "quantity": 2}
        assert host.request("GET", "/api/orders/999999").status == 404
        bad = host.request("POST", "/api/orders", b"{}", {"Content-Type": "application/json"})
        assert bad.status == 400
