"""The ``check`` and ``baseline`` subcommands as plain functions (``harness.cli`` wires them).

``check_run`` reads a complete run folder, re-evaluates the thresholds of the scenario copy
in ``manifest.json`` against ``summary.json``, compares with a baseline when given, writes
JUnit and Markdown files when asked, and returns the outcome (``outcome.exit_code``: 0 pass,
1 a threshold failed or a regression). Bad input raises InputError (exit 2); an incomplete
run raises IncompleteRunError (exit 3).

Settings read from the scenario copy (all optional)::

    [thresholds]
    "*.latency.p95_ms" = "< 2s"

    [check]
    alpha = 0.05                       # significance level of the one-sided test
    [check.min_change]                 # minimum relative change, per metric ("*" = default)
    "*" = "10%"
    "latency.p95_ms" = "50%"
    [check.min_abs]                    # absolute noise floor, per metric, in its unit
    "db.connections.peak" = 2
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.check.baseline import (
    DEFAULT_MIN_CHANGE,
    compare,
    load_baseline,
    make_baseline,
    write_baseline,
)
from harness.check.completeness import load_complete_run
from harness.check.outcome import CheckOutcome
from harness.check.report import junit_xml, markdown_report
from harness.check.statistics import DEFAULT_ALPHA
from harness.check.thresholds import WILDCARD, evaluate_thresholds, thresholds_from_scenario
from harness.check.units import parse_quantity
from harness.errors import InputError, ScenarioError
from harness.results.metrics import metric_info


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
    run = load_complete_run(Path(run_dir))
    source = str(run.run_dir / "manifest.json")
    scenario = _scenario(run.manifest, source)
    ran = list(run.summary["variants"])
    declared = _declared_variants(scenario) or ran
    thresholds = thresholds_from_scenario(_threshold_entries(scenario, source),
                                          declared + [v for v in ran if v not in declared],
                                          source=source)
    results = evaluate_thresholds(thresholds, run.summary,
                                  not_run=[v for v in declared if v not in ran])
    name = str(run.summary.get("scenario") or scenario.get("name") or "")
    outcome = CheckOutcome(run_dir=run.run_dir, scenario=name, thresholds=tuple(results))
    if baseline is not None:
        outcome = _with_baseline(outcome, Path(baseline), run.summary, scenario, source,
                                 min_change)
    if junit is not None:
        _write(Path(junit), junit_xml(outcome))
    if markdown is not None:
        _write(Path(markdown), markdown_report(outcome))
    return outcome


def save_baseline(run_dir: Path, path: Path) -> Path:
    """Record a complete run as a baseline file; a directory gets ``<scenario>.json``.

    Returns the file written.
    """
    run = load_complete_run(Path(run_dir))
    data = make_baseline(run.summary)
    target = Path(path)
    if target.is_dir():
        target = target / f"{data['scenario']}.json"
    try:
        write_baseline(data, target)
    except OSError as exc:
        raise InputError(f"{target}: cannot write the baseline ({exc.strerror})") from None
    return target


def _with_baseline(outcome: CheckOutcome, path: Path, summary: Mapping[str, Any],
                   scenario: Mapping[str, Any], source: str,
                   min_change: Mapping[str, float] | None) -> CheckOutcome:
    data = load_baseline(path, scenario=outcome.scenario)
    if data.get("scenario") != outcome.scenario:
        raise InputError(f"{path}: baseline was recorded for scenario {data.get('scenario')!r}, "
                         f"this run is {outcome.scenario!r}; record a baseline for it")
    check = _check_section(scenario, source)
    changes = _min_changes(min_change if min_change is not None else _scenario_min_change(
        scenario, check), source)
    default = changes.pop(WILDCARD, DEFAULT_MIN_CHANGE)
    alpha = _alpha(check, source)
    comparisons = compare(data, summary, changes, default,
                          min_abs=_min_abs(check.get("min_abs") or {}, source), alpha=alpha)
    return CheckOutcome(run_dir=outcome.run_dir, scenario=outcome.scenario,
                        thresholds=outcome.thresholds, comparisons=tuple(comparisons),
                        baseline_path=path, baseline_created=data.get("created"), alpha=alpha)


def _scenario(manifest: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    scenario = manifest.get("scenario")
    if not isinstance(scenario, Mapping):
        raise InputError(f"{source}: no scenario copy (expected \"scenario\": {{...}})")
    return scenario


def _declared_variants(scenario: Mapping[str, Any]) -> list[str]:
    """The variant names the scenario declares (a run may have left some out)."""
    variants = scenario.get("variants")
    if not isinstance(variants, list | tuple):
        return []
    return [str(v["name"]) for v in variants if isinstance(v, Mapping) and v.get("name")]


def _threshold_entries(scenario: Mapping[str, Any], source: str) -> Any:
    entries = scenario.get("thresholds") or {}
    if not isinstance(entries, Mapping | list | tuple):
        raise ScenarioError(source, "thresholds", "expected a table of key = \"<op> <number>\"")
    return entries


def _check_section(scenario: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    check = scenario.get("check") or {}
    if not isinstance(check, Mapping):
        raise ScenarioError(source, "check", "expected a table")
    return check


def _scenario_min_change(scenario: Mapping[str, Any], check: Mapping[str, Any]) -> Any:
    """``[check.min_change]``, or a top-level ``min_change`` (the loaded scenario's field)."""
    return check.get("min_change") or scenario.get("min_change") or {}


def _min_changes(entries: object, source: str) -> dict[str, float]:
    if not isinstance(entries, Mapping):
        raise ScenarioError(source, "check.min_change", 'expected a table of metric = "10%"')
    parsed: dict[str, float] = {}
    for metric, value in entries.items():
        key = f'check.min_change."{metric}"'
        if metric != WILDCARD and metric_info(str(metric)) is None:
            raise ScenarioError(source, key, "expected * or a metric from the glossary")
        parsed[str(metric)] = _fraction(value, source, key)
    return parsed


def _fraction(value: object, source: str, key: str) -> float:
    try:
        if isinstance(value, str):
            number, unit = parse_quantity(value, "ratio")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        else:
            raise ValueError
    except ValueError:
        raise ScenarioError(source, key, f'expected a fraction or a percentage like "10%", '
                                         f"got {value!r}") from None
    if number < 0:
        raise ScenarioError(source, key, f"expected a change >= 0, got {value!r}")
    return number


def _min_abs(entries: object, source: str) -> dict[str, float]:
    if not isinstance(entries, Mapping):
        raise ScenarioError(source, "check.min_abs", "expected a table of metric = number")
    parsed: dict[str, float] = {}
    for metric, value in entries.items():
        key = f'check.min_abs."{metric}"'
        info = metric_info(str(metric))
        if info is None:
            raise ScenarioError(source, key, "expected a metric from the glossary")
        try:
            number = parse_quantity(str(value), info.unit)[0]
        except ValueError as exc:
            raise ScenarioError(source, key, str(exc)) from None
        if isinstance(value, bool) or number < 0:
            raise ScenarioError(source, key, f"expected a number >= 0, got {value!r}")
        parsed[str(metric)] = number
    return parsed


def _alpha(check: Mapping[str, Any], source: str) -> float:
    alpha = check.get("alpha", DEFAULT_ALPHA)
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ScenarioError(source, "check.alpha", f"expected a number in (0, 1), got {alpha!r}")
    return float(alpha)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror})") from None
