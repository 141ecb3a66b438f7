"""Finalising a run folder: the summary (with the verdict) and the report, from the folder
alone. ``run`` calls it when the run ends, ``report`` calls it again on any folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.analysis.run import load_run
from harness.analysis.summary import summarise
from harness.check.thresholds import judge
from harness.errors import HarnessError
from harness.report.html import build_report
from harness.results.summary import Summary
from harness.run.progress import Progress


def finalise(run_dir: Path, progress: Progress) -> Summary:
    """Write ``summary.json`` (thresholds judged as ``check`` judges them) and the report."""
    run = load_run(run_dir)
    summary = summarise(run)
    verdict = tuple(r.record() for r in judge(run.manifest, summary))
    summary = dataclasses.replace(summary, thresholds=verdict)
    run.folder.write_summary(summary)
    try:
        index = build_report(run, summary)
        progress.message(f"report: {index}")
    except (HarnessError, OSError) as exc:
        progress.message(f"report not built: {exc}")
    return summary
