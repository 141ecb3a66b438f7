"""PgBouncer's pools and traffic counters, from its admin console.

The admin console (database ``pgbouncer``) only speaks the simple query protocol and has
no transactions, so this collector uses psycopg (async) with ``autocommit=True`` and
``prepare_threshold=None`` (psycopg prepares a query run 5 times, which the console rejects);
asyncpg cannot talk to it. Each sample runs ``SHOW POOLS`` (rows of the ``pooler`` frame, with
``maxwait_ms = maxwait * 1000 + maxwait_us / 1000``) and ``SHOW STATS`` (``pooler_stats``;
PgBouncer reports times in microseconds). The admin pseudo-database ``pgbouncer`` is skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, LiteralString

import pandas as pd
import psycopg
from psycopg.rows import dict_row

from harness.results.frames import coerce_frame, empty_frame

ADMIN_DB = "pgbouncer"
POOL_COLUMNS = (
    "t", "database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used",
    "sv_login", "maxwait_ms",
)  # fmt: skip
STATS_COLUMNS = (
    "t", "database", "total_xact_count", "total_query_count", "total_wait_time_us",
    "avg_wait_time_us",
)  # fmt: skip

Row = Mapping[str, Any]


def _int(row: Row, key: str) -> int:
    value = row.get(key)
    return int(value) if value is not None else 0


def pool_row(t: float, row: Row) -> tuple[Any, ...]:
    """A ``pooler`` row from one ``SHOW POOLS`` row."""
    maxwait_ms = _int(row, "maxwait") * 1000.0 + _int(row, "maxwait_us") / 1000.0
    return (
        t, str(row["database"]), str(row["user"]), _int(row, "cl_active"),
        _int(row, "cl_waiting"), _int(row, "sv_active"), _int(row, "sv_idle"),
        _int(row, "sv_used"), _int(row, "sv_login"), maxwait_ms,
    )  # fmt: skip


def stats_row(t: float, row: Row) -> tuple[Any, ...]:
    """A ``pooler_stats`` row from one ``SHOW STATS`` row."""
    return (
        t, str(row["database"]), _int(row, "total_xact_count"), _int(row, "total_query_count"),
        _int(row, "total_wait_time"), float(_int(row, "avg_wait_time")),
    )  # fmt: skip


class PgBouncerCollector:
    """Samples SHOW POOLS and SHOW STATS through one admin-console connection."""

    name = "pgbouncer"
    interval_s: float | None = None

    def __init__(
        self, admin_dsn: str, *, interval_s: float | None = None, connect_timeout_s: int = 5
    ) -> None:
        self.admin_dsn = admin_dsn
        self.interval_s = interval_s
        self.connect_timeout_s = connect_timeout_s
        self._conn: psycopg.AsyncConnection[dict[str, Any]] | None = None
        self._pools: list[tuple[Any, ...]] = []
        self._stats: list[tuple[Any, ...]] = []
        self._latest: dict[str, float] = {}

    async def _connect(self) -> psycopg.AsyncConnection[dict[str, Any]]:
        conn = await psycopg.AsyncConnection.connect(
            self.admin_dsn,
            autocommit=True,
            prepare_threshold=None,  # psycopg would prepare after 5 runs: not on the console
            connect_timeout=self.connect_timeout_s,
            row_factory=dict_row,
        )
        self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.pgconn.finish()

    async def _show(
        self, conn: psycopg.AsyncConnection[dict[str, Any]], query: LiteralString
    ) -> list[Row]:
        cur = await conn.execute(query)
        rows = await cur.fetchall()
        return [r for r in rows if r.get("database") != ADMIN_DB]

    async def start(self) -> None:
        await self._connect()

    async def sample(self, t: float) -> None:
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connect()
        try:
            pools = await self._show(conn, "SHOW POOLS")
            stats = await self._show(conn, "SHOW STATS")
        except BaseException:
            self._drop()
            raise
        rows = [pool_row(t, r) for r in pools]
        self._pools.extend(rows)
        self._stats.extend(stats_row(t, r) for r in stats)
        self._latest = {
            "pooler.cl_active": float(sum(r[3] for r in rows)),
            "pooler.cl_waiting": float(sum(r[4] for r in rows)),
            "pooler.sv_active": float(sum(r[5] for r in rows)),
            "pooler.maxwait_ms": max((float(r[9]) for r in rows), default=0.0),
        }

    async def stop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                await conn.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                conn.pgconn.finish()

    def frames(self) -> dict[str, pd.DataFrame]:
        pools = (
            pd.DataFrame(self._pools, columns=list(POOL_COLUMNS))
            if self._pools
            else empty_frame("pooler")
        )
        stats = (
            pd.DataFrame(self._stats, columns=list(STATS_COLUMNS))
            if self._stats
            else empty_frame("pooler_stats")
        )
        return {
            "pooler": coerce_frame("pooler", pools),
            "pooler_stats": coerce_frame("pooler_stats", stats),
        }

    def latest(self) -> dict[str, float]:
        return dict(self._latest)
