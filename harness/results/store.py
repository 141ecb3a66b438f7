"""Reading and writing the run folder: atomic writes, the manifest, versions.

Every file is written to a temp name and renamed, so a crash never leaves half a file.
Paths inside the manifest are relative to the run folder, so a copied folder still works.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import IncompleteRunError, InputError
from harness.results.redact import redact

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
SUMMARY = "summary.json"


def utc_stamp(t: float | None = None) -> str:
    moment = datetime.now(UTC) if t is None else datetime.fromtimestamp(t, UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def _atomic(path: Path, write: Any) -> None:
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
    text = json.dumps(redact(data), indent=2, sort_keys=False, default=str) + "\n"
    _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_frame(path: Path, frame: pd.DataFrame) -> None:
    """Write a parquet file atomically."""
    _atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IncompleteRunError(f"{path}: missing — the run folder is incomplete") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise IncompleteRunError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise IncompleteRunError(f"{path}: expected a JSON object")
    return data


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of a run folder (InputError when the folder does not exist)."""
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run folder")
    manifest = read_json(run_dir / MANIFEST)
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(f"{run_dir / MANIFEST}: schema_version {version!r} is not supported "
                         f"(this pgstampede reads {SCHEMA_VERSION})")
    return manifest


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
