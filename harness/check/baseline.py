"""Baselines: a run's metrics kept as versioned JSON, and the comparison of a run against one.

A baseline file holds, per variant and metric, the median over repeats and the per-repeat
values (the significance test needs them)::

    {"format": "pgstampede-baseline", "version": 1, "scenario": "ci", "created": "...",
     "variants": {"persistent": {"latency.p95_ms": {"median": 12.5, "values": [12, 12.5, 13]}}}}

History: version 1 — first format.

A comparison judges each metric on the medians. A change counts only when it is at least
the metric's minimum relative change (default 10%) AND at least the unit's noise floor in
absolute terms; with 3 or more repeats on both sides it must also pass a one-sided
Mann–Whitney test that the shift exceeds that minimum (:mod:`harness.check.statistics`).
The relative change is measured against ``max(|baseline|, floor)``, so a zero baseline
gives a finite change: 0 -> 5 errors is +167% with the count floor of 3 and is a
regression; 0 -> 1 error is below the floor.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from harness.check.statistics import (
    DEFAULT_ALPHA,
    MIN_REPEATS,
    shift_p_value,
    significant,
    smallest_p_value,
)
from harness.check.thresholds import metric_value as _number
from harness.errors import InputError
from harness.results.metrics import HOST_ROLES, METRICS, Direction, metric_info
from harness.results.summary import Summary, VariantSummary
from harness.units import format_change, format_value

FORMAT = "pgstampede-baseline"
VERSION = 1
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

# Metrics that move between identical runs on a shared machine get a larger minimum change
# than DEFAULT_MIN_CHANGE; a scenario's [check.min_change] entry for the metric wins.
NOISY_MIN_CHANGES: dict[str, float] = {
    "latency.p50_ms": 0.25,
    "latency.p95_ms": 0.5,
    "latency.p99_ms": 0.5,
    "latency.max_ms": 1.0,
    "http.rps": 0.25,
    "db.connections.mean": 0.25,
    "db.connections.idle.mean": 0.25,
    "pooler.maxwait_ms.peak": 0.5,
    "platform.cold_start_ms.p50": 0.5,
    "platform.cold_start_ms.p95": 0.5,
    "background.delay_ms.p95": 0.5,
    **{f"host.cpu.{role}.mean": 0.5 for role in HOST_ROLES},
    **{f"host.rss.{role}.peak_mb": 0.25 for role in HOST_ROLES},
}

Verdict = Literal["improved", "regressed", "unchanged", "not significant", "changed", "skipped"]


@dataclass(frozen=True)
class Comparison:
    """One metric of one variant, baseline against current.

    ``change`` is relative: ``(current - baseline) / max(|baseline|, floor)``. ``supported``
    says whether a significance test backed the verdict (3+ repeats on both sides).
    ``changed`` is the verdict of a metric with no better direction that moved.
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


def _value(values: object, name: str) -> float | None:
    """``values[name]`` as a float, None when absent, null or not a number."""
    if not isinstance(values, Mapping):
        return None
    raw = values.get(name)
    return _number(raw) if isinstance(raw, int | float) else None


# ---------------------------------------------------------------- baseline files

def make_baseline(summary: Summary, *, created: str | None = None) -> dict[str, Any]:
    """The baseline of a run, from its summary."""
    variants: dict[str, dict[str, dict[str, Any]]] = {}
    for name, entry in summary.variants.items():
        variants[name] = {
            metric: {"median": _value(entry.metrics, metric),
                     "values": _repeat_values(entry.repeats, entry.metrics, metric)}
            for metric in entry.metrics
        }
    stamp = created or datetime.now(UTC).isoformat(timespec="seconds")
    return {"format": FORMAT, "version": VERSION, "scenario": summary.scenario,
            "created": stamp, "variants": variants}


def write_baseline(baseline: Mapping[str, Any], path: Path) -> None:
    """Write a baseline as indented JSON, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def load_baseline(path: Path, *, scenario: str | None = None) -> dict[str, Any]:
    """Read a baseline file, or ``<path>/<scenario>.json`` when ``path`` is a directory.

    Raises InputError naming the file and what is wrong.
    """
    path = Path(path)
    if path.is_dir():
        if not scenario:
            raise InputError(f"{path}: a baseline directory needs the scenario name")
        path = path / f"{scenario}.json"
        if not path.is_file():
            raise InputError(f"{path}: no baseline for scenario {scenario!r}; record one with "
                             f"`pgstampede baseline RUN_DIR --save {path}`")
    if not path.is_file():
        raise InputError(f"{path}: baseline file not found; record one with "
                         f"`pgstampede baseline RUN_DIR --save {path}`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON baseline ({exc})") from None
    problem = _baseline_problem(data)
    if problem:
        raise InputError(f"{path}: {problem}")
    return dict(data)


def _baseline_problem(data: object) -> str | None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return f'not a pgstampede baseline (expected "format": "{FORMAT}")'
    version = data.get("version")
    if version != VERSION:
        return f"baseline version {version!r} is not supported (expected {VERSION})"
    variants = data.get("variants")
    if not isinstance(variants, dict):
        return '"variants" must be an object of variant -> metric -> {median, values}'
    for variant, metrics in variants.items():
        if not isinstance(metrics, dict):
            return f"variants.{variant} must be an object of metric -> {{median, values}}"
        for metric, entry in metrics.items():
            if not _valid_entry(entry):
                return (f"variants.{variant}.{metric} must be "
                        '{"median": number or null, "values": [numbers]}')
    return None


def _valid_entry(entry: object) -> bool:
    if not isinstance(entry, dict):
        return False
    median, values = entry.get("median"), entry.get("values")
    return (median is None or isinstance(median, int | float)) and isinstance(values, list) \
        and all(isinstance(v, int | float) for v in values)


def _repeat_values(repeats: Iterable[object], metrics: Mapping[str, Any], metric: str
                   ) -> list[float]:
    values = [v for r in repeats if (v := _value(r, metric)) is not None]
    if not values and (median := _value(metrics, metric)) is not None:
        values = [median]
    return values


# ---------------------------------------------------------------- comparison

@dataclass(frozen=True)
class _Side:
    median: float | None
    values: list[float]


def compare(
    baseline: Mapping[str, Any],
    summary: Summary,
    min_change: Mapping[str, float] | None = None,
    default_min_change: float = DEFAULT_MIN_CHANGE,
    *,
    min_abs: Mapping[str, float] | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> list[Comparison]:
    """Compare every metric of every variant present on either side.

    The minimum relative change of a metric is ``min_change[metric]`` when given, else
    :data:`NOISY_MIN_CHANGES`, else ``default_min_change``. ``min_abs`` overrides the
    absolute noise floor per metric name (in the metric's unit; default :data:`ABS_FLOORS`).
    """
    base_variants: Mapping[str, Any] = baseline.get("variants") or {}
    cur_variants = summary.variants
    names = list(cur_variants) + [v for v in base_variants if v not in cur_variants]
    results: list[Comparison] = []
    for variant in names:
        base = _baseline_sides(base_variants.get(variant))
        cur = _current_sides(cur_variants.get(variant))
        for metric in _ordered(set(base) | set(cur)):
            results.append(_judge(
                variant, metric, base.get(metric), cur.get(metric),
                min_change=_min_change(metric, min_change or {}, default_min_change),
                floor=(min_abs or {}).get(metric, _floor(metric)), alpha=alpha,
                missing=_missing(variant, base_variants, cur_variants),
            ))
    return results


def _baseline_sides(entry: object) -> dict[str, _Side]:
    if not isinstance(entry, Mapping):
        return {}
    return {m: _Side(_value(e, "median"),
                     [float(v) for v in e.get("values", []) if not math.isnan(v)])
            for m, e in entry.items() if isinstance(e, Mapping)}


def _current_sides(entry: VariantSummary | None) -> dict[str, _Side]:
    if entry is None:
        return {}
    return {m: _Side(_value(entry.metrics, m), _repeat_values(entry.repeats, entry.metrics, m))
            for m in entry.metrics}


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


def _judge(variant: str, metric: str, base: _Side | None, cur: _Side | None, *,
           min_change: float, floor: float, alpha: float, missing: str | None) -> Comparison:
    info = metric_info(metric)
    unit, direction = (info.unit, info.direction) if info else ("", "none")
    b = base.median if base else None
    c = cur.median if cur else None
    nb = len(base.values) if base else 0
    nc = len(cur.values) if cur else 0

    def verdict(v: Verdict, reason: str, change: float | None = None,
                p: float | None = None, supported: bool = False) -> Comparison:
        return Comparison(variant=variant, metric=metric, unit=unit, direction=direction,
                          baseline=b, current=c, change=change, verdict=v, reason=reason,
                          p_value=p, n_baseline=nb, n_current=nc, supported=supported,
                          min_change=min_change, floor=floor)

    if b is None or c is None:
        return verdict("skipped", missing or _null_reason(metric, base, cur, b, c))
    change = _relative_change(b, c, floor)
    small = _below_minimum(b, c, change, min_change, floor, unit)
    if small:
        return verdict("unchanged", small, change)
    if direction == "none":
        return verdict("changed", f"{format_change(change)}; informational: "
                       "this metric has no better direction", change)
    worse = (c > b) == (direction == "lower")
    kind: Verdict = "regressed" if worse else "improved"
    if base is None or cur is None or min(nb, nc) < MIN_REPEATS:
        return verdict(kind, f"{format_change(change)} ({'worse' if worse else 'better'}); "
                       f"no statistical support: {nb} vs {nc} repeats (a significance test "
                       f"needs {MIN_REPEATS} or more on both sides)", change)
    p = shift_p_value(base.values, cur.values, larger=c > b,
                      margin=_margin(b, min_change, floor))
    tested = f"one-sided Mann-Whitney, {nb} vs {nc} repeats"
    if significant(p, alpha):
        return verdict(kind, f"{format_change(change)} ({'worse' if worse else 'better'}), "
                       f"p = {p:.3g} <= {alpha:g} ({tested})", change, p, True)
    reason = f"{format_change(change)} but p = {p:.3g} > {alpha:g} ({tested})"
    if smallest_p_value(nb, nc) > alpha * (1 + 1e-9):
        reason += f"; {nb} vs {nc} repeats can never reach p <= {alpha:g}: add repeats"
    return verdict("not significant", reason, change, p, True)


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
