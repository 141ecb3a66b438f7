"""The progress file the locustfile writes for the live display, and how to follow it.

One JSON object per line (``progress.jsonl`` in the out dir), written by the process that
drives the shape (the local runner, or the master of ``--processes``):

- ``{"event": "start", "t": ...}`` when the shape starts (the load start);
- ``{"t", "users", "requests", "failures", "stage", "event": "progress"}`` about every second;
- ``{"event": "end", "t": ...}`` when the shape is over.

Each line is a :class:`LocustProgress` or a :class:`ShapeEvent`, written and read through the
one codec (:mod:`harness.results.codec`); a line that is neither (torn, or not JSON) is skipped.

No locust or pandas imports: used on both sides of the process boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.results.codec import DecodeError, dumps, loads

PROGRESS_FILE = "progress.jsonl"


@dataclass(frozen=True)
class LocustProgress:
    t: float
    users: int
    requests: int
    failures: int
    stage: int = -1
    event: Literal["progress"] = "progress"  # the line's tag


@dataclass(frozen=True)
class ShapeEvent:
    event: Literal["start", "end"]
    t: float


ProgressLine = LocustProgress | ShapeEvent


def progress_line(p: LocustProgress) -> str:
    return dumps(p) + "\n"


def event_line(e: ShapeEvent) -> str:
    return dumps(e) + "\n"


def parse_line(line: str) -> LocustProgress | ShapeEvent | None:
    """The record of one line; None for a blank or malformed line."""
    try:
        record: ProgressLine = loads(ProgressLine, line, PROGRESS_FILE, defaults=True)
    except DecodeError:
        return None
    return record


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
