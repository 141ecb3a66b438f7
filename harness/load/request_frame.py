"""Merge the per-process request logs of a Locust run into the ``requests`` frame."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from harness.load.request_log import COLUMNS, FILE_GLOB
from harness.results.frames import FRAME_SCHEMAS, coerce_frame, empty_frame

_READ_DTYPES: dict[str, str] = FRAME_SCHEMAS["requests"]


def complete_lines(data: bytes) -> bytes:
    """``data`` up to and including its last newline (drops a truncated last line)."""
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""


def read_request_log(path: Path) -> pd.DataFrame:
    """One process's log as a ``requests`` frame (a truncated last line is ignored)."""
    data = complete_lines(path.read_bytes())
    header = data.find(b"\n")
    if header < 0 or data.count(b"\n") < 2:
        return empty_frame("requests")
    frame = pd.read_csv(
        io.BytesIO(data),
        dtype=_READ_DTYPES,
        usecols=list(COLUMNS),
        keep_default_na=False,
        na_filter=False,
        engine="c",
    )
    return coerce_frame("requests", frame, str(path))[list(COLUMNS)]


def read_request_logs(out_dir: Path) -> pd.DataFrame:
    """All ``requests-*.csv`` of ``out_dir`` merged and sorted by ``t``."""
    frames = [read_request_log(p) for p in sorted(out_dir.glob(FILE_GLOB))]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return empty_frame("requests")
    merged = pd.concat(frames, ignore_index=True)
    return merged.sort_values("t", kind="stable").reset_index(drop=True)
