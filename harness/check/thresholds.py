"""Thresholds judged on a summary: the one verdict code of ``run`` and ``check``.

Rules come parsed from the scenario (:class:`harness.results.check_spec.CheckSpec`, in the
manifest). Each rule is checked on each variant it names (a wildcard names every variant
of the summary), on the variant's ``metrics`` value (the median over repeats):

- the variant was left out of this run (``--variants``): **n/a**;
- the variant is missing from the summary otherwise: **fail**;
- the metric is null and *not applicable* to the variant (pooler metrics without a
  pooler): **n/a**;
- the metric is null because it was *not measured*: **fail** ("not measured: why"),
  or **n/a** when the rule ends with ``if measured``;
- else the comparison decides **pass** or **fail**.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from harness.results.check_spec import WILDCARD, Threshold
from harness.results.records import Manifest
from harness.results.summary import (
    MetricValue,
    NullReason,
    Summary,
    ThresholdRecord,
    ThresholdStatus,
    VariantSummary,
)
from harness.units import format_value


@dataclass(frozen=True)
class ThresholdResult:
    """A threshold checked on one variant. ``ok`` is None when it is not applicable."""

    expr: str
    variant: str
    metric: str
    value: float | None
    ok: bool | None
    op: str
    limit: float
    unit: str
    reason: str

    @property
    def status(self) -> ThresholdStatus:
        """``"pass"``, ``"fail"`` or ``"n/a"``."""
        if self.ok is None:
            return "n/a"
        return "pass" if self.ok else "fail"

    def record(self) -> ThresholdRecord:
        """The entry written to ``summary.json``."""
        return ThresholdRecord(expr=self.expr, variant=self.variant, metric=self.metric,
                               value=self.value, status=self.status, reason=self.reason)


ResultFactory = Callable[[float | None, bool | None, str], "ThresholdResult"]


def judge(manifest: Manifest, summary: Summary) -> tuple[ThresholdResult, ...]:
    """The scenario's thresholds (as recorded in the manifest) judged on ``summary``."""
    return evaluate_thresholds(manifest.scenario.check.thresholds, summary,
                               not_selected=manifest.not_selected)


def evaluate_thresholds(thresholds: Iterable[Threshold], summary: Summary, *,
                        not_selected: Collection[str] = ()) -> tuple[ThresholdResult, ...]:
    """Check each threshold on each variant it names (see the module docstring)."""
    results: list[ThresholdResult] = []
    for threshold in thresholds:
        names = list(summary.variants) if threshold.variant == WILDCARD else [threshold.variant]
        for name in names:
            results.append(_evaluate_one(threshold, name, summary.variants.get(name),
                                         skipped=name in not_selected))
    return tuple(results)


def _evaluate_one(threshold: Threshold, variant: str, entry: VariantSummary | None, *,
                  skipped: bool) -> ThresholdResult:
    def result(value: float | None, ok: bool | None, reason: str) -> ThresholdResult:
        return ThresholdResult(expr=threshold.expr_for(variant), variant=variant,
                               metric=threshold.metric, value=value, ok=ok, op=threshold.op,
                               limit=threshold.limit, unit=threshold.unit, reason=reason)

    if entry is None:
        if skipped:
            return result(None, None, f"not applicable: variant {variant!r} was not run "
                                      "(left out with --variants)")
        return result(None, False, f"variant {variant!r} has no results in this run")
    value = metric_value(entry.metrics.get(threshold.metric))
    if value is None:
        return _null(threshold, entry.nulls.get(threshold.metric), result)
    limit = format_value(threshold.limit, threshold.unit)
    shown = format_value(value, threshold.unit)
    if threshold.holds(value):
        return result(value, True, f"{threshold.metric} = {shown}, {threshold.op} {limit} holds")
    return result(value, False, f"{threshold.metric} = {shown}, expected {threshold.op} {limit}")


def _null(threshold: Threshold, why: NullReason | None,
          result: ResultFactory) -> ThresholdResult:
    why = why or NullReason("not measured", "no value in summary.json")
    if why.kind == "not applicable":
        return result(None, None, why.text())
    if threshold.if_measured:
        return result(None, None, f"{why.text()} (allowed: the rule says 'if measured')")
    return result(None, False, why.text())


def metric_value(raw: MetricValue) -> float | None:
    """A metric's value as a float (booleans as 0/1), None when null or NaN."""
    if raw is None:
        return None
    value = float(raw)
    return None if math.isnan(value) else value
