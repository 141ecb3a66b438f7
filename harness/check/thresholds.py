"""Thresholds: k6-like pass/fail rules on the metrics of ``summary.json``.

A scenario's ``[thresholds]`` maps ``"<variant or *>.<metric>"`` to ``"<op> <number>[unit]"``::

    "persistent+pgbouncer.http.error_rate" = "== 0"
    "*.latency.p95_ms" = "< 2s"

A threshold is evaluated on the variant's ``metrics`` value (the median over repeats). A
metric that is null for a variant (pooler metrics without a pooler) makes the threshold
*not applicable* (``ok`` is None): reported, never counted as a pass.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.check.units import format_value, parse_quantity
from harness.errors import ScenarioError
from harness.results.metrics import MetricInfo, metric_info

WILDCARD = "*"

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
    "!=": lambda a, b: not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
}
_VALUE = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*(\S.*?)\s*$")


@dataclass(frozen=True)
class Threshold:
    """One parsed rule. ``limit`` is in the metric's own unit; ``bound`` is the text as written."""

    key: str
    variant: str
    metric: str
    op: str
    limit: float
    bound: str
    unit: str

    def expr_for(self, variant: str) -> str:
        """The rule as text for one concrete variant: ``"persistent.latency.p95_ms < 2s"``."""
        return f"{variant}.{self.metric} {self.op} {self.bound}"

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.limit)


@dataclass(frozen=True)
class ThresholdResult:
    """A threshold checked on one variant. ``ok`` is None when the metric is null (n/a)."""

    expr: str
    variant: str
    metric: str
    value: float | None
    ok: bool | None
    op: str
    limit: float
    unit: str
    note: str = ""

    @property
    def status(self) -> str:
        """``"pass"``, ``"fail"`` or ``"n/a"``."""
        return {True: "pass", False: "fail", None: "n/a"}[self.ok]

    @property
    def reason(self) -> str:
        """One line saying why the result is what it is."""
        limit = format_value(self.limit, self.unit)
        if self.note:
            return self.note
        if self.ok is None:
            return f"not applicable: {self.metric} is null for {self.variant}"
        if self.value is None:
            return f"variant {self.variant!r} is missing from summary.json"
        shown = format_value(self.value, self.unit)
        if self.ok:
            return f"{self.metric} = {shown}, {self.op} {limit} holds"
        return f"{self.metric} = {shown}, expected {self.op} {limit}"

    def as_dict(self) -> dict[str, Any]:
        """The entry written to ``summary.json["thresholds"]``."""
        return {"expr": self.expr, "variant": self.variant, "metric": self.metric,
                "value": self.value, "ok": self.ok}


def parse_threshold(key: str, value: str) -> Threshold:
    """Parse one ``[thresholds]`` entry; ValueError (one line, what was expected) if invalid."""
    variant, metric, info = _split_key(key)
    if not isinstance(value, str):
        raise ValueError(f'expected a string like "< 200ms" or "== 0", got {value!r}')
    match = _VALUE.match(value)
    if match is None:
        raise ValueError(
            f'expected "<op> <number>[unit]" with op one of < <= > >= == !=, got {value!r}'
        )
    op, quantity = match.group(1), match.group(2)
    limit, _ = parse_quantity(quantity, info.unit)
    return Threshold(key=key, variant=variant, metric=metric, op=op, limit=limit,
                     bound=quantity.replace(" ", ""), unit=info.unit)


def _split_key(key: str) -> tuple[str, str, MetricInfo]:
    """``"<variant>.<metric>"`` split where the rest is a known metric (variants may hold dots)."""
    if not isinstance(key, str) or "." not in key:
        raise ValueError(f'expected a key "<variant or *>.<metric>", got {key!r}')
    start = 0
    while (dot := key.find(".", start)) != -1:
        variant, metric = key[:dot], key[dot + 1:]
        info = metric_info(metric)
        if variant and info is not None:
            return variant, metric, info
        start = dot + 1
    raise ValueError(
        f'expected a key "<variant or *>.<metric>" with a metric from the glossary '
        f"(e.g. *.latency.p95_ms, *.http.error_rate), got {key!r}"
    )


def validate_thresholds(thresholds: Iterable[Threshold], variant_names: Iterable[str]) -> None:
    """ValueError naming the variant when a threshold names a variant that does not exist."""
    names = list(variant_names)
    for threshold in thresholds:
        if threshold.variant != WILDCARD and threshold.variant not in names:
            known = ", ".join(names) if names else "none"
            raise ValueError(
                f"unknown variant {threshold.variant!r}: expected * or one of: {known}"
            )


def thresholds_from_scenario(
    entries: Mapping[str, object] | Iterable[Sequence[object]],
    variant_names: Iterable[str],
    *,
    source: str,
) -> list[Threshold]:
    """Parse and validate every entry; ScenarioError(source, "thresholds.<key>", ...) if one is bad.

    ``entries`` is the ``[thresholds]`` table, or a sequence of ``(key, value)`` pairs.
    """
    names = list(variant_names)
    pairs = entries.items() if isinstance(entries, Mapping) else (tuple(e) for e in entries)
    parsed: list[Threshold] = []
    for pair in pairs:
        key, value = str(pair[0]), pair[1]
        try:
            threshold = parse_threshold(key, value)  # type: ignore[arg-type]
            validate_thresholds([threshold], names)
        except ValueError as exc:
            raise ScenarioError(source, f'thresholds."{key}"', str(exc)) from None
        parsed.append(threshold)
    return parsed


def evaluate_thresholds(
    thresholds: Iterable[Threshold],
    summary: Mapping[str, Any],
    *,
    not_run: Collection[str] = (),
) -> list[ThresholdResult]:
    """Check each threshold on each variant it names (a wildcard names every variant).

    A variant named by a threshold but absent from the summary fails (value None, ok False):
    a rule that cannot be checked is never a pass. Variants listed in ``not_run`` (declared
    by the scenario but left out of this run, e.g. by ``--variants``) are not applicable.
    """
    variants: Mapping[str, Any] = summary.get("variants") or {}
    results: list[ThresholdResult] = []
    for threshold in thresholds:
        names = list(variants) if threshold.variant == WILDCARD else [threshold.variant]
        for name in names:
            results.append(_evaluate_one(threshold, name, variants.get(name),
                                         skipped=name in not_run))
    return results


def _evaluate_one(threshold: Threshold, variant: str, entry: object, *,
                  skipped: bool) -> ThresholdResult:
    def result(value: float | None, ok: bool | None, note: str = "") -> ThresholdResult:
        return ThresholdResult(expr=threshold.expr_for(variant), variant=variant,
                               metric=threshold.metric, value=value, ok=ok, op=threshold.op,
                               limit=threshold.limit, unit=threshold.unit, note=note)

    if not isinstance(entry, Mapping):
        if skipped:
            return result(None, None, f"not applicable: variant {variant!r} was not run")
        return result(None, False)
    value = metric_value(entry.get("metrics"), threshold.metric)
    if value is None:
        return result(None, None)
    return result(value, threshold.holds(value))


def metric_value(metrics: object, name: str) -> float | None:
    """A metric's value as a float, or None when absent, null, non-numeric or NaN."""
    if not isinstance(metrics, Mapping):
        return None
    raw = metrics.get(name)
    if isinstance(raw, bool):
        return float(raw)
    if not isinstance(raw, int | float):
        return None
    value = float(raw)
    return None if math.isnan(value) else value
