"""The realtime log: what each ``/events`` subscriber saw, one CSV file per Locust process
(the rows and their vocabulary: ``harness.results.realtime``). No pandas here (Locust
process)."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TextIO

from harness.results.realtime import REALTIME_COLUMNS

REALTIME_GLOB = "realtime-*.csv"


class RealtimeLogWriter:
    """Appends rows to ``realtime-<pid>.csv`` in ``out_dir``, opened on the first row."""

    def __init__(self, out_dir: Path) -> None:
        self._out_dir = out_dir
        self._file: TextIO | None = None

    def _writer(self) -> TextIO:
        if self._file is None:
            path = self._out_dir / f"realtime-{os.getpid()}.csv"
            self._file = path.open("w", newline="", encoding="utf-8")
            csv.writer(self._file, lineterminator="\n").writerow(REALTIME_COLUMNS)
        return self._file

    def write(self, t: float, subscriber: str, subscription: int, kind: str, *,
              message_id: int = 0, after_id: int = 0, delay_ms: float = 0.0,
              reason: str = "") -> None:
        csv.writer(self._writer(), lineterminator="\n").writerow(
            (f"{t:.6f}", subscriber, subscription, kind, message_id, after_id,
             f"{delay_ms:.3f}", reason))

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
