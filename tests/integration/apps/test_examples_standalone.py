"""The example apps as their users run them (their own venv's uvicorn / flask), against a
real PostgreSQL and PgBouncer: what they answer, what they write, how many connections they
hold, and the prepared-statement trap behind PgBouncer in transaction mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from harness.errors import ServiceError
from harness.runtime.pgbouncer import PgBouncer
from harness.runtime.ports import free_port
from harness.runtime.process import ManagedProcess, PostgresCluster
from tests.integration.apps.calls import call, call_many
from tests.integration.apps.conftest import EXAMPLES
from tests.integration.apps.venvs import distribution_version

pytestmark = pytest.mark.integration

SHOP = EXAMPLES / "fastapi-shop"
ORDERS = EXAMPLES / "flask-orders"


@contextmanager
def database(tmp: Path, schema: Path) -> Iterator[tuple[PostgresCluster, PgBouncer]]:
    """A fresh cluster with the app's schema, and a PgBouncer (transaction mode) before it."""
    with PostgresCluster(workdir=tmp, max_connections=30, log_path=tmp / "postgres.log") as pg, \
            PgBouncer(upstream_port=pg.port, workdir=tmp, log_path=tmp / "pgbouncer.log",
                      pool_size=4) as bouncer:
        with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
            conn.execute(schema.read_text().encode())
        yield pg, bouncer


@contextmanager
def serve(argv: list[str], cwd: Path, log: Path, port: int, **env: str) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with ManagedProcess(name="app", argv=argv, cwd=cwd, log_path=log, ready_url=f"{url}/health",
                        ready_timeout_s=60.0, env={"PATH": "/usr/bin:/bin", **env}):
        yield url


def uvicorn(python: Path, tmp: Path, workers: int = 1, **env: str) -> tuple[list[str], int]:
    port = free_port()
    return [str(python), "-m", "uvicorn", "shop.main:app", "--host", "127.0.0.1", "--port",
            str(port), "--workers", str(workers), "--no-access-log"], port


def settled_backends(monitor_dsn: str, expected: int, timeout_s: float = 60.0) -> int:
    """The app role's backends once they reach ``expected`` (workers start one by one), or
    what there is at the deadline."""
    deadline = time.monotonic() + timeout_s
    while (found := app_backends(monitor_dsn)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def app_backends(monitor_dsn: str) -> int:
    with psycopg.connect(monitor_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' "
                           "AND backend_type = 'client backend'").fetchone()
    assert row is not None
    return int(row[0])


def wait_for_row(dsn: str, query: str, timeout_s: float = 60.0) -> tuple[object, ...]:
    """The first row of ``query`` once there is one (background work is asynchronous)."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            row = conn.execute(query.encode()).fetchone()
            if row is not None or time.monotonic() > deadline:
                assert row is not None, f"no row for {query} after {timeout_s} s"
                return tuple(row)
            time.sleep(0.05)


def test_app_venvs_are_the_apps_own(shop_python: Path, orders_python: Path,
                                    oldstar_python: Path) -> None:
    for python in (shop_python, orders_python, oldstar_python):
        assert distribution_version(python, "pgstampede") is None
        assert distribution_version(python, "locust") is None
    assert distribution_version(shop_python, "fastapi") is not None
    assert distribution_version(shop_python, "sqlalchemy") is not None
    assert distribution_version(orders_python, "flask") is not None
    assert distribution_version(orders_python, "psycopg-pool") is not None
    from importlib.metadata import version
    assert distribution_version(oldstar_python, "starlette") != version("starlette")
    assert distribution_version(oldstar_python, "uvicorn") != version("uvicorn")


def test_fastapi_shop(shop_python: Path, tmp_path: Path) -> None:
    with database(tmp_path, SHOP / "schema.sql") as (pg, bouncer):
        argv, port = uvicorn(shop_python, tmp_path, workers=2)
        with serve(argv, SHOP, tmp_path / "direct.log", port, DATABASE_URL=pg.app_dsn,
                   DB_POOL_SIZE="3", EMAIL_DELAY_MS="100") as url:
            # each worker opened its whole pool in the lifespan: workers x pool size
            assert settled_backends(pg.monitor_dsn, 6) == 6
            status, products = call(f"{url}/products?limit=5")
            assert status == 200 and [p["id"] for p in products] == [1, 2, 3, 4, 5]
            status, product = call(f"{url}/products/7")
            assert status == 200 and product["name"] == "product 7"
            assert call(f"{url}/products/999")[0] == 404
            status, order = call(f"{url}/orders", "POST",
                                 {"product_id": 7, "quantity": 2, "email": "ann@example.com"})
            assert status == 201
            assert order["total_cents"] == 2 * product["price_cents"]
            assert call(f"{url}/orders", "POST", {"product_id": 7})[0] == 422
            # the confirmation is sent after the response, by the background task
            recipient, lag = wait_for_row(
                pg.monitor_dsn, "SELECT e.recipient, extract(epoch FROM e.sent_at - o.created_at)"
                f" FROM emails e JOIN orders o ON o.id = e.order_id WHERE o.id = {order['id']}")
            assert recipient == "ann@example.com" and float(lag) >= 0.1  # type: ignore[arg-type]
        # behind PgBouncer (transaction mode) with its prepared statements turned off
        argv, port = uvicorn(shop_python, tmp_path)
        with serve(argv, SHOP, tmp_path / "pooled.log", port, DATABASE_URL=bouncer.app_dsn,
                   DB_BEHIND_PGBOUNCER="1", EMAIL_DELAY_MS="0") as url:
            body = {"product_id": 3, "email": "bob@example.com"}
            statuses = call_many([(f"{url}/products", "GET", None)] * 40
                                 + [(f"{url}/orders", "POST", body)] * 40, workers=20)
            assert statuses == [200] * 40 + [201] * 40


def test_fastapi_shop_behind_pgbouncer_without_the_fix_fails(
        shop_python: Path, tmp_path: Path) -> None:
    """The classic trap: asyncpg's named prepared statements meet on PgBouncer's shared
    server connections (transaction mode) and requests fail."""
    with database(tmp_path, SHOP / "schema.sql") as (_, bouncer):
        argv, port = uvicorn(shop_python, tmp_path, workers=2)
        log = tmp_path / "trap.log"
        try:
            with serve(argv, SHOP, log, port, DATABASE_URL=bouncer.app_dsn) as url:
                statuses = call_many([(f"{url}/products", "GET", None)] * 80, workers=20)
                assert 500 in statuses
        except ServiceError:
            pass  # or the workers already failed while opening their pools
        assert "prepared statement" in log.read_text()


def test_flask_orders(orders_python: Path, tmp_path: Path) -> None:
    flask = [str(orders_python), "-m", "flask", "--app", "orders.app:create_app", "run",
             "--with-threads", "--port"]
    with database(tmp_path, ORDERS / "schema.sql") as (pg, bouncer):
        port = free_port()
        with serve([*flask, str(port)], ORDERS, tmp_path / "direct.log", port,
                   DATABASE_URL=pg.app_dsn, DB_POOL_SIZE="3") as url:
            assert settled_backends(pg.monitor_dsn, 3) == 3  # the pool opened with the app
            status, recent = call(f"{url}/orders?limit=3")
            assert status == 200 and [o["id"] for o in recent] == [100, 99, 98]
            status, created = call(f"{url}/orders", "POST",
                                   {"customer": "ann", "sku": "SKU-7", "quantity": 2})
            assert status == 201
            status, got = call(f"{url}/orders/{created['id']}")
            assert status == 200 and got == {"id": created["id"], "customer": "ann",
                                             "sku": "SKU-7", "quantity": 2}
            assert call(f"{url}/orders", "POST", {"sku": "x"})[0] == 400
            assert call(f"{url}/orders/100000")[0] == 404
        port = free_port()
        with serve([*flask, str(port)], ORDERS, tmp_path / "pooled.log", port,
                   DATABASE_URL=bouncer.app_dsn, DB_BEHIND_PGBOUNCER="1") as url:
            body = {"customer": "bob", "sku": "SKU-1"}
            statuses = call_many([(f"{url}/orders", "GET", None)] * 60
                                 + [(f"{url}/orders", "POST", body)] * 20, workers=10)
            assert statuses == [200] * 60 + [201] * 20
