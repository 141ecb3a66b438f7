"""The ``check`` and ``baseline`` subcommands as plain functions (``harness.cli`` wires them).

``check_run`` reads a run folder through :func:`harness.analysis.run.load_run` (strict
records, verified frame files, collector health), refuses an incomplete run (exit 3, naming
what is missing and why), judges the thresholds recorded in the manifest on ``summary.json``
with the same code as ``run`` (:func:`harness.check.thresholds.judge`), compares with a
baseline when given, writes JUnit and Markdown files when asked, and returns the outcome
(``outcome.exit_code``: 0 pass, 1 a threshold failed or a regression). The options of the
comparison (``alpha``, ``min_change``, ``min_abs``) come from the manifest's check spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from harness.analysis.run import LoadedRun, load_run
from harness.check.baseline import (
    DEFAULT_MIN_CHANGE,
    compare,
    load_baseline,
    make_baseline,
    write_baseline,
)
from harness.check.outcome import CheckOutcome
from harness.check.report import junit_xml, markdown_report
from harness.check.thresholds import judge
from harness.errors import IncompleteRunError, InputError
from harness.results.check_spec import WILDCARD
from harness.results.summary import Summary

SHOWN_PROBLEMS = 3


def complete_run(run_dir: Path) -> tuple[LoadedRun, Summary]:
    """A run folder whose every measurement is whole, and its summary; else exit 3."""
    run = load_run(Path(run_dir))
    manifest = run.manifest
    if manifest.status in ("complete", "incomplete") and run.problems:
        shown = "; ".join(run.problems[:SHOWN_PROBLEMS])
        more = len(run.problems) - SHOWN_PROBLEMS
        raise IncompleteRunError(f"{run.run_dir}: incomplete measurement: {shown}"
                                 f"{f' (and {more} more)' if more > 0 else ''}; an "
                                 "incomplete run never passes a check")
    if manifest.status != "complete":
        raise IncompleteRunError(f"{run.folder.manifest_path}: status is {manifest.status!r}"
                                 f"{': ' + manifest.error if manifest.error else ''}; an "
                                 "incomplete run never passes a check")
    unfinished = [r.record for r in run.runs if r.record.status != "complete"]
    if unfinished:
        raise IncompleteRunError(f"{run.run_dir}: variant run {unfinished[0].label} has status "
                                 f"{unfinished[0].status!r}; an incomplete run never passes "
                                 "a check")
    return run, run.folder.read_summary()


def check_run(
    run_dir: Path,
    *,
    baseline: Path | None = None,
    min_change: Mapping[str, float] | None = None,
    junit: Path | None = None,
    markdown: Path | None = None,
) -> CheckOutcome:
    """Judge a run folder. ``min_change`` (metric -> fraction, "*" = default) replaces the
    scenario's ``[check.min_change]`` when given."""
    run, summary = complete_run(run_dir)
    outcome = CheckOutcome(run_dir=run.run_dir, scenario=summary.scenario,
                           thresholds=judge(run.manifest, summary))
    if baseline is not None:
        outcome = _with_baseline(outcome, Path(baseline), run, summary, min_change)
    if junit is not None:
        _write(Path(junit), junit_xml(outcome))
    if markdown is not None:
        _write(Path(markdown), markdown_report(outcome))
    return outcome


def save_baseline(run_dir: Path, path: Path) -> Path:
    """Record a complete run as a baseline file; a directory gets ``<scenario>.json``.

    Returns the file written.
    """
    _, summary = complete_run(Path(run_dir))
    data = make_baseline(summary)
    target = Path(path)
    if target.is_dir():
        target = target / f"{data['scenario']}.json"
    try:
        write_baseline(data, target)
    except OSError as exc:
        raise InputError(f"{target}: cannot write the baseline ({exc.strerror})") from None
    return target


def _with_baseline(outcome: CheckOutcome, path: Path, run: LoadedRun, summary: Summary,
                   min_change: Mapping[str, float] | None) -> CheckOutcome:
    data = load_baseline(path, scenario=outcome.scenario)
    if data.get("scenario") != outcome.scenario:
        raise InputError(f"{path}: baseline was recorded for scenario {data.get('scenario')!r}, "
                         f"this run is {outcome.scenario!r}; record a baseline for it")
    spec = run.manifest.scenario.check
    changes = dict(min_change if min_change is not None else spec.min_change)
    default = changes.pop(WILDCARD, DEFAULT_MIN_CHANGE)
    comparisons = compare(data, summary, changes, default, min_abs=spec.min_abs,
                          alpha=spec.alpha)
    return CheckOutcome(run_dir=outcome.run_dir, scenario=outcome.scenario,
                        thresholds=outcome.thresholds, comparisons=tuple(comparisons),
                        baseline_path=path, baseline_created=data.get("created"),
                        alpha=spec.alpha)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror})") from None
