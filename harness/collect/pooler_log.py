"""Refusals from the pooler's own log: clients the pooler turned away, not PostgreSQL.

PgBouncer logs (``log_pooler_errors = 1``)::

    2026-11-29 09:59:34.219 UTC [6577] WARNING C-0x5644...: (nodb)/(nouser)@127.0.0.1:36746
        pooler error: no more connections allowed (max_client_conn)
    2026-11-29 09:59:35.001 UTC [6577] WARNING S-0x...: app/app@127.0.0.1:5432
        cannot connect to server / server login failed: FATAL sorry, too many clients already

pgpool-II (``log_line_prefix = '%t: pid %p: '``, run with ``TZ=UTC``)::

    2026-11-29 09:46:03: pid 16314: FATAL:  Sorry, too many clients already

(pgpool only refuses clients with ``reserved_connections`` > 0; by default they wait.)

Events: ``refused`` (the pooler refused a client: ``max_client_conn``, or pgpool's own
"Sorry, too many clients already") and ``server_refused`` (PostgreSQL refused the pooler's
login). The file is tailed from its start like the server log (events before ``since_t``
are skipped) and read to its end at ``stop()``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.collect.pg_log import parse_timestamp
from harness.results import metric_names as M

COLUMNS = ("t", "event", "message")

_PGBOUNCER = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) (?P<tz>[A-Za-z]+) \[\d+\] "
    r"[A-Z]+ (?P<msg>.*)$")
_PGPOOL = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d): pid \d+: [A-Z]+:  (?P<msg>.*)$")
_EVENTS = (
    ("no more connections allowed", "refused"),
    ("Sorry, too many clients already", "refused"),  # pgpool's own (capital S)
    ("server login failed", "server_refused"),
)


@dataclass(frozen=True)
class PoolerEvent:
    t: float
    event: str  # refused | server_refused
    message: str


def parse_pooler_line(line: str) -> PoolerEvent | None:
    """The refusal event of one PgBouncer or pgpool log line; None for any other line."""
    line = line.rstrip("\r\n")
    m = _PGBOUNCER.match(line)
    tz = m["tz"] if m else "UTC"
    m = m or _PGPOOL.match(line)
    if m is None:
        return None
    msg = m["msg"]
    event = next((e for marker, e in _EVENTS if marker in msg), None)
    if event is None:
        return None
    try:
        t = parse_timestamp(m["ts"], tz)
    except ValueError:
        return None
    return PoolerEvent(t, event, msg[:300])


class PoolerLogCollector:
    """Tails a pooler's log; the ``pooler_log`` frame of its refusal events."""

    name = "pooler_log"
    interval_s: float | None = None

    def __init__(self, log_path: Path, since_t: float = 0.0, *,
                 interval_s: float | None = None) -> None:
        self.log_path = log_path
        self.since_t = since_t
        self.interval_s = interval_s
        self._offset = 0
        self._partial = b""
        self._events: list[PoolerEvent] = []

    def _read(self) -> None:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            event = parse_pooler_line(raw.decode("utf-8", "replace"))
            if event is not None and event.t >= self.since_t:
                self._events.append(event)

    async def start(self) -> None:
        self._read()

    async def sample(self, t: float) -> None:
        self._read()

    async def stop(self) -> None:
        self._read()

    def frames(self) -> dict[str, pd.DataFrame]:
        rows = [(e.t, e.event, e.message) for e in self._events]
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        return {"pooler_log": frame.astype({"t": "float64", "event": "str", "message": "str"})}

    def latest(self) -> dict[str, float]:
        return {M.POOLER_REFUSED: float(sum(e.event == "refused" for e in self._events))}
