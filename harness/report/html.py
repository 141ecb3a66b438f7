"""``index.html``: one self-contained report rebuilt from a run folder alone.

The page has its CSS inline and its charts inline as SVG data URIs: it makes no network
request, works offline, prints, and survives being copied (every link is relative to the
run folder). The same charts are written to ``<run>/charts/`` as SVG and PNG files.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jinja2

from harness.analysis.run import LoadedRun
from harness.analysis.story import story
from harness.analysis.timeseries import run_series
from harness.report import sections
from harness.report.charts import Chart, write_charts
from harness.report.limit_section import breaking_point
from harness.report.table import COLUMNS, comparison_rows
from harness.results.summary import Summary

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "report.html"


def _chart_view(chart: Chart, run_dir: Path) -> dict[str, str | int]:
    return {
        "width": chart.width_px,
        "height": chart.height_px,
        "name": chart.name,
        "title": chart.title,
        "caption": chart.caption,
        "src": "data:image/svg+xml;base64," + base64.b64encode(chart.svg).decode("ascii"),
        "svg_href": chart.svg_path.relative_to(run_dir).as_posix(),
        "png_href": chart.png_path.relative_to(run_dir).as_posix(),
    }


def _finding_parts(notes: list[str], variants: list[str]) -> list[tuple[str, str]]:
    """Each finding split into (variant, rest) when it starts with a variant's name."""
    out = []
    for note in notes:
        who, _, what = note.partition(": ")
        out.append((who, what) if who in variants and what else ("", note))
    return out


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(run: LoadedRun, summary: Summary, charts: list[Chart],
                  limit: dict[str, Any] | None = None) -> str:
    """The report's HTML text for a loaded run, its summary and its drawn charts (and the
    "Breaking point" section of a ``pgstampede limit`` run)."""
    names = list(summary.variants)
    if limit is not None and limit["chart"] is not None:
        limit = {**limit, "chart": _chart_view(limit["chart"], run.run_dir)}
    context = {
        "header": sections.header(run, summary),
        "banners": sections.banners(run, summary),
        "durability_off": sections.durability_off(run.manifest),
        "columns": COLUMNS,
        "rows": comparison_rows(summary),
        "findings": _finding_parts(list(summary.findings), names),
        "story": story(summary.variants),
        "thresholds": summary.thresholds,
        "charts": [_chart_view(chart, run.run_dir) for chart in charts],
        "variant_names": names,
        "metric_groups": sections.metric_groups(summary),
        "variants": sections.variant_details(run, summary),
        "scenario": sections.scenario_text(run),
        "raw_files": sections.raw_files(run),
        "limit": limit,
    }
    return _environment().get_template(TEMPLATE).render(**context)


def build_report(run: LoadedRun, summary: Summary) -> Path:
    """Rebuild ``index.html`` and ``charts/`` of a loaded run folder from its summary."""
    charts = write_charts(run_series(list(run.runs)), run.run_dir / "charts")
    limit = breaking_point(run, run.run_dir / "charts")
    html = render_report(run, summary, charts, limit)
    out = run.run_dir / "index.html"
    partial = run.run_dir / "index.html.partial"
    partial.write_text(html, encoding="utf-8")
    partial.replace(out)
    return out
