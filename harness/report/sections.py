"""The content of each report section, as plain data for the HTML template (pure).

Every value here is text ready to show (numbers formatted, nulls as dashes), so the
template only lays it out. Links are relative to the run folder, so a copied folder
keeps working.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.analysis.run import RunData, find_key
from harness.report.table import DASH, Severity, format_metric, threshold_verdict
from harness.results.metrics import METRICS

GROUPS: tuple[tuple[str, str], ...] = (
    ("http.", "Requests"),
    ("latency.", "Latency"),
    ("errors.", "Errors by kind"),
    ("db.", "Database"),
    ("time_to_first_refusal_s", "Database"),
    ("pooler.", "PgBouncer"),
    ("platform.", "Serverless platform"),
    ("background.", "Background work"),
    ("state.", "Module-level state"),
    ("host.", "Host resources"),
    ("load.", "Load generator"),
)
STAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("http.requests", "Requests"),
    ("http.rps", "RPS"),
    ("http.error_rate", "Error rate"),
    ("latency.p95_ms", "p95"),
    ("db.connections.peak", "Peak DB conns"),
    ("db.refused", "Refused"),
    ("platform.instances.peak", "Peak instances"),
    ("pooler.cl_waiting.peak", "Queued"),
)


@dataclass(frozen=True)
class Banner:
    severity: Severity
    text: str


@dataclass(frozen=True)
class RawLink:
    href: str
    label: str
    size: str


def format_time(value: object) -> str:
    """An epoch timestamp (or ISO text) as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if isinstance(value, int | float) and math.isfinite(value):
        return datetime.fromtimestamp(float(value), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value) if value else DASH


def format_duration(seconds: float) -> str:
    """``45 s``, ``3 min 05 s``, ``1 h 02 min``."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def _pairs(data: object) -> list[tuple[str, str]]:
    if not isinstance(data, Mapping):
        return [("", str(data))] if data else []
    return [(str(k), json.dumps(v) if isinstance(v, dict | list) else str(v))
            for k, v in data.items()]


def _versions(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The run's versions plus those recorded per variant run (PostgreSQL, PgBouncer)."""
    out: dict[str, Any] = {}
    for entry in manifest.get("variants") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("versions"), Mapping):
            out.update({k: v for k, v in entry["versions"].items() if v})
    if isinstance(manifest.get("versions"), Mapping):
        out.update({k: v for k, v in manifest["versions"].items() if v})
    return out


def runtime_text(manifest: Mapping[str, Any]) -> str:
    """``process``, or ``docker`` with the engine version and the image ids as run."""
    name = str(manifest.get("runtime") or "process")
    info = manifest.get("runtime_info")
    if name != "docker" or not isinstance(info, Mapping):
        return name
    engine = info.get("engine")
    engine = engine if isinstance(engine, Mapping) else {}
    parts = [f"docker {engine.get('version', '')}".strip()]
    images = info.get("images")
    images = images if isinstance(images, Mapping) else {}
    ids = [f"{role} {str(ref.get('id', ''))[7:19]}" for role, ref in images.items()
           if isinstance(ref, Mapping)]
    if ids:
        parts.append("images: " + ", ".join(ids))
    return "; ".join(parts)


def header(run: RunData, summary: Mapping[str, Any]) -> dict[str, Any]:
    """Scenario, date, machine, versions, duration and verdict."""
    manifest = run.manifest
    scenario = manifest.get("scenario")
    description = scenario.get("description", "") if isinstance(scenario, Mapping) else ""
    started, ended = manifest.get("started"), manifest.get("ended")
    duration = DASH
    if isinstance(started, int | float) and isinstance(ended, int | float):
        duration = format_duration(float(ended) - float(started))
    verdict, severity = threshold_verdict(summary)
    return {
        "scenario": summary.get("scenario", ""),
        "description": description,
        "status": summary.get("status", "unknown"),
        "date": format_time(started),
        "duration": duration,
        "machine": _pairs(manifest.get("machine")),
        "runtime": runtime_text(manifest),
        "versions": _pairs(_versions(manifest)),
        "verdict": verdict,
        "verdict_severity": severity,
    }


def durability_off(manifest: Mapping[str, Any]) -> bool:
    """True when the manifest records ``fsync`` off (or ``durability`` off)."""
    fsync = find_key(manifest, "fsync")
    durability = find_key(manifest, "durability")
    return str(fsync).lower() in ("off", "false", "0") or str(durability).lower() == "off"


def banners(run: RunData, summary: Mapping[str, Any]) -> list[Banner]:
    """Warnings shown above everything: incomplete run, saturated load generator."""
    out: list[Banner] = []
    status = summary.get("status") or run.manifest.get("status")
    if status != "complete":
        failed = [f"{name} ({data.get('status')}: {data.get('error') or 'no error recorded'})"
                  for name, data in (summary.get("variants") or {}).items()
                  if data.get("status") != "complete"]
        detail = f" Affected: {'; '.join(failed)}." if failed else ""
        out.append(Banner("bad", f"This run is incomplete ({status}): the numbers cover only "
                                 f"what was measured before it stopped.{detail}"))
    saturated = [name for name, data in (summary.get("variants") or {}).items()
                 if (data.get("metrics") or {}).get("load.saturated")]
    if saturated:
        out.append(Banner("warn", "Locust was CPU-saturated in " + ", ".join(saturated)
                          + ": its latencies are inflated and its RPS is a ceiling of the "
                          "load generator, not of the system. Use fewer users or more "
                          "Locust processes."))
    return out


def metric_groups(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """All metrics × variants, grouped by family; rows null in every variant are left out."""
    variants: Mapping[str, Any] = summary.get("variants") or {}
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, info in METRICS.items():
        values = [(v.get("metrics") or {}).get(name) for v in variants.values()]
        if all(value is None for value in values):
            continue
        title = next((t for prefix, t in GROUPS if name.startswith(prefix)), "Other")
        groups.setdefault(title, []).append({
            "name": name, "unit": info.unit, "meaning": info.meaning,
            "values": [format_metric(name, value) for value in values],
        })
    order = list(dict.fromkeys(title for _, title in GROUPS))
    ranked = sorted(groups.items(), key=lambda g: order.index(g[0]) if g[0] in order else 99)
    return [{"title": title, "rows": rows} for title, rows in ranked]


def _stage_rows(stages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for stage in stages:
        metrics = stage.get("metrics") or {}
        start, end = stage.get("start_s"), stage.get("end_s")
        window = f"{start:.0f}–{end:.0f} s" if start is not None and end is not None else DASH
        rows.append({
            "stage": int(stage.get("stage", 0)) + 1, "window": window,
            "users": stage.get("users", DASH),
            "cells": [format_metric(key, metrics.get(key)) for key, _ in STAGE_COLUMNS],
        })
    return rows


def variant_details(run: RunData, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per variant: status, setup, per-stage table, repeats and the configuration as run."""
    entries: dict[str, Mapping[str, Any]] = {}
    for entry in run.manifest.get("variants") or []:
        entries.setdefault(str(entry.get("name")), entry)
    out = []
    for name, data in (summary.get("variants") or {}).items():
        entry = entries.get(name, {})
        out.append({
            "name": name,
            "status": data.get("status", "complete"),
            "error": data.get("error"),
            "facts": [("target", str(data.get("target") or entry.get("target") or DASH)),
                      ("pooler", str(data.get("pooler") or entry.get("pooler") or DASH)),
                      ("max_connections", str(data.get("max_connections") or DASH)),
                      ("repeats", str(len(data.get("repeats") or [])))],
            "stage_headers": [label for _, label in STAGE_COLUMNS],
            "stages": _stage_rows(data.get("stages") or []),
            "config": json.dumps(entry.get("config") or {}, indent=2, sort_keys=True,
                                 ensure_ascii=False),
        })
    return out


def scenario_text(run: RunData) -> str:
    """The scenario as loaded, pretty JSON."""
    return json.dumps(run.manifest.get("scenario") or {}, indent=2, sort_keys=True,
                      ensure_ascii=False)


def _size(path: Path) -> str:
    size = float(path.stat().st_size)
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return DASH


def _links(run_dir: Path, folder: Path) -> list[RawLink]:
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return [RawLink(p.relative_to(run_dir).as_posix(), p.relative_to(folder).as_posix(),
                    _size(p)) for p in files]


def raw_files(run: RunData) -> list[dict[str, Any]]:
    """Links to the run folder's raw files, relative to the folder (index.html's home)."""
    top = [RawLink(name, name, _size(run.run_dir / name))
           for name in ("manifest.json", "summary.json") if (run.run_dir / name).is_file()]
    groups = [{"title": "Run", "links": top}]
    groups.append({"title": "Charts (SVG and PNG)",
                   "links": _links(run.run_dir, run.run_dir / "charts")})
    for variant_run in run.runs:
        groups.append({"title": f"{variant_run.name} · repeat {variant_run.repeat}",
                       "links": _links(run.run_dir, variant_run.directory)})
    return [g for g in groups if g["links"]]
