"""Merge the per-process realtime logs of a Locust run into the ``realtime`` frame."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from harness.load.realtime_log import REALTIME_GLOB
from harness.load.request_frame import complete_lines
from harness.results.frames import FRAME_SCHEMAS, coerce_frame, empty_frame
from harness.results.realtime import REALTIME_COLUMNS


def read_realtime_log(path: Path) -> pd.DataFrame:
    """One process's realtime log (a truncated last line is ignored)."""
    data = complete_lines(path.read_bytes())
    if data.count(b"\n") < 2:
        return empty_frame("realtime")
    frame = pd.read_csv(io.BytesIO(data), dtype=FRAME_SCHEMAS["realtime"],
                        usecols=list(REALTIME_COLUMNS), keep_default_na=False, na_filter=False)
    return coerce_frame("realtime", frame, str(path))[list(REALTIME_COLUMNS)]


def read_realtime_logs(out_dir: Path) -> pd.DataFrame:
    """All ``realtime-*.csv`` of ``out_dir`` merged and sorted by ``t``."""
    frames = [f for f in (read_realtime_log(p) for p in sorted(out_dir.glob(REALTIME_GLOB)))
              if not f.empty]
    if not frames:
        return empty_frame("realtime")
    merged = pd.concat(frames, ignore_index=True)
    return merged.sort_values("t", kind="stable").reset_index(drop=True)
