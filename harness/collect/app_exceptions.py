"""The persistent server's unhandled exceptions: the lines its workers append to a file.

Each worker of the app's server (``pgstampede_apphost.served``, harness.app.served) appends
one JSON object per exception that escaped the app to ``<variant>/logs/app-exceptions.jsonl``:
``{"t", "instance" (the worker's pid), "type", "message", "where"}``. A command app writes
its control channel there (``{"exception": {"type", "message", "where"}}``, docs/app.md):
such a line is timed when it is read, its instance unknown; ``{"pending": N}`` is skipped.

This collector reads what is new at every sample, the rest once the server has stopped
(``read_rest``: its workers' last requests), and keeps the ``app_exceptions`` frame. A torn
last line is read at the next call; a line that is not such an object is skipped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from harness.results import metric_names as M
from harness.results.frames import coerce_frame

COLUMNS = ("t", "instance", "type", "message", "where")


class AppExceptionsCollector:
    """Tails the exceptions file of the persistent app's server."""

    name = "app_exceptions"

    def __init__(self, path: Path, interval_s: float | None = None) -> None:
        self.path = path
        self.interval_s = interval_s
        self._offset = 0
        self._rows: list[tuple[float, str, str, str, str]] = []

    async def start(self) -> None:
        self._read()

    async def sample(self, t: float) -> None:
        self._read()

    async def stop(self) -> None:
        self._read()

    async def read_rest(self) -> None:
        self._read()

    def _read(self) -> None:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # whole lines only
        self._offset += end
        now = time.time()
        for line in data[:end].splitlines():
            row = _row(line, now)
            if row is not None:
                self._rows.append(row)

    def frames(self) -> dict[str, pd.DataFrame]:
        frame = pd.DataFrame(self._rows, columns=list(COLUMNS))
        return {"app_exceptions": coerce_frame("app_exceptions", frame)}

    def latest(self) -> dict[str, float]:
        return {M.APP_EXCEPTIONS: float(len(self._rows))}


def _row(line: bytes, now: float) -> tuple[float, str, str, str, str] | None:
    try:
        doc: Any = json.loads(line)
        if isinstance(doc, dict) and isinstance(doc.get("exception"), dict):
            doc = {"t": now, **doc["exception"]}  # a command app's control channel
        return (float(doc["t"]), str(doc.get("instance", "")), str(doc.get("type", "")),
                str(doc.get("message", "")), str(doc.get("where", "")))
    except (ValueError, TypeError, KeyError):
        return None
