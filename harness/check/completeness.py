"""Is a run folder complete enough to be judged? An incomplete run never passes a check.

A run is complete when ``manifest.json`` and ``summary.json`` are readable, both say
``"status": "complete"``, every variant run in the manifest is complete, and each variant
run's folder holds the frames a verdict rests on (:func:`required_files`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import IncompleteRunError, InputError

SUMMARY_SCHEMA_VERSION = 1
ALWAYS_REQUIRED: tuple[str, ...] = ("requests.parquet", "db.parquet")
POOLER_REQUIRED: tuple[str, ...] = ("pooler.parquet",)
SERVERLESS_REQUIRED: tuple[str, ...] = ("platform.parquet",)


@dataclass(frozen=True)
class RunData:
    """The two JSON files of a complete run folder."""

    run_dir: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]


def load_complete_run(run_dir: Path) -> RunData:
    """Read a run folder; IncompleteRunError (exit 3) when anything a verdict needs is missing.

    InputError (exit 2) when ``run_dir`` is not a folder or summary.json has an unknown schema.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: not a run folder (expected a folder written by "
                         "`pgstampede run`)")
    manifest = _read_json(run_dir / "manifest.json")
    summary = _read_json(run_dir / "summary.json")
    version = summary.get("schema_version")
    if version != SUMMARY_SCHEMA_VERSION:
        raise InputError(f"{run_dir / 'summary.json'}: schema_version {version!r} is not "
                         f"supported (expected {SUMMARY_SCHEMA_VERSION})")
    for name, data in (("manifest.json", manifest), ("summary.json", summary)):
        if data.get("status") != "complete":
            raise IncompleteRunError(f"{run_dir / name}: status is {data.get('status')!r}, "
                                     "not 'complete'; an incomplete run never passes a check")
    if not isinstance(summary.get("variants"), dict):
        raise IncompleteRunError(f"{run_dir / 'summary.json'}: no \"variants\" object")
    _check_variant_runs(run_dir, manifest)
    return RunData(run_dir=run_dir, manifest=manifest, summary=summary)


def required_files(variant_run: Mapping[str, Any]) -> tuple[str, ...]:
    """The files a variant run's folder must hold, from its manifest entry."""
    files = ALWAYS_REQUIRED
    if _kind(variant_run.get("pooler")) not in ("", "none"):
        files += POOLER_REQUIRED
    if _kind(variant_run.get("target")) == "serverless":
        files += SERVERLESS_REQUIRED
    return files


def _kind(value: object) -> str:
    """A target or pooler kind from a manifest entry: a string, or an object naming it."""
    if isinstance(value, Mapping):
        value = value.get("kind") or value.get("type") or value.get("name")
    return str(value).lower() if value else ""


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise IncompleteRunError(f"{path}: missing; the run did not finish writing its results")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IncompleteRunError(f"{path}: unreadable ({exc}); the run did not finish "
                                 "writing its results") from None
    if not isinstance(data, dict):
        raise IncompleteRunError(f"{path}: expected a JSON object")
    return data


def _check_variant_runs(run_dir: Path, manifest: Mapping[str, Any]) -> None:
    variant_runs = manifest.get("variants")
    if not isinstance(variant_runs, list) or not variant_runs:
        raise IncompleteRunError(f"{run_dir / 'manifest.json'}: no variant runs listed")
    for entry in variant_runs:
        if not isinstance(entry, Mapping):
            raise IncompleteRunError(f"{run_dir / 'manifest.json'}: a variant entry is not "
                                     "an object")
        label = f"{entry.get('name')}/{entry.get('repeat')}"
        if entry.get("status") != "complete":
            raise IncompleteRunError(f"{run_dir}: variant run {label} has status "
                                     f"{entry.get('status')!r}, not 'complete'")
        folder = run_dir / str(entry.get("dir") or f"{entry.get('name')}/{entry.get('repeat')}")
        missing = [f for f in required_files(entry) if not (folder / f).is_file()]
        if missing:
            raise IncompleteRunError(f"{folder}: missing {', '.join(missing)}; the variant run "
                                     "did not finish writing its results")


def missing_files(run_dir: Path, manifest: Mapping[str, Any]) -> list[Path]:
    """Result files absent from variant runs whose load started (for ``report``)."""
    missing: list[Path] = []
    for entry in manifest.get("variants") or []:
        if not isinstance(entry, Mapping) or entry.get("load_start") is None:
            continue
        folder = run_dir / str(entry.get("dir") or f"{entry.get('name')}/{entry.get('repeat')}")
        missing += [folder / f for f in required_files(entry) if not (folder / f).is_file()]
    return missing
