"""Benchmark: build the report of a run folder with 1,000,000 request rows.

Synthesises a run folder (4 variants × 250,000 requests over 5 minutes, with every
frame at 10 Hz), then times ``build_summary`` + writing summary.json, and
``build_report`` (charts + index.html). Prints JSON. Goals on a 2-core machine: the
whole build of 1,000,000 rows ≤ 15 s, index.html ≤ 5 MB. With other ``--rows`` the time
goal is scaled to them (``goal_build_s``): 10 s for what does not depend on the rows (the
charts' drawing and the summary's fixed work: 3.5 s of a build here, quiet) and 5 s per
million rows (0.5 s here), so 11 s for ``make bench --quick``'s 200,000 rows, which the
regression of 2026-12-06 (50 s per million rows) missed by taking 14.9 s there.

    .venv/bin/python -m benchmarks.report_build [--rows 1000000] [--keep DIR]

(run from the checkout's root: the synthetic run folder comes from ``tests.synthetic``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from harness.analysis.run import load_run
from harness.analysis.summary import summarise
from harness.report.html import build_report
from tests.synthetic import DEFAULT_VARIANTS, RunShape, write_run

GOAL_SECONDS = 15.0
GOAL_ROWS = 1_000_000
GOAL_FIXED_SECONDS = 10.0  # the part of the goal that does not grow with the rows
GOAL_HTML_BYTES = 5 * 1024 * 1024


def goal_seconds(rows: int) -> float:
    """The build time goal for ``rows`` request rows (``GOAL_SECONDS`` for ``GOAL_ROWS``)."""
    return GOAL_FIXED_SECONDS + (GOAL_SECONDS - GOAL_FIXED_SECONDS) * rows / GOAL_ROWS


def measure(run_dir: Path, rows: int, duration_s: float) -> dict[str, object]:
    per_variant = rows // len(DEFAULT_VARIANTS)
    started = time.perf_counter()
    write_run(run_dir, RunShape(requests_per_variant=per_variant, duration_s=duration_s))
    synth_s = time.perf_counter() - started

    started = time.perf_counter()
    run = load_run(run_dir)
    summary = summarise(run)
    run.folder.write_summary(summary)
    summary_s = time.perf_counter() - started

    started = time.perf_counter()
    index = build_report(run, summary)
    report_s = time.perf_counter() - started

    html_bytes = index.stat().st_size
    total_s = summary_s + report_s
    charts = sorted(p.name for p in (run_dir / "charts").iterdir())
    goal_s = round(goal_seconds(per_variant * len(DEFAULT_VARIANTS)), 2)
    return {
        "request_rows": per_variant * len(DEFAULT_VARIANTS),
        "variants": len(DEFAULT_VARIANTS),
        "duration_s": duration_s,
        "synthesise_s": round(synth_s, 2),
        "summary_s": round(summary_s, 2),
        "report_s": round(report_s, 2),
        "build_total_s": round(total_s, 2),
        "html_bytes": html_bytes,
        "html_mb": round(html_bytes / 1024 / 1024, 2),
        "chart_files": len(charts),
        "goal_build_s": goal_s,
        "goal_html_mb": GOAL_HTML_BYTES / 1024 / 1024,
        "goals_met": total_s <= goal_s and html_bytes <= GOAL_HTML_BYTES,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=300.0, help="load seconds")
    parser.add_argument("--keep", type=Path, help="write the run folder here and keep it")
    args = parser.parse_args()
    if args.keep:
        print(json.dumps(measure(args.keep, args.rows, args.duration), indent=2))
        return
    tmp = Path(tempfile.mkdtemp(prefix="pgstampede-bench-"))
    try:
        print(json.dumps(measure(tmp / "run", args.rows, args.duration), indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
