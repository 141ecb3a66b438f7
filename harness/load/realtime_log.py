"""The realtime log: what each ``/events`` subscriber saw, one CSV file per Locust process.

Rows (columns ``REALTIME_COLUMNS``, the ``realtime`` frame of docs/internals.md)::

    kind     t                              other columns
    start    the ready event's arrival      after_id: every message with a larger id is due
    message  its arrival                    message_id, delay_ms = arrival - published_at
    end      the end of the subscription    reason: done (the subscriber's window ended; t is
                                            that moment), cut (the stream closed: the platform's
                                            max_duration, or the server went), end (the hub
                                            lost its LISTEN connection), error (the stream
                                            broke), refused (the subscribe request failed, or
                                            its stream closed before ``ready``), stopped
                                            (the load ended while it was subscribed; messages
                                            published in its last ``STOP_GRACE_S`` are not
                                            due: they may have been in flight)

``subscriber`` names one subscribing task (a user's ``subscribe_duration`` window, across its
reconnects), ``subscription`` counts its streams from 1. No pandas here (Locust process).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TextIO

REALTIME_COLUMNS: tuple[str, ...] = ("t", "subscriber", "subscription", "kind", "message_id",
                                     "after_id", "delay_ms", "reason")
REALTIME_GLOB = "realtime-*.csv"
START, MESSAGE, END = "start", "message", "end"
DONE, CUT, SERVER_END, ERROR, REFUSED, STOPPED = ("done", "cut", "end", "error", "refused",
                                                  "stopped")
STOP_GRACE_S = 1.0
DISCONNECTS = (CUT, SERVER_END, ERROR)  # a stream that was subscribed and ended early


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
