"""The report's "Breaking point" section of a ``pgstampede limit`` run folder, as plain data
for the template (pure, but for its chart's files): per variant its steps, the break, the
advice and its proof; then the what-if table, computed, not measured."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.analysis.breaking import StepMeasures
from harness.analysis.limit import StepRow, VariantBreak, variant_breaks, verify_text
from harness.analysis.limit_text import REASONS
from harness.analysis.recommend import WHAT_IF_POOLS, what_if
from harness.analysis.run import LoadedRun
from harness.report.charts import Chart
from harness.report.limit_chart import limit_chart
from harness.results.limit import LimitSettings
from harness.units import NULL, format_ratio

PROBES = {"ramp": "ramp", "bisect": "probe", "verify": "verify"}


def _num(value: float | None, digits: int = 0) -> str:
    return NULL if value is None else f"{value:,.{digits}f}"


def _step(row: StepRow) -> dict[str, Any]:
    m: StepMeasures = row.measures
    verdict = row.step.verdict if row.step.clear else f"{row.step.verdict} (too close to call)"
    probe = PROBES[row.probe.kind]
    if row.probe.max_instances is not None:
        probe += f" (max instances {row.probe.max_instances})"
    return {
        "probe": f"{probe} #{row.probe.repeat}", "users": row.step.users,
        "verdict": verdict, "severity": "bad" if row.step.verdict == "broke" else "ok",
        "detail": row.step.detail, "rps": _num(m.rps), "in_flight": _num(m.in_flight),
        "db": _num(m.db_connections), "instances": _num(m.instances),
        "error_rate": NULL if m.error_rate is None else format_ratio(m.error_rate),
        "p95": _num(m.p95_ms, 1),
    }


def _headline(vb: VariantBreak) -> tuple[str, str]:
    limit = vb.limit
    if limit.broke_users is None:
        return f"held up to {limit.held_users} users (max_users)", "ok"
    row = vb.deciding
    why = REASONS.get(row.step.reason, row.step.reason) if row is not None else ""
    return f"breaks at {limit.broke_users} users{': ' + why if why else ''}", "bad"


def _advice(vb: VariantBreak) -> list[str]:
    advice = vb.recommendation
    if advice is None:
        return [f"{vb.facts.target} target: no instance to cap (its pool bounds its "
                "connections)"]
    return [f"Headroom: {advice.headroom} of {advice.limit} ({advice.limit_name}).",
            ("Max instances: " if advice.max_instances is not None else
             "No max instances: ") + advice.max_instances_text + ".",
            ("Pool size: " if advice.pool_size is not None else "No pool size: ")
            + advice.pool_size_text + "."]


def _variant(vb: VariantBreak) -> dict[str, Any]:
    headline, severity = _headline(vb)
    verify = None
    if vb.verify is not None:
        held = vb.verify.step.verdict == "held"
        verify = {"severity": "ok" if held else "bad",
                  "text": ("Verified: " if held else "Recommendation withdrawn: ")
                  + verify_text(vb.verify)}
    return {"name": vb.name, "headline": headline, "severity": severity,
            "first_error": vb.first_error, "stopped": vb.limit.stopped,
            "cpi": NULL if vb.cpi is None else f"{vb.cpi:.2f}",
            "steps": [_step(r) for r in vb.rows], "advice": _advice(vb), "verify": verify}


def _settings_text(s: LimitSettings) -> str:
    what = {"refused": "the first refusal or the error budget spent",
            "errors": "the error budget spent",
            "p95": f"a p95 above {s.p95_ms or 0:g} ms or the error budget spent"}[s.until]
    return (f"Each variant's load ramped by {s.step} users every {s.step_duration_s:g} s up to "
            f"{s.max_users} users until {what} (error budget {format_ratio(s.error_budget)}), "
            "then probes on fresh services narrowed the break down while a narrower step "
            f"still meant something on this machine. Headroom: {s.headroom}.")


def _what_if(breaks: Sequence[VariantBreak], settings: LimitSettings) -> dict[str, Any]:
    reserved = breaks[0].limit.reserved if breaks else 3
    measured = [f"{vb.name}: {vb.cpi:.1f} connections per instance" for vb in breaks
                if vb.cpi is not None]
    return {"pools": list(WHAT_IF_POOLS),
            "rows": [{"max_connections": mc, "cells": [str(n) for n in cells]}
                     for mc, cells in what_if(reserved, settings.headroom)],
            "note": f"{reserved} slots reserved, headroom {settings.headroom}"
                    + (f"; measured: {'; '.join(measured)}" if measured else "")}


def breaking_point(run: LoadedRun, charts_dir: Path) -> dict[str, Any] | None:
    """The section's data and its chart (written to ``charts_dir``); None for a run folder
    made by ``pgstampede run``."""
    if run.limit is None:
        return None
    breaks = variant_breaks(run.limit, run.runs)
    chart: Chart | None = limit_chart(breaks, charts_dir)
    return {"settings": _settings_text(run.limit.settings),
            "variants": [_variant(vb) for vb in breaks],
            "what_if": _what_if(breaks, run.limit.settings), "chart": chart}
