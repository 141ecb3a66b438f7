"""Unit tests of the server-log parser and the incremental tail, on literal lines."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.collect.pg_log import (
    LogError,
    LogEvent,
    PgLogCollector,
    parse_line,
    parse_log_line,
    parse_timestamp,
)

T = datetime(2026, 11, 26, 23, 1, 2, 345000, tzinfo=UTC).timestamp()

RECEIVED = "2026-11-26 23:01:02.345 UTC [1234] LOG:  connection received: host=127.0.0.1 port=5555"
AUTHORIZED = "2026-11-26 23:01:02.345 UTC [1234] LOG:  connection authorized: user=app database=app"
TOO_MANY = "2026-11-26 23:01:02.345 UTC [1240] FATAL:  sorry, too many clients already"
RESERVED = (
    "2026-11-26 23:01:02.345 UTC [1241] FATAL:  remaining connection slots are reserved for "
    "non-replication superuser connections"
)
RESERVED_16 = (
    "2026-11-26 23:01:02.345 UTC [1242] FATAL:  remaining connection slots are reserved for "
    "roles with the SUPERUSER attribute"
)
DISCONNECTED = (
    "2026-11-26 23:01:02.345 UTC [1234] LOG:  disconnection: session time: 0:00:06.654 "
    "user=app database=app host=127.0.0.1 port=5555"
)


def test_connection_events() -> None:
    assert parse_line(RECEIVED) == LogEvent(
        T, "received", 1234, "", "connection received: host=127.0.0.1 port=5555"
    )
    assert parse_line(AUTHORIZED) == LogEvent(
        T, "authorized", 1234, "app", "connection authorized: user=app database=app"
    )
    ev = parse_line(DISCONNECTED)
    assert ev is not None and (ev.event, ev.user, ev.pid) == ("disconnected", "app", 1234)


@pytest.mark.parametrize("line", [TOO_MANY, RESERVED, RESERVED_16])
def test_both_53300_messages_are_refusals(line: str) -> None:
    ev = parse_line(line + "\n")
    assert ev is not None
    assert ev.event == "refused" and ev.user == "" and ev.t == T


def test_sqlstate_in_the_message_is_understood() -> None:
    ev = parse_line(
        "2026-11-26 23:01:02.345 UTC [7] FATAL:  53300: sorry, too many clients already"
    )
    assert ev is not None and ev.event == "refused" and ev.message.startswith("sorry")


def test_authorized_with_application_name() -> None:
    line = (
        "2026-11-26 23:01:02.345 UTC [9] LOG:  connection authorized: user=pgstampede_monitor "
        "database=app application_name=pgstampede-monitor"
    )
    ev = parse_line(line)
    assert ev is not None and ev.user == "pgstampede_monitor"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "2026-11-26 23:01:02.345 UTC [1] LOG:  checkpoint starting: time",
        '2026-11-26 23:01:02.345 UTC [1] FATAL:  password authentication failed for user "x"',
        '2026-11-26 23:01:02.345 UTC [1] ERROR:  relation "nope" does not exist',
        "2026-11-26 23:01:02.345 UTC [1] STATEMENT:  SELECT 1",
        "\tcontinuation of a multi-line statement",
        "connection received: host=127.0.0.1 port=5555",
        "2026-11-26 23:01:02.345 CET [1] LOG:  connection received: host=127.0.0.1 port=1",
    ],
)
def test_other_lines_are_ignored(line: str) -> None:
    assert parse_line(line) is None


def test_timestamps_with_numeric_offsets() -> None:
    assert parse_timestamp("2026-11-26 23:01:02.345", "UTC") == T
    assert parse_timestamp("2026-11-27 00:01:02.345", "+01") == T
    assert parse_timestamp("2026-11-26 21:31:02.345", "-01:30") == T
    assert parse_timestamp("2026-11-26 23:01:02", "GMT") == pytest.approx(T - 0.345)


def collect(path: Path, chunks: list[str], since: float = 0.0) -> PgLogCollector:
    """Write ``chunks`` one by one, sampling after each; stop at the end."""

    async def go() -> PgLogCollector:
        c = PgLogCollector(path, since_t=since)
        await c.start()
        for chunk in chunks:
            with path.open("a") as f:
                f.write(chunk)
            await c.sample(0.0)
        await c.stop()
        return c

    return asyncio.run(go())


def test_tail_handles_partial_lines_and_reads_the_rest_at_stop(tmp_path: Path) -> None:
    log = tmp_path / "postgres.log"
    half = len(RECEIVED) // 2
    c = collect(
        log,
        [
            RECEIVED[:half],
            RECEIVED[half:] + "\n" + AUTHORIZED + "\n",
            TOO_MANY + "\n",
            DISCONNECTED,
        ],
    )
    frame = c.frames()["pglog"]
    assert frame["event"].tolist() == ["received", "authorized", "refused", "disconnected"]
    assert frame["pid"].tolist() == [1234, 1234, 1240, 1234]
    assert str(frame["pid"].dtype) == "int64" and str(frame["user"].dtype) == "str"
    assert c.latest() == {
        "pglog.received": 1.0,
        "pglog.authorized": 1.0,
        "pglog.refused": 1.0,
        "pglog.disconnected": 1.0,
    }


def test_refusal_after_authorization_withdraws_it(tmp_path: Path) -> None:
    """PostgreSQL 15 logs "authorized" before refusing a reserved slot to the same backend."""
    refused_after_auth = [
        "2026-11-26 23:01:02.345 UTC [50] LOG:  connection received: host=127.0.0.1 port=1\n",
        "2026-11-26 23:01:02.345 UTC [50] LOG:  connection authorized: user=app database=app\n",
        RESERVED.replace("[1241]", "[50]") + "\n",
    ]
    c = collect(tmp_path / "pg.log", [AUTHORIZED + "\n", *refused_after_auth])
    frame = c.frames()["pglog"]
    assert frame["event"].tolist() == ["authorized", "received", "refused"]
    assert frame["pid"].tolist() == [1234, 50, 50]
    assert c.latest()["pglog.authorized"] == 1.0


def test_since_filters_older_events_and_missing_file_is_empty(tmp_path: Path) -> None:
    c = collect(tmp_path / "pg.log", [RECEIVED + "\n", TOO_MANY + "\n"], since=T + 1)
    assert c.frames()["pglog"].empty
    assert list(c.frames()["pglog"].columns) == ["t", "event", "pid", "user", "message"]
    missing = PgLogCollector(tmp_path / "absent.log")
    asyncio.run(missing.sample(0.0))
    assert missing.frames()["pglog"].empty


def test_truncated_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "pg.log"
    log.write_text(RECEIVED + "\n" + AUTHORIZED + "\n")
    c = PgLogCollector(log)
    asyncio.run(c.sample(0.0))
    log.write_text(TOO_MANY + "\n")
    asyncio.run(c.stop())
    assert c.frames()["pglog"]["event"].tolist() == ["received", "authorized", "refused"]


# ---------------------------------------------------------------- the %e prefix and errors

PREFIXED = ("2026-11-26 23:01:02.345 UTC [1234] 00000 LOG:  connection authorized: user=app "
            "database=app")
PREPARED = ('2026-11-26 23:01:02.345 UTC [1250] 26000 ERROR:  prepared statement '
            '"__asyncpg_stmt_2__" does not exist')
TOO_MANY_E = "2026-11-26 23:01:02.345 UTC [1240] 53300 FATAL:  sorry, too many clients already"
READY = ("2026-11-26 23:01:02.345 UTC [99] 00000 LOG:  database system is ready to accept "
         "connections")


def test_the_sqlstate_prefix_reads_and_errors_are_kept() -> None:
    ev = parse_line(PREFIXED)
    assert ev is not None and (ev.event, ev.user, ev.pid) == ("authorized", "app", 1234)
    line = parse_log_line(PREPARED)
    assert line is not None and line.event is None
    assert line.error == LogError(T, 1250, "ERROR", "26000",
                                  'prepared statement "__asyncpg_stmt_2__" does not exist')
    refused = parse_log_line(TOO_MANY_E)
    assert refused is not None and refused.event is not None and refused.error is not None
    assert (refused.event.event, refused.error.sqlstate) == ("refused", "53300")
    old = parse_log_line(TOO_MANY)  # a log without %e: the error has no SQLSTATE
    assert old is not None and old.error is not None and old.error.sqlstate == ""
    ready = parse_line(READY)
    assert ready is not None and ready.event == "server_ready"
    assert parse_log_line("2026-11-26 23:01:02.345 UTC [1] 00000 LOG:  checkpoint starting") \
        is None
    stop = parse_line("2026-11-26 23:01:02.345 UTC [1] 00000 LOG:  received fast shutdown "
                      "request")
    assert stop is not None and stop.event == "shutdown"


def test_the_collector_writes_errors_beside_the_events(tmp_path: Path) -> None:
    log = tmp_path / "postgres.log"
    log.write_text("\n".join([PREFIXED, PREPARED, TOO_MANY_E, "  continuation of a query"])
                   + "\n")
    collector = PgLogCollector(log)
    asyncio.run(collector.stop())
    frames = collector.frames()
    assert list(frames["pglog"]["event"]) == ["authorized", "refused"]
    errors = frames["db_errors"]
    assert list(errors["sqlstate"]) == ["26000", "53300"]
    assert list(errors["level"]) == ["ERROR", "FATAL"]
