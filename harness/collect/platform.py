"""The platform collector: instance counts and cold starts from the gateway's stats endpoint.

Polls ``GET <stats_url>?since=<cursor>`` over one keep-alive HTTP/1.1 connection, reads the
answer strictly as a ``PlatformStats`` (harness.results.platform_stats documents the JSON; a missing
or renamed field fails the sample instead of reading 0) and keeps two frames
(docs/internals.md):

    platform      t, starting, busy, warm, frozen, zombie, queue, cold_starts, reaped, throttled
                  (the last three cumulative), init_failures (cumulative), background_pending
                  (app work running after its response, now), background_completed,
                  background_delayed, background_lost (cumulative), init_error (the first
                  init failure's text, "" until there is one)
    cold_starts   t (start of the cold start), instance, duration_ms, cpu_ms (the
                  instance's own CPU until ready; NaN where it could not be read)
    app_exceptions  t, instance, type, message, where: the unhandled exceptions the app's
                  instances reported (harness.apphost.exceptions)

Each cold start and each exception is recorded once: the cursors the gateway returns are
passed back as ``since`` and ``exceptions_since``.
The background columns count a user's app's work (harness.apphost.background); the built-in
handler's background jobs are in the database instead (the ``background`` frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from harness.results import metric_names as M
from harness.results.frames import coerce_frame
from harness.results.platform_stats import PHASES, PlatformStats

PLATFORM_COLUMNS = (
    "starting",
    "busy",
    "warm",
    "frozen",
    "zombie",
    "queue",
    "cold_starts",
    "reaped",
    "throttled",
    "init_failures",
    "background_pending",
    "background_completed",
    "background_delayed",
    "background_lost",
)
TEXT_COLUMNS = ("init_error",)
COLD_START_COLUMNS = ("t", "instance", "duration_ms", "cpu_ms")
EXCEPTION_COLUMNS = ("t", "instance", "type", "message", "where")


class PlatformCollector:
    """Collector of the serverless platform's gateway statistics."""

    name = "platform"

    def __init__(self, stats_url: str, interval_s: float | None = None, timeout_s: float = 2.0):
        parts = urlsplit(stats_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"stats_url must be http://host:port/path, got {stats_url!r}")
        self.stats_url = stats_url
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._host = parts.hostname
        self._port = parts.port or 80
        self._path = parts.path or "/__platform/stats"
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._cursor = 0
        self._rows: list[tuple[float | str, ...]] = []
        self._init_error = ""
        self._cold: list[tuple[float, str, float, float]] = []
        self._raised_cursor = 0
        self._raised: list[tuple[float, str, str, str, str]] = []
        self._latest: dict[str, float] = {}

    async def start(self) -> None:
        self._cursor = 0
        self._raised_cursor = 0

    async def sample(self, t: float) -> None:
        stats = PlatformStats.from_dict(await self._fetch())
        if stats.cursor < self._cursor:  # a new gateway: start over
            self._cursor = 0
        if stats.exception_cursor < self._raised_cursor:
            self._raised_cursor = 0
        if not self._init_error and stats.init_errors:
            self._init_error = stats.init_errors[0].error
        self._rows.append((t, *_columns(stats), self._init_error))
        self._cold.extend((e.t, e.instance, e.duration_ms,
                           math.nan if e.cpu_ms is None else e.cpu_ms) for e in stats.events)
        self._cursor = stats.cursor
        self._raised.extend((e.t, e.instance, e.type, e.message, e.where)
                            for e in stats.exceptions)
        self._raised_cursor = stats.exception_cursor
        c = stats.counters
        self._latest = {
            "platform.instances": float(stats.instances),
            "platform.busy": float(stats.phases["busy"]),
            "platform.frozen": float(stats.phases["frozen"]),
            "platform.zombies": float(stats.phases["zombie"]),
            "platform.queue": float(stats.queue),
            M.PLATFORM_COLD_STARTS: float(c.cold_starts),
            M.PLATFORM_INIT_FAILURES: float(c.init_failures),
            M.APP_EXCEPTIONS: float(c.exceptions),
            "platform.background_pending": float(stats.background_pending),
        }

    async def stop(self) -> None:
        """Take a last sample (best effort, so that late cold starts are kept), then close."""
        with contextlib.suppress(OSError, ValueError, asyncio.TimeoutError):
            await self.sample(time.time())
        self._close()

    def frames(self) -> dict[str, pd.DataFrame]:
        platform = pd.DataFrame(self._rows, columns=["t", *PLATFORM_COLUMNS, *TEXT_COLUMNS])
        platform = platform.astype({"t": "float64", **dict.fromkeys(PLATFORM_COLUMNS, "int64"),
                                    **dict.fromkeys(TEXT_COLUMNS, "str")})
        cold = pd.DataFrame(self._cold, columns=list(COLD_START_COLUMNS))
        cold = cold.astype({"t": "float64", "instance": "object", "duration_ms": "float64",
                            "cpu_ms": "float64"})
        raised = pd.DataFrame(self._raised, columns=list(EXCEPTION_COLUMNS))
        return {"platform": platform, "cold_starts": cold,
                "app_exceptions": coerce_frame("app_exceptions", raised)}

    def latest(self) -> dict[str, float]:
        return dict(self._latest)

    async def _fetch(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._get()
        except BaseException:
            self._close()
            raise

    async def _get(self) -> dict[str, Any]:
        if self._conn is None:
            self._conn = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._conn
        request = (
            f"GET {self._path}?since={self._cursor}&exceptions_since={self._raised_cursor} "
            "HTTP/1.1\r\n"
            f"Host: {self._host}:{self._port}\r\nConnection: keep-alive\r\n\r\n"
        )
        writer.write(request.encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status, length = _parse_head(head)
        body = await reader.readexactly(length)
        if status != 200:
            raise ValueError(f"{self.stats_url} answered HTTP {status}")
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise ValueError(f"{self.stats_url} did not answer a JSON object")
        return doc

    def _close(self) -> None:
        if self._conn is not None:
            self._conn[1].close()
            self._conn = None


def _columns(stats: PlatformStats) -> tuple[float, ...]:
    """The ``PLATFORM_COLUMNS`` of one snapshot, in that order."""
    c = stats.counters
    return (*(float(stats.phases[p]) for p in PHASES), float(stats.queue),
            float(c.cold_starts), float(c.reaped), float(c.throttled), float(c.init_failures),
            float(stats.background_pending), float(c.background_completed),
            float(c.background_delayed), float(c.background_lost))


def _parse_head(head: bytes) -> tuple[int, int]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, length
