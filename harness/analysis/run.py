"""A run folder in memory: its manifest and the frames of every variant run.

``load_run`` is the only reader of a run folder for analysis and reports. Each manifest
entry becomes a ``VariantRun`` whose ``ctx`` (``VariantContext``) is built from the entry:
load window, stages (epoch seconds), max_connections, pooler, target and the background
delay found in its resolved ``config``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.analysis.frames import load_frames
from harness.analysis.metrics import StageWindow, VariantContext
from harness.errors import InputError


@dataclass(frozen=True)
class VariantRun:
    """One repeat of one variant: where it is, how it ended, and its frames."""

    name: str
    repeat: int
    directory: Path
    status: str
    error: str | None
    ctx: VariantContext | None
    frames: dict[str, pd.DataFrame]
    faults: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RunData:
    """A run folder in memory: its manifest and its variant runs in manifest order."""

    run_dir: Path
    manifest: dict[str, Any]
    runs: tuple[VariantRun, ...]


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """``manifest.json`` of a run folder; one clear line when it is missing or invalid."""
    path = run_dir / "manifest.json"
    if not path.is_file():
        raise InputError(f"{path}: no manifest.json (is {run_dir} a pgstampede run folder?)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("variants"), list):
        raise InputError(f"{path}: expected an object with a 'variants' list")
    return manifest


def find_key(data: object, key: str) -> object:
    """The first value stored under ``key`` anywhere in nested dicts/lists, else None."""
    if isinstance(data, Mapping):
        if key in data:
            return data[key]
        items: Sequence[object] = list(data.values())
    elif isinstance(data, list):
        items = data
    else:
        return None
    for item in items:
        found = find_key(item, key)
        if found is not None:
            return found
    return None


_DURATION = re.compile(r"^\s*([0-9.]+)\s*(ms|s|m)?\s*$")


def _milliseconds(value: object) -> float:
    """A delay in ms from a number (ms) or a duration string ("250ms", "1s", "2m")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        return 0.0
    scale = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, None: 1.0}[match.group(2)]
    return float(match.group(1)) * scale


def context_from_entry(entry: Mapping[str, Any], requests: pd.DataFrame) -> VariantContext | None:
    """The analysis context of a manifest variant entry; None if its load never started."""
    load_start = entry.get("load_start")
    if load_start is None:
        return None
    load_end = entry.get("load_end")
    if load_end is None:  # interrupted during the load: up to the last request seen
        load_end = float(requests["t"].max()) if len(requests) else float(load_start)
    stages = tuple(
        StageWindow(
            start=float(s["start"]),
            end=float(s["end"] if s.get("end") is not None else load_end),
            users=int(s.get("users", 0)),
            spawn_rate=float(s.get("spawn_rate") or 0.0),
        )
        for s in entry.get("stages") or []
        if s.get("start") is not None
    )
    config = entry.get("config") or {}
    delay = find_key(config, "background_delay_ms")
    seconds = find_key(config, "background_delay_s")
    if delay is None and isinstance(seconds, int | float):
        delay = float(seconds) * 1000.0
    if delay is None:
        delay = find_key(config, "background_delay")
    return VariantContext(
        load_start=float(load_start),
        load_end=float(load_end),
        max_connections=int(entry.get("max_connections") or 0),
        pooler=str(entry.get("pooler") or "none"),
        target=str(entry.get("target") or ""),
        stages=stages,
        background_delay_ms=_milliseconds(delay),
    )


def load_run(run_dir: Path) -> RunData:
    """Read a run folder: its manifest and every variant run's frames."""
    manifest = read_manifest(run_dir)
    runs = []
    for entry in manifest["variants"]:
        directory = run_dir / str(entry.get("dir") or f"{entry['name']}/{entry['repeat']}")
        frames = load_frames(directory)
        runs.append(
            VariantRun(
                name=str(entry["name"]),
                repeat=int(entry.get("repeat", 1)),
                directory=directory,
                status=str(entry.get("status") or "unknown"),
                error=entry.get("error"),
                ctx=context_from_entry(entry, frames["requests"]),
                frames=frames,
                faults=tuple(f for f in entry.get("faults") or [] if isinstance(f, dict)),
            )
        )
    return RunData(run_dir=run_dir, manifest=manifest, runs=tuple(runs))
