"""Before the load: the app's ``schema`` (SQL) and ``setup`` commands, on the fresh database.

Both go straight to PostgreSQL as the app role (the direct DSN, bypassing any pooler), so
the tables belong to the role the app connects as. pgstampede's own demo tables (every table
of ``harness/runtime/schema.sql``: ``items``, ``writes``, ``background_jobs``,
``realtime_messages``, ``counters``) are dropped first so that an app can create tables of
the same names; the harness reads none of them for an app's variant.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import psycopg

from harness.app.env import app_environment, process_env
from harness.app.failure import error_tail
from harness.errors import AppError, ServiceError
from harness.runtime.postgres import DEMO_TABLES
from harness.scenario.records import AppSpec

SETUP_TIMEOUT_S = 600.0


def apply_schema(app: AppSpec, direct_dsn: str, log_path: Path) -> None:
    """Run ``app.schema`` (one script, one transaction) as the app role."""
    sql = Path(app.schema).read_text(encoding="utf-8")
    try:
        with psycopg.connect(direct_dsn, connect_timeout=10) as conn:
            conn.execute(sql.encode())  # bytes: no placeholders, several statements
    except psycopg.Error as exc:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(f"{app.schema}\n{exc}\n", encoding="utf-8")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AppError(app.entry, f"schema {app.schema} failed: {first}",
                       str(log_path)) from None


def run_setup(app: AppSpec, env: Mapping[str, str], logs: Path) -> None:
    """Each ``setup`` command in a shell in ``app.root`` (with ``setup_env``); output to
    logs/setup-<n>.log."""
    logs.mkdir(parents=True, exist_ok=True)
    for i, command in enumerate(app.setup, 1):
        log_path = logs / f"setup-{i}.log"
        with log_path.open("wb") as log:
            try:
                done = subprocess.run(["/bin/sh", "-c", command], cwd=app.root, env=dict(env),
                                      stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, timeout=SETUP_TIMEOUT_S,
                                      check=False)
            except subprocess.TimeoutExpired:
                raise AppError(app.entry, f"setup command {command!r} still running after "
                               f"{SETUP_TIMEOUT_S:.0f} s", str(log_path)) from None
        if done.returncode != 0:
            raise AppError(app.entry, f"setup command {command!r} failed (exit "
                           f"{done.returncode}): {error_tail(log_path)}", str(log_path))


def drop_demo_tables(direct_dsn: str) -> None:
    try:
        with psycopg.connect(direct_dsn, connect_timeout=10, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {', '.join(DEMO_TABLES)}".encode())
    except psycopg.Error as exc:
        raise ServiceError("postgres", f"cannot prepare the app's database: {exc}") from None


def prepare_database(app: AppSpec, direct_dsn: str, logs: Path) -> None:
    """Demo tables dropped, then the schema, then the setup commands (with the app's
    environment, its DSN variables set to the direct DSN)."""
    drop_demo_tables(direct_dsn)
    if app.schema:
        apply_schema(app, direct_dsn, logs / "schema.log")
    if app.setup:
        env = process_env(app, os.environ, app_environment(app, direct_dsn))
        run_setup(app, setup_env(app, env), logs)


def setup_env(app: AppSpec, env: Mapping[str, str]) -> dict[str, str]:
    """A setup command's environment: ``root`` first on ``PYTHONPATH`` (before the app's own
    ``PYTHONPATH``, if its ``env`` sets one), as the server has it first on sys.path: a tool
    that runs from its own script (alembic's ``env.py`` importing the app's models) finds
    the app's packages."""
    paths = [str(Path(app.root).resolve()), env.get("PYTHONPATH", "")]
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
