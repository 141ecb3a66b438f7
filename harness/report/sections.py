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

import pandas as pd

from harness.analysis.causes import exception_groups
from harness.analysis.db_errors import (
    before_final_stop,
    condition,
    error_groups,
    merge_groups,
)
from harness.analysis.run import LoadedRun
from harness.report.table import DASH, Severity, format_metric, threshold_verdict
from harness.results import metric_names as M
from harness.results.metrics import METRICS
from harness.results.records import Manifest, VariantRecord
from harness.results.summary import StageSummary, Summary
from harness.units import format_elapsed

GROUPS: tuple[tuple[str, str], ...] = (
    ("limit.", "Breaking point"),
    ("http.", "Requests"),
    ("latency.", "Latency"),
    ("errors.", "Errors by kind"),
    ("db.", "Database"),
    (M.TIME_TO_FIRST_REFUSAL_S, "Database"),
    ("pooler.", "PgBouncer"),
    ("platform.", "Serverless platform"),
    ("background.", "Work after the response"),
    ("state.", "Module-level state"),
    ("host.", "Host resources"),
    ("load.", "Load generator"),
)
STAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    (M.HTTP_REQUESTS, "Requests"),
    (M.HTTP_RPS, "RPS"),
    (M.HTTP_ERROR_RATE, "Error rate"),
    (M.LATENCY_P95_MS, "p95"),
    (M.DB_CONNECTIONS_PEAK, "Peak DB conns"),
    (M.DB_REFUSED, "Refused"),
    (M.PLATFORM_INSTANCES_PEAK, "Peak instances"),
    (M.POOLER_CL_WAITING_PEAK, "Queued"),
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


def format_time(value: float | None) -> str:
    """An epoch timestamp as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if value is None or not math.isfinite(value):
        return DASH
    return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pairs(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(str(k), json.dumps(v) if isinstance(v, dict | list) else str(v))
            for k, v in data.items()]


def _versions(manifest: Manifest) -> dict[str, str]:
    """The run's versions plus those recorded per variant run (PostgreSQL, PgBouncer)."""
    out: dict[str, str] = {}
    for record in manifest.variants:
        out.update({k: v for k, v in record.versions.items() if v})
    out.update({k: v for k, v in manifest.versions.items() if v})
    return out


def runtime_text(manifest: Manifest) -> str:
    """``process``, or ``docker`` with the engine version and the image ids as run."""
    info = manifest.runtime_info
    if manifest.runtime != "docker":
        return manifest.runtime
    engine = info.get("engine", {})
    parts = [f"docker {engine.get('version', '')}".strip()]
    ids = [f"{role} {str(ref.get('id', ''))[7:19]}"
           for role, ref in info.get("images", {}).items()]
    if ids:
        parts.append("images: " + ", ".join(ids))
    return "; ".join(parts)


def header(run: LoadedRun, summary: Summary) -> dict[str, Any]:
    """Scenario, date, machine, versions, duration and verdict."""
    manifest = run.manifest
    duration = DASH
    if manifest.ended is not None:
        duration = format_elapsed(manifest.ended - manifest.started)
    verdict, severity = threshold_verdict(summary)
    return {
        "scenario": summary.scenario,
        "description": manifest.scenario.description,
        "status": summary.status,
        "date": format_time(manifest.started),
        "duration": duration,
        "machine": _pairs(manifest.machine),
        "runtime": runtime_text(manifest),
        "versions": _pairs(_versions(manifest)),
        "verdict": verdict,
        "verdict_severity": severity,
    }


def durability_off(manifest: Manifest) -> bool:
    """True when the run's PostgreSQL ran with ``fsync`` off."""
    records = [manifest.durability, *(v.durability for v in manifest.variants)]
    return any(d.get("fsync", "").lower() == "off" for d in records)


def banners(run: LoadedRun, summary: Summary) -> list[Banner]:
    """Warnings shown above everything: incomplete run (naming what failed), saturated load."""
    out: list[Banner] = []
    if summary.status != "complete":
        failed = [f"{name} ({data.status}: {data.error or 'no error recorded'})"
                  for name, data in summary.variants.items()
                  if data.status != "complete" and data.error]
        detail = f" Affected: {'; '.join(failed)}." if failed else ""
        if summary.problems:
            detail += f" Not measured: {'; '.join(summary.problems)}."
        out.append(Banner("bad", f"This run is incomplete ({summary.status}): the numbers cover "
                                 f"only what was measured.{detail}"))
    saturated = [name for name, data in summary.variants.items()
                 if data.metrics.get(M.LOAD_SATURATED)]
    if saturated:
        out.append(Banner("warn", "Locust was CPU-saturated in " + ", ".join(saturated)
                          + ": its latencies are inflated and its RPS is a ceiling of the "
                          "load generator, not of the system. Use fewer users or more "
                          "Locust processes."))
    full = [name for name, data in summary.variants.items()
            if data.metrics.get(M.HOST_SATURATED)]
    if full:
        out.append(Banner("warn", "This machine's CPU was saturated in " + ", ".join(full)
                          + ": their latencies and cold starts include queueing for a CPU "
                          "on this machine, not only the system's own work. The findings "
                          "name the processes that took the CPU."))
    return out


def metric_groups(summary: Summary) -> list[dict[str, Any]]:
    """All metrics × variants, grouped by family; rows null in every variant are left out."""
    variants = list(summary.variants.values())
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, info in METRICS.items():
        values = [v.metrics.get(name) for v in variants]
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


def _stage_rows(stages: Sequence[StageSummary]) -> list[dict[str, Any]]:
    return [{
        "stage": stage.stage + 1, "window": f"{stage.start_s:.0f}–{stage.end_s:.0f} s",
        "users": stage.users,
        "cells": [format_metric(key, stage.metrics.get(key)) for key, _ in STAGE_COLUMNS],
    } for stage in stages]


def variant_details(run: LoadedRun, summary: Summary) -> list[dict[str, Any]]:
    """Per variant: status, setup, per-stage table, repeats and the configuration as run."""
    records: dict[str, VariantRecord] = {}
    for each in run.manifest.variants:
        records.setdefault(each.name, each)
    out = []
    for name, data in summary.variants.items():
        record = records.get(name)
        out.append({
            "name": name,
            "status": data.status,
            "error": data.error,
            "facts": [("target", str(data.target or DASH)),
                      ("pooler", str(data.pooler or DASH)),
                      ("pooler version", str(data.pooler_version or DASH)),
                      ("max_connections", str(data.max_connections or DASH)),
                      ("repeats", str(len(data.repeats)))],
            "stage_headers": [label for _, label in STAGE_COLUMNS],
            "db_errors": db_error_rows(run, name),
            "app_exceptions": app_exception_rows(run, name),
            "stages": _stage_rows(data.stages),
            "config": json.dumps(record.config if record else {}, indent=2, sort_keys=True,
                                 ensure_ascii=False),
        })
    return out


def db_error_rows(run: LoadedRun, variant: str) -> list[dict[str, str]]:
    """What the database rejected during the variant's load, by SQLSTATE and message (every
    repeat summed): the server log's ERROR and FATAL lines."""
    groups = merge_groups([error_groups(before_final_stop(r.frames["db_errors"],
                                                          r.frames["pglog"]), r.ctx.load_start)
                           for r in run.runs if r.name == variant and r.ctx is not None])
    return [{"sqlstate": g.sqlstate or DASH, "condition": condition(g.sqlstate) or DASH,
             "level": g.level, "message": g.pattern, "count": f"{g.count:,}"}
            for g in groups]


def app_exception_rows(run: LoadedRun, variant: str) -> list[dict[str, str]]:
    """What the app raised during the variant's load, by type and message (every repeat
    together), with the app's own line of the first of each."""
    frames = [r.frames["app_exceptions"] for r in run.runs
              if r.name == variant and r.ctx is not None]
    starts = [r.ctx.load_start for r in run.runs if r.name == variant and r.ctx is not None]
    rows = [f[f["t"] >= start] for f, start in zip(frames, starts, strict=True)]
    groups = exception_groups(pd.concat(rows)) if rows else []
    return [{"type": g.type, "message": g.message, "where": g.where or DASH,
             "count": f"{g.count:,}"} for g in groups]


def scenario_text(run: LoadedRun) -> str:
    """The scenario as loaded, pretty JSON."""
    return json.dumps(run.manifest.scenario.source, indent=2, sort_keys=True,
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


def raw_files(run: LoadedRun) -> list[dict[str, Any]]:
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
