"""The progress file the locustfile writes for the live display, and how to follow it.

One JSON object per line (``progress.jsonl`` in the out dir), written by the process that
drives the shape (the local runner, or the master of ``--processes``):

- ``{"event": "start", "t": ...}`` when the shape starts (the load start);
- ``{"event": "progress", "t", "users", "requests", "failures", "stage"}`` about every second;
- ``{"event": "end", "t": ...}`` when the shape is over.

No locust or pandas imports: used on both sides of the process boundary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

PROGRESS_FILE = "progress.jsonl"


@dataclass(frozen=True)
class LocustProgress:
    t: float
    users: int
    requests: int
    failures: int
    stage: int = -1


@dataclass(frozen=True)
class ShapeEvent:
    event: str  # "start" | "end"
    t: float


def progress_line(p: LocustProgress) -> str:
    return json.dumps({"event": "progress", **vars(p)}) + "\n"


def event_line(e: ShapeEvent) -> str:
    return json.dumps({"event": e.event, "t": e.t}) + "\n"


def parse_line(line: str) -> LocustProgress | ShapeEvent | None:
    """The record of one line; None for a blank or malformed line."""
    try:
        data = json.loads(line)
        if data["event"] == "progress":
            return LocustProgress(
                t=float(data["t"]),
                users=int(data["users"]),
                requests=int(data["requests"]),
                failures=int(data["failures"]),
                stage=int(data.get("stage", -1)),
            )
        return ShapeEvent(event=str(data["event"]), t=float(data["t"]))
    except (ValueError, KeyError, TypeError):
        return None


class ProgressWriter:
    """Appends records to the progress file, one flushed line each."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, record: LocustProgress | ShapeEvent) -> None:
        line = progress_line(record) if isinstance(record, LocustProgress) else event_line(record)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)


class ProgressReader:
    """Reads the complete lines appended to a progress file since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read_new(self) -> list[LocustProgress | ShapeEvent]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        records = (parse_line(line.decode("utf-8", "replace")) for line in lines if line.strip())
        return [r for r in records if r is not None]
