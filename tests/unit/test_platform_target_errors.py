"""Error classification shared by both targets (targets.shared.errors)."""

from __future__ import annotations

import asyncpg
import pytest

from targets.shared.errors import classify


def pg_error(cls: type[asyncpg.PostgresError], message: str) -> asyncpg.PostgresError:
    return cls(message)


@pytest.mark.parametrize(
    ("exc", "kind", "status"),
    [
        (
            pg_error(asyncpg.TooManyConnectionsError, "sorry, too many clients already"),
            "db_too_many_connections",
            503,
        ),
        (
            pg_error(asyncpg.ProtocolViolationError, "sorry, too many clients already"),
            "db_too_many_connections",
            503,
        ),
        (
            pg_error(
                asyncpg.ProtocolViolationError, "no more connections allowed (max_client_conn)"
            ),
            "pooler_full",
            503,
        ),
        (pg_error(asyncpg.ProtocolViolationError, "query_wait_timeout"), "db_pool_timeout", 503),
        (TimeoutError(), "db_pool_timeout", 503),
        (ConnectionRefusedError(111, "Connection refused"), "db_unavailable", 503),
        (
            pg_error(asyncpg.ConnectionDoesNotExistError, "connection was closed in the middle"),
            "db_unavailable",
            503,
        ),
        (
            pg_error(asyncpg.CannotConnectNowError, "the database system is starting up"),
            "db_unavailable",
            503,
        ),
        (
            pg_error(asyncpg.InternalServerError, "failed to create a backend 0 connection"),
            "db_unavailable",
            503,
        ),
        (
            asyncpg.InterfaceError("cannot call Connection.fetchrow(): connection is closed"),
            "db_unavailable",
            503,
        ),
        (
            pg_error(
                asyncpg.InvalidSQLStatementNameError,
                'prepared statement "__asyncpg_stmt_1__" does not exist',
            ),
            "db_other",
            500,
        ),
        (
            pg_error(
                asyncpg.DuplicatePreparedStatementError,
                'prepared statement "__asyncpg_stmt_a__" already exists',
            ),
            "db_other",
            500,
        ),
        (
            pg_error(
                asyncpg.ProtocolViolationError,
                "bind message supplies 0 parameters, but prepared statement requires 1",
            ),
            "db_other",
            500,
        ),
    ],
)
def test_classify(exc: BaseException, kind: str, status: int) -> None:
    error = classify(exc)
    assert error is not None
    assert (error.kind, error.status) == (kind, status)
    body = error.body()["error"]
    assert isinstance(body, dict) and body["kind"] == kind and body["message"]


def test_sqlstate_is_reported() -> None:
    error = classify(asyncpg.TooManyConnectionsError("x"))
    assert error is not None and error.sqlstate == "53300"


def test_non_database_errors_are_not_classified() -> None:
    assert classify(KeyError("x")) is None
