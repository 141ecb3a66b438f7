"""The application factory: ``flask --app orders.app:create_app run``."""

from __future__ import annotations

import atexit
import os
from typing import Any

from flask import Flask
from psycopg_pool import ConnectionPool

from orders.views import bp


def connection_kwargs() -> dict[str, Any]:
    """psycopg prepares a query on the server after 5 executions. PgBouncer in transaction
    mode (before 1.21) sends the next transaction to another server connection, where that
    statement does not exist: turn server-side preparing off behind it."""
    if os.environ.get("DB_BEHIND_PGBOUNCER", "") in ("1", "true", "yes"):
        return {"prepare_threshold": None}
    return {}


def make_pool() -> ConnectionPool:
    size = int(os.environ.get("DB_POOL_SIZE", "5"))
    pool = ConnectionPool(
        os.environ["DATABASE_URL"],
        min_size=size,
        max_size=size,
        timeout=float(os.environ.get("DB_POOL_TIMEOUT", "30")),
        kwargs=connection_kwargs(),
        open=True,
    )
    pool.wait(timeout=30)  # fail at start when the database cannot be reached
    atexit.register(pool.close)
    return pool


def create_app() -> Flask:
    app = Flask(__name__)
    app.extensions["db_pool"] = make_pool()
    app.register_blueprint(bp)
    return app
