"""What the database rejected, what the app raised, and the known trap that explains them."""

from __future__ import annotations

import pandas as pd

from harness.analysis.causes import ExceptionGroup, cause_sentence, exception_groups, trap_of
from harness.analysis.db_errors import (
    ErrorGroup,
    before_final_stop,
    condition,
    error_groups,
    merge_groups,
    pattern,
)


def errors(*rows: tuple[float, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame([(t, 1, level, code, msg) for t, level, code, msg in rows],
                        columns=["t", "pid", "level", "sqlstate", "message"])


def test_names_and_numbers_are_taken_out() -> None:
    assert pattern('prepared statement "__asyncpg_stmt_2__" does not exist') == \
        'prepared statement "…" does not exist'
    assert pattern('bind message supplies 0 parameters, but prepared statement '
                   '"__asyncpg_stmt_10__" requires 1') == \
        'bind message supplies N parameters, but prepared statement "…" requires N'
    assert pattern("canceling statement due to statement timeout") == \
        "canceling statement due to statement timeout"
    assert pattern("value 3.5 out of range for pg_stat") == "value N out of range for pg_stat"
    assert condition("26000") == "invalid_sql_statement_name" and condition("ZZZZZ") == ""


def test_errors_are_grouped_by_sqlstate_and_pattern_from_the_load_start() -> None:
    missing = 'prepared statement "__asyncpg_stmt_{}__" does not exist'
    frame = errors((0.5, "FATAL", "28P01", "password authentication failed for user \"x\""),
                   (1.0, "ERROR", "26000", missing.format(2)),
                   (1.1, "ERROR", "26000", missing.format(9)),
                   (1.2, "FATAL", "53300", "sorry, too many clients already"))
    groups = error_groups(frame, start=1.0)
    assert [(g.sqlstate, g.count) for g in groups] == [("26000", 2), ("53300", 1)]
    assert groups[0].label == "SQLSTATE 26000 (invalid_sql_statement_name)"
    merged = merge_groups([groups, error_groups(frame, start=1.05)])
    assert [(g.sqlstate, g.count) for g in merged] == [("26000", 3), ("53300", 2)]


def test_the_prepared_statement_trap_from_either_side() -> None:
    db = [ErrorGroup("26000", "ERROR", 'prepared statement "…" does not exist', 4100, "")]
    app = [ExceptionGroup("InvalidSQLStatementNameError",
                          'prepared statement "…" does not exist', "app/db/queries.py:42", 4100)]
    trap = trap_of(db, [])
    assert trap is not None and "transaction pooler" in trap.name
    assert trap_of([], app) is trap
    text = cause_sentence(4205, "http_5xx", db, app)
    assert text is not None
    assert text.startswith("4,205 requests failed (http_5xx); the app raised "
                           "InvalidSQLStatementNameError: prepared statement")
    assert "(4,100 times, at app/db/queries.py:42)" in text
    assert "the database logged SQLSTATE 26000 (invalid_sql_statement_name)" in text
    assert "statement_cache_size=0" in text and "max_prepared_statements" in text


def test_other_traps_and_no_cause() -> None:
    def app_trap(kind: str, message: str) -> str:
        trap = trap_of([], [ExceptionGroup(kind, message, "", 1)])
        return trap.name if trap else ""

    assert "pool ran dry" in app_trap("TimeoutError", "QueuePool limit of size 5 overflow 10 "
                                                      "reached, connection timed out")
    assert "pool ran dry" in app_trap("PoolTimeout", "couldn't get a connection after 30.00 sec")
    assert "ran out" in app_trap("TooManyConnectionsError", "sorry, too many clients already")
    assert "ended the connections" in app_trap(
        "AdminShutdownError", "terminating connection due to administrator command")
    assert "restart" in app_trap("CannotConnectNowError", "the database system is starting up")
    assert "pooler turned" in app_trap("ProtocolViolationError",
                                       "no more connections allowed (max_client_conn)")
    assert app_trap("ZeroDivisionError", "division by zero") == ""
    assert cause_sentence(10, "http_5xx", [], []) is None
    odd = [ErrorGroup("22012", "ERROR", "division by zero", 3, "")]
    assert cause_sentence(3, "http_5xx", odd, []) == (
        "3 requests failed (http_5xx); the database logged SQLSTATE 22012 (division_by_zero) "
        "'division by zero' 3 times")


def test_exception_groups_from_the_frame() -> None:
    frame = pd.DataFrame({"t": [1.0, 2.0, 3.0], "instance": ["a", "b", "a"],
                          "type": ["KeyError", "KeyError", "ValueError"],
                          "message": ["'x1'", "'x2'", "bad"], "where": ["app.py:3"] * 3})
    groups = exception_groups(frame, start=1.5)
    assert [(g.type, g.count) for g in groups] == [("KeyError", 1), ("ValueError", 1)]


def test_what_the_server_logs_while_the_harness_stops_it_is_not_a_rejection() -> None:
    frame = errors((1.0, "FATAL", "57P01", "terminating connection due to administrator command"),
                   (3.0, "ERROR", "26000", 'prepared statement "a" does not exist'),
                   (9.0, "FATAL", "57P01", "terminating connection due to administrator command"))
    events = ["shutdown", "server_ready", "shutdown"]  # a restart fault, then the final stop
    pglog = pd.DataFrame({"t": [0.9, 1.5, 8.0], "event": events, "pid": 1, "user": "",
                          "message": ""})
    kept = before_final_stop(frame, pglog)
    assert list(kept["t"]) == [1.0, 3.0]  # the fault's 57P01 stays, the final stop's goes
    assert len(before_final_stop(frame, pglog.iloc[:2])) == 3  # restarted: nothing cut
    assert len(before_final_stop(frame, pglog.iloc[:0])) == 3  # an older log: nothing cut
