"""Baseline files: a run's metrics kept as a typed, versioned record, and where it was measured.

A baseline holds, per variant and metric, the median over repeats and the per-repeat values
(the significance test needs them), what the run was measured on (``recorded_on``: machine
identity, CPU, memory, kernel, runtime, PostgreSQL / PgBouncer / pgpool-II / Locust / Python
versions) and the part of the scenario that decides what is measured, with its hash::

    {"format": "pgstampede-baseline", "version": 2, "scenario": "ci", "created": "...",
     "scenario_hash": "3f1c...", "scenario_source": {"database": {...}, "load": {...}, ...},
     "recorded_on": {"machine": {"machine_id": "boot:...", "cpu_model": "...", ...},
                     "runtime": "process", "versions": {"postgresql": "15.18", ...}},
     "variants": {"persistent": {"latency.p95_ms": {"median": 12.5, "values": [12, 12.5, 13]}}}}

History of ``VERSION``:

- 1: medians and per-repeat values only (no machine, no versions, no scenario). Still read:
  its machine is unknown, so timings are not compared without ``--compare-all``.
- 2: ``recorded_on`` and ``scenario_source`` / ``scenario_hash``.

Written through the project's codec (:mod:`harness.results.codec`) and atomically (a temp
file renamed over the target); read strictly: a surprise is exit 2 naming the file and field.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.results.codec import DecodeError, decode, encode
from harness.results.records import Manifest
from harness.results.summary import Summary

FORMAT = "pgstampede-baseline"
VERSION = 2
SUPPORTED = (1, 2)

# Scenario keys that do not change what is measured: a baseline still applies when they change.
NOT_MEASURED = frozenset({"description", "thresholds", "check", "repeats"})
# Versions of the parts that time the requests, kept from the manifest (process-wide and per
# variant run).
VERSION_KEYS = ("postgresql", "pgbouncer", "pgpool", "locust", "python")


@dataclass(frozen=True)
class MachineRecord:
    """The machine a run was measured on. ``machine_id`` is empty when it was not recorded."""

    machine_id: str
    machine_id_source: str  # "named" (--machine-id / PGSTAMPEDE_MACHINE_ID), "boot", ""
    hostname: str
    cpu_model: str
    cores: int
    memory_gib: float
    kernel: str


@dataclass(frozen=True)
class RecordedOn:
    """Where and with what a run was measured: its machine, runtime and versions."""

    machine: MachineRecord
    runtime: str
    versions: dict[str, str]


@dataclass(frozen=True)
class MetricSamples:
    """One metric of one variant: the median over repeats and each repeat's value."""

    median: float | None
    values: tuple[float, ...]


@dataclass(frozen=True)
class Baseline:
    """A baseline file (version 2)."""

    format: str
    version: int
    scenario: str
    created: str
    scenario_hash: str
    scenario_source: dict[str, Any]
    recorded_on: RecordedOn | None
    variants: dict[str, dict[str, MetricSamples]]


# ---------------------------------------------------------------- what a run was measured on

def recorded_on(manifest: Manifest, machine_id: str | None = None) -> RecordedOn:
    """What ``manifest``'s run was measured on; ``machine_id`` replaces its recorded identity."""
    m = manifest.machine
    identity = machine_id or str(m.get("machine_id") or "")
    source = "named" if machine_id else str(m.get("machine_id_source") or "")
    machine = MachineRecord(
        machine_id=identity, machine_id_source=source if identity else "",
        hostname=str(m.get("hostname") or ""), cpu_model=str(m.get("cpu_model") or ""),
        cores=_int(m.get("cores")), memory_gib=_float(m.get("memory_gib")),
        kernel=str(m.get("kernel") or ""))
    versions: dict[str, str] = {}
    for source_versions in (manifest.versions, *(v.versions for v in manifest.variants)):
        for key, value in source_versions.items():
            if key in VERSION_KEYS and value and key not in versions:
                versions[key] = _short_version(value)
    return RecordedOn(machine=machine, runtime=manifest.runtime, versions=versions)


def _short_version(text: str) -> str:
    """``15.18 (Debian 15.18-0+deb12u1)`` -> ``15.18``: the version, not the packaging."""
    return text.split()[0] if text.split() else text


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else 0.0


# ---------------------------------------------------------------- the scenario's measured part

def measured_scenario(source: Mapping[str, Any]) -> dict[str, Any]:
    """The scenario file's data without what does not change the measurement."""
    return {k: v for k, v in source.items() if k not in NOT_MEASURED}


def scenario_hash(measured: Mapping[str, Any]) -> str:
    """A short, stable hash of the measured part (key order does not matter)."""
    text = json.dumps(measured, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------- making, writing, reading

def make_baseline(summary: Summary, *, recorded: RecordedOn | None = None,
                  source: Mapping[str, Any] | None = None,
                  created: str | None = None) -> Baseline:
    """The baseline of a run, from its summary, where it ran and its scenario data."""
    variants = {
        name: {metric: MetricSamples(median=_number(entry.metrics.get(metric)),
                                     values=tuple(_repeat_values(entry.repeats, entry.metrics,
                                                                 metric)))
               for metric in entry.metrics}
        for name, entry in summary.variants.items()}
    measured = measured_scenario(source or {})
    return Baseline(format=FORMAT, version=VERSION, scenario=summary.scenario,
                    created=created or datetime.now(UTC).isoformat(timespec="seconds"),
                    scenario_hash=scenario_hash(measured) if source is not None else "",
                    scenario_source=measured, recorded_on=recorded, variants=variants)


def write_baseline(baseline: Baseline, path: Path) -> None:
    """Write a baseline as indented JSON, atomically, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(encode(baseline), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def baseline_path(path: Path, scenario: str | None) -> Path:
    """The file of ``path``: itself, or ``<path>/<scenario>.json`` for a directory."""
    path = Path(path)
    if path.is_dir():
        if not scenario:
            raise InputError(f"{path}: a baseline directory needs the scenario name")
        path = path / f"{scenario}.json"
        if not path.is_file():
            raise InputError(f"{path}: no baseline for scenario {scenario!r}; record one with "
                             f"`pgstampede baseline RUN_DIR --save {path}`")
    if not path.is_file():
        raise InputError(f"{path}: baseline file not found; record one with "
                         f"`pgstampede baseline RUN_DIR --save {path}`")
    return path


def load_baseline(path: Path, *, scenario: str | None = None) -> Baseline:
    """Read a baseline file, or ``<path>/<scenario>.json`` when ``path`` is a directory.

    Raises InputError (exit 2) naming the file and what is wrong.
    """
    path = baseline_path(path, scenario)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON baseline ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f'{path}: not a pgstampede baseline (expected "format": "{FORMAT}")')
    version = data.get("version")
    if version not in SUPPORTED:
        raise InputError(f"{path}: baseline version {version!r} is not supported (expected "
                         f"{' or '.join(map(str, SUPPORTED))})")
    problem = _variants_problem(data.get("variants"))
    if problem:
        raise InputError(f"{path}: {problem}")
    if version == 1:
        data = _upgrade_v1(data)
    try:
        return decode(Baseline, data, str(path))
    except DecodeError as exc:
        raise InputError(str(exc)) from None


def _upgrade_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """A version 1 file as version 2: no machine, no scenario recorded."""
    return {"format": FORMAT, "version": 1, "scenario": data.get("scenario", ""),
            "created": data.get("created", ""), "scenario_hash": "", "scenario_source": {},
            "recorded_on": None, "variants": data.get("variants")}


def _variants_problem(variants: object) -> str | None:
    """What is wrong with the ``variants`` object, said in the file's own terms."""
    if not isinstance(variants, dict):
        return '"variants" must be an object of variant -> metric -> {median, values}'
    for variant, metrics in variants.items():
        if not isinstance(metrics, dict):
            return f"variants.{variant} must be an object of metric -> {{median, values}}"
        for metric, entry in metrics.items():
            if not _valid_entry(entry):
                return (f"variants.{variant}.{metric} must be "
                        '{"median": number or null, "values": [numbers]}')
    return None


def _valid_entry(entry: object) -> bool:
    if not isinstance(entry, dict) or set(entry) != {"median", "values"}:
        return False
    median, values = entry.get("median"), entry.get("values")
    return (median is None or _is_number(median)) and isinstance(values, list) \
        and all(_is_number(v) for v in values)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: object) -> float | None:
    """A summary value as a float (yes/no metrics as 1/0), None when null or not finite."""
    if not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _repeat_values(repeats: Iterable[Mapping[str, Any]], metrics: Mapping[str, Any],
                   metric: str) -> list[float]:
    values = [v for r in repeats if (v := _number(r.get(metric))) is not None]
    if not values and (median := _number(metrics.get(metric))) is not None:
        values = [median]
    return values
