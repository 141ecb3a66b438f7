"""Atomic writes into the run folder, and the checks made before a run writes anything.

Every file is written to a temp name and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import InputError
from harness.results.redact import redact


def utc_stamp(t: float | None = None) -> str:
    moment = datetime.now(UTC) if t is None else datetime.fromtimestamp(t, UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temp)`` then rename the temp file to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Mapping[str, Any] | list[Any]) -> None:
    """Write JSON atomically (temp file + rename), with DSN passwords masked."""
    text = json.dumps(redact(data), indent=2, sort_keys=False, allow_nan=False) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    """Write a parquet file atomically."""
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


MIN_FREE_BYTES = 256 * 2**20


def check_writable(out: Path, min_free_bytes: int = MIN_FREE_BYTES) -> None:
    """Refuse an output folder that cannot be written, or a disk too full for a run's
    results, before anything starts."""
    probe_dir = out if out.exists() else out.parent
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    if not os.access(probe_dir, os.W_OK | os.X_OK):
        raise InputError(f"--out {out}: folder {probe_dir} is not writable")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"--out {out}: folder is not empty (choose a new one)")
    free = shutil.disk_usage(probe_dir).free
    if free < min_free_bytes:
        raise InputError(f"--out {out}: only {free / 2**20:.0f} MiB free on its disk "
                         f"(a run needs at least {min_free_bytes / 2**20:.0f} MiB)")
