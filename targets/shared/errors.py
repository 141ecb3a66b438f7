"""Database error classification shared by both targets.

Every database failure a target meets is mapped to one *error kind* (docs/internals.md,
"Targets: endpoints and environment"), which fixes the HTTP status of the answer:

    db_too_many_connections  503  SQLSTATE 53300, or a message saying "too many clients" /
                                  "remaining connection slots" (PgBouncer relays PostgreSQL's
                                  refusal as 08P01 ProtocolViolationError)
    pooler_full              503  the pooler itself turned the client away, not PostgreSQL:
                                  PgBouncer's "no more connections allowed" (max_client_conn)
    db_pool_timeout          503  timed out waiting for a pool connection or for a connection
                                  to open (asyncio.TimeoutError), or PgBouncer's
                                  query_wait_timeout
    db_unavailable           503  connection refused / reset / closed by the server, server
                                  shutting down or starting up, pgpool-II "failed to create a
                                  backend ... connection" (PostgreSQL down behind it)
    db_other                 500  any other database error, e.g. the prepared-statement errors
                                  asyncpg meets behind PgBouncer in transaction mode (26000,
                                  42P05, 08P01 "bind message supplies ...")

``classify`` returns ``None`` for exceptions that are not database errors (bugs propagate).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from harness.results.endpoints import error_doc

KIND_STATUS: dict[str, int] = {
    "db_too_many_connections": 503,
    "pooler_full": 503,
    "db_pool_timeout": 503,
    "db_unavailable": 503,
    "db_other": 500,
}

_TOO_MANY_MARKERS = (
    "too many clients",
    "remaining connection slots",
)
_POOLER_FULL_MARKERS = ("no more connections allowed",)
_POOL_TIMEOUT_MARKERS = ("query_wait_timeout",)
_UNAVAILABLE_MARKERS = (
    "cannot connect to server",
    "connection is closed",
    "server closed the connection",
    "connection was closed",
    "server conn crashed",
    "database system is shutting down",
    "database system is starting up",
    "failed to create a backend",  # pgpool-II (XX000) while PostgreSQL is down
)
_UNAVAILABLE_SQLSTATES = frozenset(
    {"08000", "08001", "08003", "08004", "08006", "57P01", "57P02", "57P03"}
)


@dataclass(frozen=True)
class DbError:
    """A classified database failure: what the target answers instead of a result."""

    kind: str
    sqlstate: str
    message: str

    @property
    def status(self) -> int:
        return KIND_STATUS[self.kind]

    def body(self) -> dict[str, object]:
        return error_doc(self.kind, self.message, self.sqlstate)


def classify(exc: BaseException) -> DbError | None:
    """Map an exception raised while using the database to its error kind, or None."""
    message = _one_line(exc)
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = str(getattr(exc, "sqlstate", "") or "")
        return DbError(_postgres_kind(sqlstate, message), sqlstate, message)
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return DbError("db_pool_timeout", "", f"{message} waiting for a database connection")
    if isinstance(exc, OSError):
        return DbError("db_unavailable", "", message)
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError):
        lowered = message.lower()
        if _contains(lowered, _POOLER_FULL_MARKERS):
            return DbError("pooler_full", "", message)
        if _contains(lowered, _TOO_MANY_MARKERS):
            return DbError("db_too_many_connections", "", message)
        kind = "db_unavailable" if _contains(lowered, _UNAVAILABLE_MARKERS) else "db_other"
        return DbError(kind, "", message)
    return None


def _postgres_kind(sqlstate: str, message: str) -> str:
    lowered = message.lower()
    if _contains(lowered, _POOLER_FULL_MARKERS):
        return "pooler_full"
    if sqlstate == "53300" or _contains(lowered, _TOO_MANY_MARKERS):
        return "db_too_many_connections"
    if _contains(lowered, _POOL_TIMEOUT_MARKERS):
        return "db_pool_timeout"
    if sqlstate in _UNAVAILABLE_SQLSTATES or _contains(lowered, _UNAVAILABLE_MARKERS):
        return "db_unavailable"
    return "db_other"


def _contains(text: str, markers: tuple[str, ...]) -> bool:
    return any(marker in text for marker in markers)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return (f"{name}: {text.splitlines()[0]}" if text else name)[:500]
