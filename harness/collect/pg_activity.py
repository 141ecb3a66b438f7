"""Client backends of the watched PostgreSQL server, from ``pg_stat_activity``.

One asyncpg connection (the monitor role, a superuser, so it keeps a reserved slot when
the server is full). Each sample is one grouped query over client backends that are not
this connection; it yields a ``db`` row (totals by state) and ``db_groups`` rows (counts
by state, application_name and usename), and a ``db_listen`` row: the backends whose last
statement was ``LISTEN`` (the realtime hubs, targets.shared.realtime). A broken connection is
reopened at the next sample (the sampler paces the retries).
"""

from __future__ import annotations

import contextlib

import asyncpg
import pandas as pd

from harness.results.frames import coerce_frame, empty_frame

QUERY = """
SELECT coalesce(state, '') AS state,
       coalesce(application_name, '') AS application_name,
       coalesce(usename::text, '') AS usename,
       count(*) AS n,
       count(*) FILTER (WHERE query LIKE 'LISTEN%') AS listen
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
GROUP BY 1, 2, 3
"""

DB_COLUMNS = ("t", "total", "active", "idle", "idle_in_transaction", "other")
GROUP_COLUMNS = ("t", "state", "application_name", "usename", "count")
IDLE_IN_TRANSACTION = ("idle in transaction", "idle in transaction (aborted)")


def db_row(
    t: float, groups: list[tuple[str, str, str, int]]
) -> tuple[float, int, int, int, int, int]:
    """The ``db`` row of one sample from its ``(state, app, user, count)`` groups."""
    by_state: dict[str, int] = {}
    for state, _, _, n in groups:
        by_state[state] = by_state.get(state, 0) + n
    total = sum(by_state.values())
    active = by_state.get("active", 0)
    idle = by_state.get("idle", 0)
    in_tx = sum(by_state.get(s, 0) for s in IDLE_IN_TRANSACTION)
    return (t, total, active, idle, in_tx, total - active - idle - in_tx)


class PgActivityCollector:
    """Samples ``pg_stat_activity`` through one connection to ``dsn``."""

    name = "pg_activity"
    interval_s: float | None = None

    def __init__(
        self,
        dsn: str,
        *,
        interval_s: float | None = None,
        connect_timeout_s: float = 5.0,
        application_name: str = "pgstampede-monitor",
    ) -> None:
        self.dsn = dsn
        self.interval_s = interval_s
        self.connect_timeout_s = connect_timeout_s
        self.application_name = application_name
        self._conn: asyncpg.Connection | None = None
        self._db: list[tuple[float, int, int, int, int, int]] = []
        self._groups: list[tuple[float, str, str, str, int]] = []
        self._listen: list[tuple[float, int]] = []

    async def _connect(self) -> asyncpg.Connection:
        conn: asyncpg.Connection = await asyncpg.connect(
            self.dsn,
            timeout=self.connect_timeout_s,
            server_settings={"application_name": self.application_name},
        )
        self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.terminate()
        self._conn = None

    async def start(self) -> None:
        await self._connect()

    async def sample(self, t: float) -> None:
        conn = self._conn
        if conn is None or conn.is_closed():
            conn = await self._connect()
        try:
            records = await conn.fetch(QUERY)
        except BaseException:
            self._drop()
            raise
        groups = [(r["state"], r["application_name"], r["usename"], int(r["n"])) for r in records]
        self._db.append(db_row(t, groups))
        self._groups.extend((t, *g) for g in groups)
        self._listen.append((t, sum(int(r["listen"]) for r in records)))

    async def stop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=2.0)
            except Exception:  # noqa: BLE001 - closing is best effort
                conn.terminate()

    def frames(self) -> dict[str, pd.DataFrame]:
        db = pd.DataFrame(self._db, columns=list(DB_COLUMNS)) if self._db else empty_frame("db")
        groups = (
            pd.DataFrame(self._groups, columns=list(GROUP_COLUMNS))
            if self._groups
            else empty_frame("db_groups")
        )
        listen = (pd.DataFrame(self._listen, columns=["t", "listen"]) if self._listen
                  else empty_frame("db_listen"))
        return {"db": coerce_frame("db", db), "db_groups": coerce_frame("db_groups", groups),
                "db_listen": coerce_frame("db_listen", listen)}

    def latest(self) -> dict[str, float]:
        if not self._db:
            return {}
        _, total, active, idle, in_tx, _ = self._db[-1]
        return {
            "db.total": float(total),
            "db.active": float(active),
            "db.idle": float(idle),
            "db.idle_in_transaction": float(in_tx),
        }
