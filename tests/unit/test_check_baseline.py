"""Baselines: the file format, and comparison statistics on synthetic per-repeat samples."""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.check.baseline import NOISY_MIN_CHANGES, compare
from harness.check.baseline_file import (
    Baseline,
    MetricSamples,
    load_baseline,
    make_baseline,
    write_baseline,
)
from harness.check.noise import MEASURED_SPREAD, measured_min_change
from harness.check.statistics import shift_p_value, significant, smallest_p_value
from harness.errors import InputError
from harness.results.summary import MetricValue, Summary, VariantSummary

METRIC = "db.connects"  # default 10% minimum change, no built-in noise allowance


def run_summary(per_variant: dict[str, dict[str, list[float | None]]]) -> Summary:
    """A summary with per-repeat values and their medians."""
    variants: dict[str, VariantSummary] = {}
    for name, metrics in per_variant.items():
        n = max(len(v) for v in metrics.values())
        repeats = tuple({m: values[i] for m, values in metrics.items()} for i in range(n))
        medians: dict[str, MetricValue] = {
            m: (statistics.median(x for x in values if x is not None)
                if any(x is not None for x in values) else None)
            for m, values in metrics.items()}
        variants[name] = VariantSummary(
            status="complete", error=None, target="persistent", pooler="none",
            max_connections=100, metrics=medians, nulls={},
            repeats=repeats, stages=(), faults=(), problems=())
    return Summary(schema_version=2, scenario="ci", status="complete", variants=variants,
                   thresholds=(), findings=(), problems=())


def one(base: list[float | None], cur: list[float | None], metric: str = METRIC,
        **kwargs: Any) -> Any:
    baseline = make_baseline(run_summary({"v": {metric: base}}))
    [comparison] = compare(baseline, run_summary({"v": {metric: cur}}), **kwargs)
    return comparison


# ---------------------------------------------------------------- file format

def test_make_baseline_keeps_medians_and_repeats(tmp_path: Path) -> None:
    summary = run_summary({"a": {"latency.p95_ms": [10.0, 12.0, 11.0],
                                 "pooler.cl_waiting.peak": [None, None, None]}})
    data = make_baseline(summary, created="2024-01-01T00:00:00+00:00")
    assert data == Baseline(
        format="pgstampede-baseline", version=2, scenario="ci",
        created="2024-01-01T00:00:00+00:00", scenario_hash="", scenario_source={},
        recorded_on=None,
        variants={"a": {"latency.p95_ms": MetricSamples(11.0, (10.0, 12.0, 11.0)),
                        "pooler.cl_waiting.peak": MetricSamples(None, ())}})
    path = tmp_path / "nested" / "ci.json"
    write_baseline(data, path)
    assert json.loads(path.read_text())["variants"]["a"]["latency.p95_ms"] == \
        {"median": 11.0, "values": [10.0, 12.0, 11.0]}
    assert load_baseline(path) == data
    assert load_baseline(tmp_path / "nested", scenario="ci") == data
    assert make_baseline(summary).created.endswith("+00:00")
    assert [p.name for p in path.parent.iterdir()] == ["ci.json"]  # no temp file left


def test_summary_without_repeats_uses_the_median_as_one_value() -> None:
    summary = run_summary({"a": {"http.rps": [5.0]}})
    no_repeats = replace(summary, variants={"a": replace(summary.variants["a"], repeats=())})
    assert make_baseline(no_repeats).variants["a"]["http.rps"] == MetricSamples(5.0, (5.0,))


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not a readable JSON baseline"),
    ("[]", "not a pgstampede baseline"),
    ('{"format": "other"}', "not a pgstampede baseline"),
    ('{"format": "pgstampede-baseline", "version": 9, "variants": {}}', "version 9"),
    ('{"format": "pgstampede-baseline", "version": 2, "scenario": "ci", "created": "", '
     '"scenario_hash": "", "scenario_source": {}, "variants": {}}',
     "recorded_on: expected a value (key missing)"),
    ('{"format": "pgstampede-baseline", "version": 1, "variants": []}', '"variants" must'),
    ('{"format": "pgstampede-baseline", "version": 1, "variants": {"a": {"m": 3}}}',
     "variants.a.m must be"),
    ('{"format": "pgstampede-baseline", "version": 1, '
     '"variants": {"a": {"m": {"median": "x", "values": []}}}}', "variants.a.m must be"),
])
def test_bad_baseline_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        load_baseline(path)
    assert message in str(info.value) and str(path) in str(info.value)
    assert info.value.exit_code == 2


def test_missing_baseline_file_or_directory_entry(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="baseline file not found; record one with"):
        load_baseline(tmp_path / "nope.json")
    with pytest.raises(InputError, match="no baseline for scenario 'ci'"):
        load_baseline(tmp_path, scenario="ci")
    with pytest.raises(InputError, match="needs the scenario name"):
        load_baseline(tmp_path)


# ---------------------------------------------------------------- verdicts

def test_real_shift_is_flagged_with_statistical_support() -> None:
    c = one([100.0, 104.0, 98.0, 101.0, 99.0], [150.0, 149.0, 155.0, 152.0, 147.0])
    assert c.verdict == "regressed" and c.failed and c.supported
    assert c.change == pytest.approx(0.5, abs=0.02)
    assert c.p_value is not None and c.p_value < 0.01
    assert "one-sided Mann-Whitney, 5 vs 5 repeats" in c.reason


def test_improvement_in_a_higher_is_better_metric() -> None:
    c = one([100.0, 101.0, 99.0], [200.0, 210.0, 190.0], metric="http.rps")
    assert c.verdict == "improved" and not c.failed and c.supported
    c = one([100.0, 101.0, 99.0], [30.0, 33.0, 27.0], metric="http.rps")
    assert c.verdict == "regressed"


def test_three_vs_three_is_the_minimum_that_can_flag() -> None:
    assert smallest_p_value(3, 3) == pytest.approx(0.05)
    assert smallest_p_value(2, 3) == pytest.approx(0.1)
    assert significant(smallest_p_value(3, 3), 0.05)
    c = one([10.0, 10.0, 10.0], [20.0, 20.0, 20.0], metric="db.connections.peak")
    assert c.verdict == "regressed" and c.p_value == pytest.approx(0.05)


def test_overlapping_samples_are_not_significant() -> None:
    c = one([100.0, 130.0, 90.0], [125.0, 95.0, 140.0])
    assert c.change == pytest.approx(25 / 100)
    assert c.verdict == "not significant" and not c.failed and c.supported
    assert "p = " in c.reason and "> 0.05" in c.reason


def test_alpha_out_of_reach_says_add_repeats() -> None:
    c = one([10.0, 10.0, 10.0], [20.0, 20.0, 20.0], metric="db.connections.peak", alpha=0.01)
    assert c.verdict == "not significant"
    assert "can never reach p <= 0.01: add repeats" in c.reason


def test_few_repeats_use_the_factor_only_and_say_so() -> None:
    c = one([100.0], [130.0])
    assert c.verdict == "regressed" and not c.supported and c.p_value is None
    assert "no statistical support: 1 vs 1 repeats" in c.reason
    c = one([100.0, 101.0], [104.0, 105.0, 103.0])
    assert c.verdict == "unchanged" and "within the 10% minimum change" in c.reason


def test_min_change_override_and_noisy_defaults() -> None:
    assert one([100.0], [130.0], min_change={METRIC: 0.5}).verdict == "unchanged"
    assert one([100.0], [107.0], default_min_change=0.05).verdict == "regressed"
    # latency moves between identical runs: the spread measured on one machine
    # (benchmarks/check_noise.py) is its built-in minimum
    metric = "latency.max_ms"
    assert MEASURED_SPREAD[metric] > 0.3
    assert NOISY_MIN_CHANGES[metric] == measured_min_change(metric, 0.1)
    assert NOISY_MIN_CHANGES[metric] >= MEASURED_SPREAD[metric]
    assert one([100.0], [130.0], metric=metric).verdict == "unchanged"
    # a scenario may lower it, but with 3 repeats or fewer a change must also exceed the
    # measured spread; with more repeats the scenario's minimum and the test decide
    lower = {metric: 0.1}
    assert one([100.0], [130.0], metric=metric, min_change=lower).verdict == "not significant"
    assert one([100.0], [190.0], metric=metric, min_change=lower).verdict == "regressed"
    assert one([100.0, 101.0, 99.0, 100.0], [130.0, 131.0, 129.0, 130.0], metric=metric,
               min_change=lower).verdict == "regressed"


def test_zero_baseline_relative_change_and_absolute_floor() -> None:
    five = one([0.0], [5.0], metric="errors.db_too_many_connections")
    assert five.verdict == "regressed" and five.change == pytest.approx(5 / 3)
    single = one([0.0], [1.0], metric="errors.db_too_many_connections")
    assert single.verdict == "unchanged" and "below the noise floor 3" in single.reason
    rate = one([0.0], [1 / 10_000], metric="http.error_rate")
    assert rate.verdict == "unchanged"
    rate = one([0.0], [0.005], metric="http.error_rate")
    assert rate.verdict == "regressed" and rate.change == pytest.approx(5.0)
    assert one([0.0], [0.0], metric="http.failures").verdict == "unchanged"
    assert one([0.0], [1.0], metric="http.failures", min_abs={"http.failures": 1}).verdict \
        == "regressed"


def test_direction_none_is_reported_but_never_regresses() -> None:
    c = one([1000.0, 1000.0, 1000.0], [3000.0, 3000.0, 3000.0], metric="http.requests")
    assert c.verdict == "changed" and not c.failed and c.direction == "none"


def test_null_on_either_side_is_skipped_with_a_reason() -> None:
    assert one([None], [3.0], metric="pooler.cl_waiting.peak").reason == \
        "pooler.cl_waiting.peak is null in the baseline"
    assert one([3.0], [None], metric="pooler.cl_waiting.peak").reason == \
        "pooler.cl_waiting.peak is null in the current run"
    both = one([None], [None], metric="pooler.cl_waiting.peak")
    assert both.verdict == "skipped" and "null in both" in both.reason


def test_variants_and_metrics_on_one_side_only() -> None:
    baseline = make_baseline(run_summary({"a": {"http.rps": [1.0]},
                                          "old": {"http.rps": [1.0]}}))
    current = run_summary({"a": {"http.rps": [1.0], "latency.p50_ms": [3.0]},
                           "new": {"http.rps": [1.0]}})
    by_key = {(c.variant, c.metric): c for c in compare(baseline, current)}
    assert by_key[("a", "http.rps")].verdict == "unchanged"
    assert by_key[("a", "latency.p50_ms")].reason == "latency.p50_ms is not in the baseline"
    assert by_key[("new", "http.rps")].reason == "variant 'new' is not in the baseline"
    assert by_key[("old", "http.rps")].reason == "variant 'old' is not in the current run"
    assert all(by_key[k].verdict == "skipped" for k in by_key if k != ("a", "http.rps"))


def test_metrics_in_glossary_order_and_as_dict() -> None:
    summary = run_summary({"a": {"latency.p95_ms": [1.0], "http.requests": [1.0],
                                 "custom.metric": [1.0]}})
    comparisons = compare(make_baseline(summary), summary)
    assert [c.metric for c in comparisons] == ["http.requests", "latency.p95_ms",
                                               "custom.metric"]
    d = comparisons[1].as_dict()
    assert set(d) >= {"variant", "metric", "baseline", "current", "change", "verdict",
                      "reason", "p_value", "statistical_support"}
    json.dumps([c.as_dict() for c in comparisons])


# ---------------------------------------------------------------- noise: seeded trials

def _trial(rng: np.random.Generator, n: int, cv: float, shift: float) -> str:
    base = list(100 * rng.lognormal(0.0, cv, n))
    cur = list(shift * 100 * rng.lognormal(0.0, cv, n))
    return str(one(base, cur).verdict)


@pytest.mark.parametrize("n", [3, 5])
@pytest.mark.parametrize("cv", [0.05, 0.10, 0.20])
def test_one_distribution_is_not_flagged_in_95_of_100_trials(n: int, cv: float) -> None:
    verdicts = [_trial(np.random.default_rng(seed), n, cv, 1.0) for seed in range(100)]
    flagged = sum(v in ("regressed", "improved") for v in verdicts)
    assert flagged <= 5, verdicts


@pytest.mark.parametrize(("n", "cv", "shift"), [(3, 0.05, 1.5), (5, 0.10, 1.5),
                                                (5, 0.05, 1.3), (3, 0.05, 0.6)])
def test_a_real_shift_is_flagged_in_95_of_100_trials(n: int, cv: float, shift: float) -> None:
    verdicts = [_trial(np.random.default_rng(seed), n, cv, shift) for seed in range(100)]
    expected = "regressed" if shift > 1 else "improved"
    assert sum(v == expected for v in verdicts) >= 95


def test_shift_test_alone_keeps_its_false_positive_rate() -> None:
    """Without a margin the one-sided test flags about alpha of identical samples."""
    rng = np.random.default_rng(7)
    hits = sum(significant(shift_p_value(list(rng.normal(size=5)), list(rng.normal(size=5)),
                                         larger=True), 0.05) for _ in range(400))
    assert hits <= 0.05 * 400 * 1.6
    assert shift_p_value([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], larger=True) > 0.5


def test_shift_test_margin_and_large_samples() -> None:
    base, cur = [10.0, 11.0, 12.0], [20.0, 21.0, 22.0]
    assert shift_p_value(base, cur, larger=True) == pytest.approx(0.05)
    assert shift_p_value(base, cur, larger=True, margin=9.5) > 0.05
    rng = np.random.default_rng(1)
    big = shift_p_value(list(rng.normal(size=12)), list(rng.normal(3, 1, size=12)),
                        larger=True)
    assert big < 0.001
    with pytest.raises(ValueError, match="at least two values"):
        shift_p_value([1.0], [1.0, 2.0], larger=True)
    assert shift_p_value([10.0] * 3, [13.0] * 3, larger=True, margin=3.0) == 1.0
    assert shift_p_value([10.0] * 10, [10.0] * 10, larger=True) == 1.0
