"""The raw per-request log: one CSV file per Locust process, written with a large buffer.

Columns are those of the ``requests`` frame (docs/internals.md). Each Locust process
(local, or every worker of ``--processes N``) writes ``requests-<pid>.csv`` in the out
dir; ``harness.load.request_frame.read_request_logs`` merges them. No pandas here: this
module runs inside the Locust subprocess.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from harness.load.outcome import Outcome

COLUMNS: tuple[str, ...] = ("t", "endpoint", "latency_ms", "status", "kind", "instance", "counter")
FILE_GLOB = "requests-*.csv"
BUFFER_BYTES = 1 << 20
ROW_FORMAT = "%.6f,%s,%.3f,%d,%s,%s,%d\n"
"""One row without quoting: ``%`` formats floats at a third of an f-string's cost."""
PLAIN_MEMORY = 4096  # how many distinct plain field values a writer remembers


def _plain(field: str) -> bool:
    """True when ``field`` can be written to CSV without quoting."""
    return not ("," in field or '"' in field or "\n" in field or "\r" in field)


def request_log_path(out_dir: Path, pid: int) -> Path:
    return out_dir / f"requests-{pid}.csv"


class RequestLogWriter:
    """Appends request rows to this process's log file, opened on the first row.

    Create it in the process that writes (the locustfile does, in Locust's ``init`` event,
    after ``--processes`` has forked): the pid naming the file is read once, at opening,
    because ``os.getpid()`` is a system call and ``write`` runs once per request.
    """

    def __init__(self, out_dir: Path, buffer_bytes: int = BUFFER_BYTES) -> None:
        self._out_dir = out_dir
        self._buffer_bytes = buffer_bytes
        self._pid = -1
        self._file: TextIO | None = None
        self._writerow: Callable[[Iterable[object]], object] | None = None  # quoting path
        self._plain: set[str] = set()  # field values seen without a character to quote
        self.rows = 0

    @property
    def path(self) -> Path | None:
        return None if self._file is None else request_log_path(self._out_dir, self._pid)

    def _open(self) -> Callable[[Iterable[object]], object]:
        self._pid = os.getpid()
        path = request_log_path(self._out_dir, self._pid)
        self._file = path.open("w", buffering=self._buffer_bytes, newline="", encoding="utf-8")
        writerow = csv.writer(self._file, lineterminator="\n").writerow
        writerow(COLUMNS)
        self._writerow = writerow
        return writerow

    def write(
        self, t: float, endpoint: str, latency_ms: float, status: int, outcome: Outcome
    ) -> None:
        writerow = self._writerow
        if writerow is None:
            writerow = self._open()
        kind, instance, counter = outcome
        plain = self._plain  # a handful of endpoints, kinds and instances: checked once each
        if (endpoint in plain and instance in plain and kind in plain) or self._remember_plain(
            endpoint, instance, kind
        ):
            assert self._file is not None
            row = ROW_FORMAT % (t, endpoint, latency_ms, status, kind, instance, counter)
            self._file.write(row)
        else:  # a field needs CSV quoting
            writerow((f"{t:.6f}", endpoint, f"{latency_ms:.3f}", status, kind, instance, counter))
        self.rows += 1

    def _remember_plain(self, *fields: str) -> bool:
        """True when no field needs quoting; remembers them (forgets all past PLAIN_MEMORY)."""
        if not all(_plain(f) for f in fields):
            return False
        if len(self._plain) > PLAIN_MEMORY:
            self._plain.clear()  # e.g. an app answering a new instance id per request
        self._plain.update(fields)
        return True

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._writerow = None
