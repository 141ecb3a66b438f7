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

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.analysis.run import LoadedRun, load_run
from harness.check.baseline import DEFAULT_MIN_CHANGE, compare
from harness.check.baseline_file import (
    load_baseline,
    make_baseline,
    recorded_on,
    write_baseline,
)
from harness.check.comparable import comparability
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
    machine_id: str | None = None,
    compare_all: bool = False,
) -> CheckOutcome:
    """Judge a run folder. ``min_change`` (metric -> fraction, "*" = default) replaces the
    scenario's ``[check.min_change]`` when given. ``machine_id`` replaces the machine identity
    the run recorded; ``compare_all`` compares every metric whatever the baseline's machine
    and scenario."""
    run, summary = complete_run(run_dir)
    outcome = CheckOutcome(run_dir=run.run_dir, scenario=summary.scenario,
                           thresholds=judge(run.manifest, summary))
    if baseline is not None:
        outcome = _with_baseline(outcome, Path(baseline), run, summary,
                                 _Options(min_change, machine_id, compare_all))
    if junit is not None:
        _write(Path(junit), junit_xml(outcome))
    if markdown is not None:
        _write(Path(markdown), markdown_report(outcome))
    return outcome


def save_baseline(run_dir: Path, path: Path | str, *, machine_id: str | None = None) -> Path:
    """Record a complete run as a baseline file, with the machine it ran on (``machine_id``
    replaces the identity the run recorded). A directory (an existing one, or a path ending
    in ``/``) gets ``<scenario>.json``. Returns the file written.
    """
    run, summary = complete_run(Path(run_dir))
    data = make_baseline(summary, recorded=recorded_on(run.manifest, machine_id),
                         source=run.manifest.scenario.source)
    target = Path(path)
    if target.is_dir() or str(path).endswith(("/", os.sep)):
        target = target / f"{data.scenario}.json"
    try:
        write_baseline(data, target)
    except OSError as exc:
        raise InputError(f"{target}: cannot write the baseline ({exc.strerror})") from None
    return target


@dataclass(frozen=True)
class _Options:
    """How to compare with a baseline, from the command line."""

    min_change: Mapping[str, float] | None
    machine_id: str | None
    compare_all: bool


def _with_baseline(outcome: CheckOutcome, path: Path, run: LoadedRun, summary: Summary,
                   options: _Options) -> CheckOutcome:
    data = load_baseline(path, scenario=outcome.scenario)
    if data.scenario != outcome.scenario:
        raise InputError(f"{path}: baseline was recorded for scenario {data.scenario!r}, "
                         f"this run is {outcome.scenario!r}; record a baseline for it")
    judged = comparability(data, recorded_on(run.manifest, options.machine_id),
                           run.manifest.scenario.source, path=str(path),
                           compare_all=options.compare_all)
    spec = run.manifest.scenario.check
    changes = dict(options.min_change if options.min_change is not None else spec.min_change)
    default = changes.pop(WILDCARD, DEFAULT_MIN_CHANGE)
    comparisons = compare(data, summary, changes, default, min_abs=spec.min_abs,
                          alpha=spec.alpha, other_machine=judged.machine_note)
    return CheckOutcome(run_dir=outcome.run_dir, scenario=outcome.scenario,
                        thresholds=outcome.thresholds, comparisons=tuple(comparisons),
                        baseline_path=path, baseline_created=data.created or None,
                        alpha=spec.alpha, baseline_notes=judged.notes)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror})") from None
