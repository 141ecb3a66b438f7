"""The check spec: a scenario's ``[thresholds]`` and ``[check]`` options, parsed once.

The scenario loader builds a :class:`CheckSpec` when it reads the file; the manifest
records it; ``run`` and ``check`` judge a folder with that record (never with raw TOML).

``[thresholds]`` maps ``"<variant or *>.<metric>"`` to ``"<op> <number>[unit] [if measured]"``::

    "persistent+pgbouncer.http.error_rate" = "== 0"
    "*.latency.p95_ms" = "< 2s"
    "*.db.refused" = "== 0 if measured"

A threshold on a metric that could not be measured **fails** ("not measured"), unless it
ends with ``if measured``: then it is not applicable when the metric is missing.

``[check]`` (all optional)::

    alpha = 0.05                 # significance level of the baseline comparison
    min_coverage = 0.9           # share of the load window the database collector must cover
    [check.min_change]           # minimum relative change, per metric ("*" = default)
    "*" = "10%"
    [check.min_abs]              # absolute noise floor, per metric, in its unit
    "db.connections.peak" = 2
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.results.metrics import MetricInfo, metric_info
from harness.units import parse_quantity

WILDCARD = "*"
IF_MEASURED = "if measured"
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_COVERAGE = 0.9
CHECK_KEYS: dict[str, tuple[str, str, str, str]] = {
    # key: (type, default as TOML, allowed values, meaning) -- the key reference's row
    "alpha": ("number", f"{DEFAULT_ALPHA:g}", "between 0 and 1",
              "significance level of the baseline comparison (one-sided Mann-Whitney U)"),
    "min_coverage": ("number", f"{DEFAULT_MIN_COVERAGE:g}", "0 to 1",
                     "share of the load window the database collector must cover, else the "
                     "run is incomplete (exit 3)"),
    "min_change": ("table", "(per metric, docs/check.md)", 'metric or "*" = 0.1 or "10%"',
                   "minimum relative change that counts as a regression"),
    "min_abs": ("table", "(per metric, docs/check.md)", 'metric or "*" = a number in its unit',
                "absolute noise floor: a smaller change never counts"),
}
"""The keys of ``[check]``."""

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
    "!=": lambda a, b: not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
}
_VALUE = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*(\S.*?)\s*(?:\b(if\s+measured))?\s*$")


@dataclass(frozen=True)
class Threshold:
    """One parsed rule. ``limit`` is in the metric's own unit; ``bound`` is the text as written.

    ``if_measured``: when the metric could not be measured the rule is not applicable
    instead of failing.
    """

    key: str
    variant: str
    metric: str
    op: str
    limit: float
    bound: str
    unit: str
    if_measured: bool = False

    def expr_for(self, variant: str) -> str:
        """The rule as text for one concrete variant: ``"persistent.latency.p95_ms < 2s"``."""
        text = f"{variant}.{self.metric} {self.op} {self.bound}"
        return f"{text} {IF_MEASURED}" if self.if_measured else text

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.limit)


@dataclass(frozen=True)
class CheckSpec:
    """Everything a verdict needs from the scenario."""

    thresholds: tuple[Threshold, ...] = ()
    alpha: float = DEFAULT_ALPHA
    min_coverage: float = DEFAULT_MIN_COVERAGE
    min_change: dict[str, float] = field(default_factory=dict)
    min_abs: dict[str, float] = field(default_factory=dict)


class CheckSpecError(ValueError):
    """A bad ``[thresholds]`` or ``[check]`` entry: ``key`` is where, the message what."""

    def __init__(self, key: str, expected: str) -> None:
        self.key = key
        super().__init__(expected)


def parse_threshold(key: str, value: object) -> Threshold:
    """Parse one ``[thresholds]`` entry; ValueError (one line, what was expected) if invalid."""
    variant, metric, info = _split_key(key)
    if not isinstance(value, str):
        raise ValueError(f'expected a string like "< 200ms" or "== 0", got {value!r}')
    match = _VALUE.match(value)
    if match is None:
        raise ValueError(f'expected "<op> <number>[unit] [{IF_MEASURED}]" with op one of '
                         f"< <= > >= == !=, got {value!r}")
    op, quantity = match.group(1), match.group(2)
    limit, _ = parse_quantity(quantity, info.unit)
    return Threshold(key=key, variant=variant, metric=metric, op=op, limit=limit,
                     bound=quantity.replace(" ", ""), unit=info.unit,
                     if_measured=match.group(3) is not None)


def _split_key(key: str) -> tuple[str, str, MetricInfo]:
    """``"<variant>.<metric>"`` split where the rest is a known metric (variants may hold dots)."""
    if "." not in key:
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


def parse_thresholds(table: Mapping[str, object], variants: Sequence[str]) -> tuple[Threshold, ...]:
    """Every ``[thresholds]`` entry; CheckSpecError naming the key when one is bad."""
    out = []
    for key, value in table.items():
        where = f'thresholds."{key}"'
        try:
            threshold = parse_threshold(str(key), value)
        except ValueError as exc:
            raise CheckSpecError(where, str(exc)) from None
        if threshold.variant != WILDCARD and threshold.variant not in variants:
            known = ", ".join(variants) or "none"
            raise CheckSpecError(where, f"unknown variant {threshold.variant!r}: expected * "
                                        f"or one of: {known}")
        out.append(threshold)
    return tuple(out)


def parse_check(thresholds: Mapping[str, object], check: Mapping[str, object],
                variants: Sequence[str]) -> CheckSpec:
    """The check spec of a scenario's ``[thresholds]`` and ``[check]`` tables."""
    unknown = [k for k in check if k not in CHECK_KEYS]
    if unknown:
        raise CheckSpecError(f"check.{unknown[0]}", f"unknown key (expected one of: "
                                                    f"{', '.join(CHECK_KEYS)})")
    return CheckSpec(
        thresholds=parse_thresholds(thresholds, variants),
        alpha=_open_unit(check.get("alpha", DEFAULT_ALPHA), "check.alpha"),
        min_coverage=_unit(check.get("min_coverage", DEFAULT_MIN_COVERAGE),
                           "check.min_coverage"),
        min_change=_per_metric(check.get("min_change", {}), "check.min_change", _fraction),
        min_abs=_per_metric(check.get("min_abs", {}), "check.min_abs", _floor),
    )


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CheckSpecError(key, f"expected a number, got {value!r}")
    return float(value)


def _open_unit(value: object, key: str) -> float:
    number = _number(value, key)
    if not 0 < number < 1:
        raise CheckSpecError(key, f"expected a number between 0 and 1, got {value!r}")
    return number


def _unit(value: object, key: str) -> float:
    number = _number(value, key)
    if not 0 <= number <= 1:
        raise CheckSpecError(key, f"expected a number from 0 to 1, got {value!r}")
    return number


def _fraction(value: object, key: str, info: MetricInfo | None) -> float:
    """0.2 or "20%"."""
    if isinstance(value, str):
        try:
            number, _ = parse_quantity(value, "ratio")
        except ValueError:
            raise CheckSpecError(key, f'expected a fraction or a percentage like "10%", '
                                      f"got {value!r}") from None
    else:
        number = _number(value, key)
    if number < 0:
        raise CheckSpecError(key, f"expected a change >= 0, got {value!r}")
    return number


def _floor(value: object, key: str, info: MetricInfo | None) -> float:
    if info is None:
        raise CheckSpecError(key, "expected a metric from the glossary")
    if isinstance(value, bool):
        raise CheckSpecError(key, f"expected a number >= 0, got {value!r}")
    try:
        number = parse_quantity(str(value), info.unit)[0]
    except ValueError as exc:
        raise CheckSpecError(key, str(exc)) from None
    if number < 0:
        raise CheckSpecError(key, f"expected a number >= 0, got {value!r}")
    return number


def _per_metric(table: object, key: str,
                parse: Callable[[object, str, MetricInfo | None], float]) -> dict[str, float]:
    if not isinstance(table, Mapping):
        raise CheckSpecError(key, "expected a table of metric = value")
    out: dict[str, float] = {}
    for metric, value in table.items():
        where = f'{key}."{metric}"'
        info = metric_info(str(metric))
        if metric != WILDCARD and info is None:
            raise CheckSpecError(where, "expected * or a metric from the glossary")
        out[str(metric)] = parse(value, where, info)
    return out
