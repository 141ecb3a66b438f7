"""The cause of failed requests, from two sides, and the known traps with their fixes (pure).

*What the database rejected* comes from the server log (:mod:`harness.analysis.db_errors`);
*what the app raised* from the unhandled exceptions that escaped the app (the
``app_exceptions`` frame: type, first line of the message, the app's own frame). A finding
ties them together, e.g. ``4,205 requests failed (http_5xx); the app raised
InvalidSQLStatementNameError: prepared statement "…" does not exist (4,100 times, at
app/db.py:42); the database logged SQLSTATE 26000 (invalid_sql_statement_name) 4,100 times:
prepared statements behind a transaction pooler. Fix: ...``.

:data:`TRAPS` is the catalogue: each trap is recognised by SQLSTATEs and message patterns on
either side, and names its fix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from harness.analysis.db_errors import ErrorGroup, pattern
from harness.units import format_count


@dataclass(frozen=True)
class Trap:
    """A known cause of failures: how to recognise it, what it is, how to fix it."""

    name: str
    sqlstates: frozenset[str]
    message: re.Pattern[str]  # matched against a database message or an app exception line
    fix: str

    def matches_db(self, group: ErrorGroup) -> bool:
        return group.sqlstate in self.sqlstates or bool(self.message.search(group.pattern))

    def matches_app(self, group: ExceptionGroup) -> bool:
        return bool(self.message.search(f"{group.type}: {group.message}"))


def _re(text: str) -> re.Pattern[str]:
    return re.compile(text, re.I)


TRAPS: tuple[Trap, ...] = (
    Trap("prepared statements behind a transaction pooler",
         frozenset({"26000", "42P05"}),
         _re(r"prepared statement .* (does not exist|already exists)|bind message supplies"
             r"|InvalidSQLStatementName|DuplicatePreparedStatement|unnamed prepared statement"),
         "turn the driver's prepared statements off (asyncpg: statement_cache_size=0 as a "
         "keyword argument, not in the DSN; SQLAlchemy + asyncpg: connect_args "
         "statement_cache_size=0 and prepared_statement_cache_size=0; psycopg 3: "
         "prepare_threshold=None), or run PgBouncer 1.21 or later with "
         "max_prepared_statements"),
    Trap("the server's connections ran out (max_connections)",
         frozenset({"53300"}),
         _re(r"too many clients|remaining connection slots|TooManyConnections"),
         "put a pooler in transaction mode in front of the database (PgBouncer), cap the "
         "instances (Lambda reserved concurrency, Cloud Run max instances) or shrink each "
         "instance's pool so that instances × pool stays under the usable slots"),
    Trap("the app's own pool ran dry (a checkout timed out)",
         frozenset(),
         _re(r"QueuePool limit|PoolTimeout|couldn'?t get a connection|timed out waiting for "
             r"(a )?(free )?connection|pool.*acquire|acquire.*timeout"),
         "the pool is smaller than the requests an instance serves at once: raise its size "
         "(within max_connections), lower the instance's concurrency, or hold connections "
         "for shorter (no work between checkout and release)"),
    Trap("the server ended the connections (terminated, idle timeout or shutdown)",
         frozenset({"57P01", "57P02", "57P05"}),
         _re(r"terminating connection due to|AdminShutdown|IdleSessionTimeout"),
         "let the pool test and replace a connection before use (SQLAlchemy pool_pre_ping, "
         "a reconnecting pool) and retry the request once"),
    Trap("connections during a restart (the database system is starting up)",
         frozenset({"57P03"}),
         _re(r"database system is (starting up|not yet accepting)|CannotConnectNow"),
         "retry the connection with a backoff while the server starts"),
    Trap("the pooler turned the client away (max_client_conn)",
         frozenset(),
         _re(r"no more connections allowed|max_client_conn"),
         "raise the pooler's max_client_conn (and the open-file limit with it)"),
)


@dataclass(frozen=True)
class ExceptionGroup:
    """Unhandled exceptions of one type and message pattern: how often, and where."""

    type: str
    message: str
    where: str
    count: int


def exception_groups(frame: pd.DataFrame, start: float | None = None) -> list[ExceptionGroup]:
    """The ``app_exceptions`` rows from ``start`` on, grouped by type and message pattern."""
    rows = frame if start is None else frame[frame["t"] >= start]
    if rows.empty:
        return []
    keyed = rows.assign(pattern=rows["message"].map(pattern))
    out = [ExceptionGroup(type=str(kind), message=str(text), count=len(group),
                          where=str(group["where"].iloc[0]))
           for (kind, text), group in keyed.groupby(["type", "pattern"], sort=False)]
    return sorted(out, key=lambda g: (-g.count, g.type))


def trap_of(db: Sequence[ErrorGroup], app: Sequence[ExceptionGroup]) -> Trap | None:
    """The known trap the most frequent error of either side belongs to, if any."""
    for trap in TRAPS:
        if (app and trap.matches_app(app[0])) or (db and trap.matches_db(db[0])):
            return trap
    return None


def cause_sentence(failures: int, kind: str, db: Sequence[ErrorGroup],
                   app: Sequence[ExceptionGroup]) -> str | None:
    """``N requests failed (kind); the app raised ...; the database logged ...: trap. Fix:
    ...``; None when neither side recorded anything."""
    if not db and not app:
        return None
    parts = [f"{format_count(failures)} requests failed ({kind})"]
    if app:
        top = app[0]
        where = f", at {top.where}" if top.where else ""
        parts.append(f"the app raised {top.type}: {top.message} "
                     f"({format_count(top.count)} times{where})")
    if db:
        top_db = db[0]
        parts.append(f"the database logged {top_db.label} {top_db.pattern!r} "
                     f"{format_count(top_db.count)} times")
    text = "; ".join(parts)
    trap = trap_of(db, app)
    if trap is not None:
        text += f": {trap.name}. Fix: {trap.fix}"
    return text
