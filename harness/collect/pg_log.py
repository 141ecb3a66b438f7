"""Connection events and errors from the PostgreSQL server log: the ground truth for refusals,
for how many backends were open at once, and for what the database rejected.

The server runs with ``log_connections``, ``log_disconnections``,
``log_line_prefix = '%m [%p] %e '`` (time, backend pid, SQLSTATE) and ``log_timezone = UTC``,
so the lines of interest are::

    2026-11-26 23:01:02.345 UTC [1234] 00000 LOG:  connection received: host=127.0.0.1 ...
    2026-11-26 23:01:02.346 UTC [1234] 00000 LOG:  connection authorized: user=app database=app
    2026-11-26 23:01:02.347 UTC [1235] 53300 FATAL:  sorry, too many clients already
    2026-11-26 23:01:02.347 UTC [1236] 53300 FATAL:  remaining connection slots are reserved ...
    2026-11-26 23:01:05.001 UTC [1234] 26000 ERROR:  prepared statement "__asyncpg_stmt_2__" ...
    2026-11-26 23:01:09.000 UTC [1234] 00000 LOG:  disconnection: session time: 0:00:06.654 ...

Logs written with the older prefix ``'%m [%p] '`` (no SQLSTATE) read too. Every ERROR, FATAL
and PANIC line goes to the ``db_errors`` frame with its SQLSTATE (empty when the prefix has
none); the connection events go to ``pglog``, and so does ``server_ready`` ("database system
is ready to accept connections": a restarted server has no backend left) and ``shutdown``
("received fast shutdown request": what the server logs after it, until it is ready again,
is its own stop, e.g. ``57P01`` for every backend still open when the harness stops it).

Both FATAL messages are SQLSTATE 53300 (``refused``). PostgreSQL checks the reserved slots
only after authorization, so such a refused backend first logs "connection authorized":
that ``authorized`` event is withdrawn when the refusal of the same pid follows, and
``authorized`` counts admitted connections only. ``PgLogCollector`` tails the file from the
start (keeping only events at or after ``since_t``), a little more at every sample, and
reads the remainder at ``stop()``.

While a restarted server shuts down and recovers, a connection gets ``FATAL:  the database
system is shutting down`` or ``... is starting up`` (SQLSTATE 57P03, cannot_connect_now):
event ``starting_up``. A log without the SQLSTATE prefix is read by those messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from harness.results.frames import coerce_frame, empty_frame

COLUMNS = ("t", "event", "pid", "user", "message")
ERROR_COLUMNS = ("t", "pid", "level", "sqlstate", "message")
ERROR_LEVELS = ("ERROR", "FATAL", "PANIC")

_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) (?P<tz>[A-Za-z]+|[+-]\d\d(?::?\d\d)?) "
    r"\[(?P<pid>\d+)\] (?:(?P<state>[0-9A-Z]{5}) )?(?P<level>[A-Z]+):  "
    r"(?:(?P<code>[0-9A-Z]{5}): )?(?P<msg>.*)$"
)
_USER = re.compile(r"\buser=(\S+)")
_REFUSED = (
    "sorry, too many clients already",
    "remaining connection slots are reserved",
)
_STARTING = (  # SQLSTATE 57P03 while the server shuts down or recovers (a restart)
    "the database system is starting up",
    "the database system is not yet accepting connections",
    "the database system is shutting down",
)


_READY = "database system is ready to accept connections"
_SHUTDOWN = ("received fast shutdown request", "received smart shutdown request",
             "received immediate shutdown request")


@dataclass(frozen=True)
class LogEvent:
    t: float
    event: str  # received | authorized | refused | starting_up | disconnected | server_ready
    #             | shutdown
    pid: int
    user: str
    message: str


@dataclass(frozen=True)
class LogError:
    """An ERROR, FATAL or PANIC line: what the database rejected."""

    t: float
    pid: int
    level: str
    sqlstate: str
    message: str


@dataclass(frozen=True)
class LogLine:
    """What one server log line holds for the harness: an event, an error, or both."""

    event: LogEvent | None
    error: LogError | None


def _tz(name: str) -> timezone:
    if name.isalpha():
        if name.upper() in ("UTC", "GMT", "Z"):
            return UTC
        raise ValueError(f"unsupported time zone {name!r} (set log_timezone = UTC)")
    sign = -1 if name[0] == "-" else 1
    digits = name[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_timestamp(ts: str, tz: str) -> float:
    """Epoch seconds of a ``%m`` timestamp such as ``2026-11-26 23:01:02.345`` in ``tz``."""
    return datetime.fromisoformat(ts).replace(tzinfo=_tz(tz)).timestamp()


def _event(level: str, code: str | None, msg: str) -> str | None:
    if level == "LOG":
        if msg.startswith("connection received:"):
            return "received"
        if msg.startswith("connection authorized:"):
            return "authorized"
        if msg.startswith("disconnection:"):
            return "disconnected"
        if msg.startswith(_READY):
            return "server_ready"
        if msg.startswith(_SHUTDOWN):
            return "shutdown"
        return None
    if level == "FATAL" and (code == "53300" or msg.startswith(_REFUSED)):
        return "refused"
    if level == "FATAL" and (code == "57P03" or msg.startswith(_STARTING)):
        return "starting_up"
    return None


def parse_line(line: str) -> LogEvent | None:
    """The connection event of one log line; None for any other line."""
    parsed = parse_log_line(line)
    return parsed.event if parsed is not None else None


def parse_log_line(line: str) -> LogLine | None:
    """The connection event and the error of one log line; None when it holds neither."""
    m = _LINE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    msg, level = m["msg"], m["level"]
    sqlstate = m["code"] or m["state"] or ""
    event = _event(level, sqlstate or None, msg)
    if event is None and level not in ERROR_LEVELS:
        return None
    try:
        t = parse_timestamp(m["ts"], m["tz"])
    except ValueError:
        return None
    pid = int(m["pid"])
    found = None
    if event is not None:
        user = _USER.search(msg) if event in ("authorized", "disconnected") else None
        found = LogEvent(t, event, pid, user.group(1) if user else "", msg)
    error = LogError(t, pid, level, sqlstate, msg) if level in ERROR_LEVELS else None
    return LogLine(found, error)


class PgLogCollector:
    """Tails ``log_path`` incrementally; events before ``since_t`` are skipped."""

    name = "pg_log"
    interval_s: float | None = None

    def __init__(
        self,
        log_path: Path,
        since_t: float = 0.0,
        *,
        interval_s: float | None = None,
        max_read_bytes: int = 8 << 20,
    ) -> None:
        self.log_path = log_path
        self.since_t = since_t
        self.interval_s = interval_s
        self.max_read_bytes = max_read_bytes
        self._offset = 0
        self._partial = b""
        self._events: list[LogEvent | None] = []
        self._errors: list[LogError] = []
        self._counts: dict[str, int] = {}
        self._authorized: dict[int, int] = {}  # pid -> index of its "authorized" event
        self.read_to_end = False  # set when stop() has read the whole log

    def _read(self, final: bool) -> None:
        try:
            with self.log_path.open("rb") as f:
                if os.fstat(f.fileno()).st_size < self._offset:  # truncated: start over
                    self._offset, self._partial = 0, b""
                f.seek(self._offset)
                chunk = f.read(-1 if final else self.max_read_bytes)
        except FileNotFoundError:
            if final:
                raise
            return
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = b"" if final else lines.pop()
        for raw in lines:
            parsed = parse_log_line(raw.decode("utf-8", "replace"))
            if parsed is None:
                continue
            if parsed.event is not None and parsed.event.t >= self.since_t:
                self._accept(parsed.event)
            if parsed.error is not None and parsed.error.t >= self.since_t:
                self._errors.append(parsed.error)

    def _count(self, event: str, delta: int) -> None:
        self._counts[event] = self._counts.get(event, 0) + delta

    def _accept(self, ev: LogEvent) -> None:
        """Keep ``ev``; a refusal after authorization withdraws that "authorized" event."""
        if ev.event == "refused" and ev.pid in self._authorized:
            self._events[self._authorized.pop(ev.pid)] = None
            self._count("authorized", -1)
        elif ev.event == "authorized":
            self._authorized[ev.pid] = len(self._events)
        elif ev.event == "disconnected":
            self._authorized.pop(ev.pid, None)
        self._events.append(ev)
        self._count(ev.event, 1)

    async def start(self) -> None:
        self._read(final=False)

    async def sample(self, t: float) -> None:
        self._read(final=False)

    async def stop(self) -> None:
        self._read(final=True)
        self.read_to_end = True

    async def read_rest(self) -> None:
        """After the server stopped: the lines it wrote since :meth:`stop`."""
        self._read(final=True)

    def frames(self) -> dict[str, pd.DataFrame]:
        rows = [(e.t, e.event, e.pid, e.user, e.message) for e in self._events if e is not None]
        errors = [(e.t, e.pid, e.level, e.sqlstate, e.message) for e in self._errors]
        return {"pglog": _frame("pglog", rows, COLUMNS),
                "db_errors": _frame("db_errors", errors, ERROR_COLUMNS)}

    def latest(self) -> dict[str, float]:
        return {f"pglog.{k}": float(v) for k, v in self._counts.items()}


def _frame(name: str, rows: Sequence[tuple[object, ...]], columns: tuple[str, ...]) -> pd.DataFrame:
    if not rows:
        return empty_frame(name)
    return coerce_frame(name, pd.DataFrame(rows, columns=list(columns)))
