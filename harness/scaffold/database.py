"""A private, temporary PostgreSQL for ``pgstampede init``: an app's factory or module may
open its pool when it is built (Flask's ``create_app`` often does), so the probe runs with
the app's DSN variables pointing at a real, empty database holding the app's schema."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from harness.app.database import drop_demo_tables
from harness.errors import ServiceError
from harness.runtime.postgres import PostgresCluster

MAX_CONNECTIONS = 50
UNREACHABLE = "postgresql://app@127.0.0.1:1/app"  # nothing listens on port 1


@dataclass(frozen=True)
class ProbeDatabase:
    dsn: str
    note: str  # what happened, for people ("" when all went well)


@contextmanager
def probe_database(schema: Path | None) -> Iterator[ProbeDatabase]:
    """A running cluster with ``schema`` applied; when none can be started, an address
    where nothing listens (the app then fails as it would without its database)."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pgstampede-init-")))
        try:
            cluster = stack.enter_context(PostgresCluster(
                max_connections=MAX_CONNECTIONS, log_path=folder / "postgres.log"))
        except ServiceError as exc:
            yield ProbeDatabase(UNREACHABLE, f"no private PostgreSQL for reading the app: {exc}")
            return
        yield ProbeDatabase(cluster.app_dsn, apply(cluster.app_dsn, schema))


def apply(dsn: str, schema: Path | None) -> str:
    """pgstampede's demo tables dropped, then the app's schema; a note when it fails."""
    try:
        drop_demo_tables(dsn)
    except ServiceError as exc:
        return str(exc)
    if schema is None:
        return ""
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            conn.execute(schema.read_bytes())
    except (psycopg.Error, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"{schema.name} failed on an empty database: {first}"
    return ""
