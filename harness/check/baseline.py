"""Comparison of a run against a baseline (:mod:`harness.check.baseline_file` reads and
writes the files).

A comparison judges each metric on the medians. A change counts only when it is at least
the metric's minimum relative change (default 10%; for machine metrics the run-to-run spread
measured on one machine, :mod:`harness.check.noise`) AND at least the unit's noise floor in
absolute terms; with 3 or more repeats on both sides it must also pass a one-sided
Mann–Whitney test that the shift exceeds that minimum (:mod:`harness.check.statistics`), and
with 3 or fewer repeats on a side a machine metric's change must also exceed the measured
spread, whatever minimum a scenario sets (3 against 3 reach p = 0.05 with any consistent
shift). The relative change is measured against ``max(|baseline|, floor)``, so a zero
baseline gives a finite change: 0 -> 5 errors is +167% with the count floor of 3 and is a
regression; 0 -> 1 error is below the floor.

A machine metric against a baseline from another machine is "not compared"
(:mod:`harness.check.comparable` decides): never a regression.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.check.baseline_file import Baseline, MetricSamples
from harness.check.noise import FEW_REPEATS, MEASURED_SPREAD, measured_min_change
from harness.check.statistics import (
    DEFAULT_ALPHA,
    MIN_REPEATS,
    shift_p_value,
    significant,
    smallest_p_value,
)
from harness.check.thresholds import metric_value as _number
from harness.results.metric_names import DB_CONNECTIONS_IDLE_MEAN, DB_CONNECTIONS_MEAN
from harness.results.metrics import METRICS, Direction, machine_dependent, metric_info
from harness.results.summary import Summary, VariantSummary
from harness.units import format_change, format_value

DEFAULT_MIN_CHANGE = 0.10

# The smallest absolute difference that can mean anything, per metric unit.
ABS_FLOORS: dict[str, float] = {
    "count": 3.0,  # 0 -> 1 or 2 errors (or connections) is noise; 0 -> 3 is not
    "ratio": 0.001,  # 0.1 percentage point: 10 errors in 10,000 requests
    "ms": 1.0,  # Locust's own percentiles are whole milliseconds
    "s": 0.1,
    "1/s": 1.0,
    "%": 2.0,  # CPU: 2 percentage points of one core
    "MiB": 2.0,
    "bool": 0.5,
}

# System metrics that move between identical runs (how many connections are open on average
# depends on timing); machine metrics get the spread measured by benchmarks/check_noise.py
# (harness.check.noise). A scenario's [check.min_change] entry for the metric wins.
NOISY_MIN_CHANGES: dict[str, float] = {
    DB_CONNECTIONS_MEAN: 0.25,
    DB_CONNECTIONS_IDLE_MEAN: 0.40,  # 35% between identical runs (benchmarks/check_noise.py)
    **{m: measured_min_change(m, DEFAULT_MIN_CHANGE) for m in METRICS if machine_dependent(m)},
}

Verdict = Literal["improved", "regressed", "unchanged", "not significant", "changed", "skipped",
                  "not compared"]


@dataclass(frozen=True)
class Comparison:
    """One metric of one variant, baseline against current.

    ``change`` is relative: ``(current - baseline) / max(|baseline|, floor)``. ``supported``
    says whether a significance test backed the verdict (3+ repeats on both sides).
    ``changed`` is the verdict of a metric with no better direction that moved; ``not
    compared`` that of a machine metric against another machine's baseline.
    """

    variant: str
    metric: str
    unit: str
    direction: Direction
    baseline: float | None
    current: float | None
    change: float | None
    verdict: Verdict
    reason: str
    p_value: float | None
    n_baseline: int
    n_current: int
    supported: bool
    min_change: float
    floor: float

    @property
    def failed(self) -> bool:
        return self.verdict == "regressed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant, "metric": self.metric, "unit": self.unit,
            "direction": self.direction, "baseline": self.baseline, "current": self.current,
            "change": _finite(self.change), "verdict": self.verdict, "reason": self.reason,
            "p_value": self.p_value, "n_baseline": self.n_baseline,
            "n_current": self.n_current, "statistical_support": self.supported,
            "min_change": self.min_change, "floor": self.floor,
        }


def _value(values: Mapping[str, Any], name: str) -> float | None:
    """``values[name]`` as a float, None when absent, null or not a number."""
    raw = values.get(name)
    return _number(raw) if isinstance(raw, int | float) else None


# ---------------------------------------------------------------- comparison

@dataclass(frozen=True)
class _Side:
    median: float | None
    values: list[float]


@dataclass(frozen=True)
class _Rules:
    """How one metric is judged: its minimum change, noise floor and test level."""

    min_change: float
    floor: float
    alpha: float
    other_machine: str | None


def compare(
    baseline: Baseline,
    summary: Summary,
    min_change: Mapping[str, float] | None = None,
    default_min_change: float = DEFAULT_MIN_CHANGE,
    *,
    min_abs: Mapping[str, float] | None = None,
    alpha: float = DEFAULT_ALPHA,
    other_machine: str | None = None,
) -> list[Comparison]:
    """Compare every metric of every variant present on either side.

    The minimum relative change of a metric is ``min_change[metric]`` when given, else
    :data:`NOISY_MIN_CHANGES`, else ``default_min_change``. ``min_abs`` overrides the
    absolute noise floor per metric name (in the metric's unit; default :data:`ABS_FLOORS`).
    ``other_machine`` (why the baseline's machine is not this run's) makes every machine
    metric "not compared".
    """
    base_variants = baseline.variants
    cur_variants = summary.variants
    names = list(cur_variants) + [v for v in base_variants if v not in cur_variants]
    results: list[Comparison] = []
    for variant in names:
        base = _baseline_sides(base_variants.get(variant))
        cur = _current_sides(cur_variants.get(variant))
        missing = _missing(variant, base_variants, cur_variants)
        for metric in _ordered(set(base) | set(cur)):
            rules = _Rules(min_change=_min_change(metric, min_change or {}, default_min_change),
                           floor=(min_abs or {}).get(metric, _floor(metric)), alpha=alpha,
                           other_machine=other_machine)
            results.append(_judge(variant, metric, base.get(metric), cur.get(metric), rules,
                                  missing))
    return results


def _baseline_sides(entry: Mapping[str, MetricSamples] | None) -> dict[str, _Side]:
    if entry is None:
        return {}
    return {m: _Side(e.median, [float(v) for v in e.values if not math.isnan(v)])
            for m, e in entry.items()}


def _current_sides(entry: VariantSummary | None) -> dict[str, _Side]:
    if entry is None:
        return {}
    return {m: _Side(_value(entry.metrics, m), _repeat_values(entry, m))
            for m in entry.metrics}


def _repeat_values(entry: VariantSummary, metric: str) -> list[float]:
    values = [v for r in entry.repeats if (v := _value(r, metric)) is not None]
    if not values and (median := _value(entry.metrics, metric)) is not None:
        values = [median]
    return values


def _ordered(metrics: set[str]) -> list[str]:
    known = [m for m in METRICS if m in metrics]
    return known + sorted(m for m in metrics if m not in METRICS)


def _min_change(metric: str, given: Mapping[str, float], default: float) -> float:
    if metric in given:
        return given[metric]
    return NOISY_MIN_CHANGES.get(metric, default)


def _floor(metric: str) -> float:
    info = metric_info(metric)
    return ABS_FLOORS.get(info.unit, 0.0) if info else 0.0


def _missing(variant: str, base: Mapping[str, Any], cur: Mapping[str, Any]) -> str | None:
    if variant not in base:
        return f"variant {variant!r} is not in the baseline"
    if variant not in cur:
        return f"variant {variant!r} is not in the current run"
    return None


@dataclass(frozen=True)
class _Verdicts:
    """Builds the comparisons of one metric of one variant (its fixed fields in one place)."""

    variant: str
    metric: str
    unit: str
    direction: Direction
    base: _Side | None
    cur: _Side | None
    rules: _Rules

    def make(self, v: Verdict, reason: str, change: float | None = None,
             p: float | None = None, supported: bool = False) -> Comparison:
        return Comparison(
            variant=self.variant, metric=self.metric, unit=self.unit,
            direction=self.direction, baseline=self.base.median if self.base else None,
            current=self.cur.median if self.cur else None, change=change, verdict=v,
            reason=reason, p_value=p, n_baseline=len(self.base.values) if self.base else 0,
            n_current=len(self.cur.values) if self.cur else 0, supported=supported,
            min_change=self.rules.min_change, floor=self.rules.floor)


def _judge(variant: str, metric: str, base: _Side | None, cur: _Side | None, rules: _Rules,
           missing: str | None) -> Comparison:
    info = metric_info(metric)
    unit, direction = (info.unit, info.direction) if info else ("", "none")
    out = _Verdicts(variant, metric, unit, direction, base, cur, rules)
    b = base.median if base else None
    c = cur.median if cur else None
    if base is None or cur is None or b is None or c is None:
        return out.make("skipped", missing or _null_reason(metric, base, cur, b, c))
    change = _relative_change(b, c, rules.floor)
    if rules.other_machine is not None and machine_dependent(metric):
        return out.make("not compared", "not compared: recorded on another machine "
                        f"({rules.other_machine})", change)
    small = _below_minimum(b, c, change, rules.min_change, rules.floor, unit)
    if small:
        return out.make("unchanged", small, change)
    if direction == "none":
        return out.make("changed", f"{format_change(change)}; informational: "
                        "this metric has no better direction", change)
    worse = (c > b) == (direction == "lower")
    kind: Verdict = "regressed" if worse else "improved"
    nb, nc = len(base.values), len(cur.values)
    within = _within_spread(metric, change, nb, nc)
    if within:
        return out.make("not significant", within, change)
    if min(nb, nc) < MIN_REPEATS:
        return out.make(kind, f"{format_change(change)} ({'worse' if worse else 'better'}); "
                        f"no statistical support: {nb} vs {nc} repeats (a significance test "
                        f"needs {MIN_REPEATS} or more on both sides)", change)
    return _tested(out, kind, worse, change, base, cur)


def _tested(out: _Verdicts, kind: Verdict, worse: bool, change: float, base: _Side,
            cur: _Side) -> Comparison:
    """The verdict of a change large enough to count, by the one-sided shift test."""
    assert base.median is not None and cur.median is not None
    rules = out.rules
    nb, nc = len(base.values), len(cur.values)
    p = shift_p_value(base.values, cur.values, larger=cur.median > base.median,
                      margin=_margin(base.median, rules.min_change, rules.floor))
    tested = f"one-sided Mann-Whitney, {nb} vs {nc} repeats"
    if significant(p, rules.alpha):
        return out.make(kind, f"{format_change(change)} ({'worse' if worse else 'better'}), "
                        f"p = {p:.3g} <= {rules.alpha:g} ({tested})", change, p, True)
    reason = f"{format_change(change)} but p = {p:.3g} > {rules.alpha:g} ({tested})"
    if smallest_p_value(nb, nc) > rules.alpha * (1 + 1e-9):
        reason += f"; {nb} vs {nc} repeats can never reach p <= {rules.alpha:g}: add repeats"
    return out.make("not significant", reason, change, p, True)


def _within_spread(metric: str, change: float, nb: int, nc: int) -> str | None:
    """With few repeats, a machine metric's change must exceed the measured run-to-run spread
    (whatever minimum change a scenario sets): why it does not, or None."""
    spread = MEASURED_SPREAD.get(metric)
    if spread is None or min(nb, nc) > FEW_REPEATS or abs(change) > spread:
        return None
    return (f"{format_change(change)} is within the {spread * 100:.0f}% spread measured between "
            f"identical runs on one machine (benchmarks/check_noise.py); with {nb} vs {nc} "
            f"repeats a change must exceed it")


def _null_reason(metric: str, base: _Side | None, cur: _Side | None,
                 b: float | None, c: float | None) -> str:
    if base is None:
        return f"{metric} is not in the baseline"
    if cur is None:
        return f"{metric} is not in the current run"
    if b is None and c is None:
        return f"{metric} is null in both (not applicable)"
    return f"{metric} is null in the {'baseline' if b is None else 'current run'}"


def _margin(base: float, min_change: float, floor: float) -> float:
    """The smallest absolute difference that counts: the minimum change, or the floor."""
    return max(min_change * max(abs(base), floor), floor)


def _relative_change(base: float, current: float, floor: float) -> float:
    diff = current - base
    if diff == 0:
        return 0.0
    scale = max(abs(base), floor)
    return diff / scale if scale > 0 else math.copysign(math.inf, diff)


def _below_minimum(base: float, current: float, change: float, min_change: float,
                   floor: float, unit: str) -> str | None:
    """Why the change is too small to count, or None when it is large enough."""
    tolerance = 1e-9
    if abs(change) < min_change - tolerance or change == 0:
        return f"{format_change(change)} is within the {min_change * 100:g}% minimum change"
    if abs(current - base) < floor - tolerance * max(1.0, floor):
        return (f"absolute change {format_value(abs(current - base), unit)} is below "
                f"the noise floor {format_value(floor, unit)}")
    return None


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None
