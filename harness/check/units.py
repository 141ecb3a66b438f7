"""Quantities written by people (``"2s"``, ``"1%"``) converted to a metric's own unit, and back.

A metric's unit comes from the glossary (:mod:`harness.results.metrics`). A written unit is
accepted only where it fits: ``ms``/``s`` on time metrics, ``%`` on ratios (``1%`` = 0.01)
and on CPU percentages (``50%`` = 50). A bare number is already in the metric's unit.
"""

from __future__ import annotations

import math
import re

_QUANTITY = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(ms|s|%)?\s*$")

# (written unit, metric unit) -> factor from the written number to the metric's unit
_FACTORS: dict[tuple[str, str], float] = {
    ("ms", "ms"): 1.0,
    ("s", "ms"): 1000.0,
    ("s", "s"): 1.0,
    ("ms", "s"): 0.001,
    ("%", "ratio"): 0.01,
    ("%", "%"): 1.0,
}

_ACCEPTS: dict[str, str] = {
    "ms": "a number of milliseconds (e.g. 250, 250ms or 0.25s)",
    "s": "a number of seconds (e.g. 2, 2s or 2000ms)",
    "ratio": "a ratio (e.g. 0.01) or a percentage (e.g. 1%)",
    "%": "a percentage (e.g. 50 or 50%)",
}


def parse_quantity(text: str, metric_unit: str) -> tuple[float, str]:
    """The number in ``text`` expressed in ``metric_unit``, and the unit written ("" if none).

    Raises ValueError (one line, saying what was expected) for a malformed number, a
    non-finite one, or a unit that does not fit the metric.
    """
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"expected a number with an optional unit ms, s or %, got {text!r}")
    number = float(match.group(1))
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {text!r}")
    written = match.group(2) or ""
    if not written:
        return number, ""
    factor = _FACTORS.get((written, metric_unit))
    if factor is None:
        expected = _ACCEPTS.get(metric_unit, f"a plain number (the metric's unit is {metric_unit})")
        raise ValueError(f"unit {written!r} does not fit this metric: expected {expected}")
    return number * factor, written


def format_value(value: float | None, unit: str) -> str:
    """A metric value for people: ``"1.2%"`` for a ratio, ``"350 ms"``, ``"1,234"``."""
    if value is None:
        return "n/a"
    if not math.isfinite(value):
        return str(value)
    if unit == "ratio":
        return f"{_number(value * 100)}%"
    if unit == "%":
        return f"{_number(value)}%"
    if unit == "bool":
        return "yes" if value >= 0.5 else "no"
    if unit == "count":
        return _number(value)
    if unit == "1/s":
        return f"{_number(value)}/s"
    return f"{_number(value)} {unit}" if unit else _number(value)


def format_change(change: float | None) -> str:
    """A relative change as a signed percentage: ``"+12.5%"``, ``"-3%"``, ``"n/a"``."""
    if change is None:
        return "n/a"
    if math.isinf(change):
        return "+inf" if change > 0 else "-inf"
    return f"{change * 100:+.1f}%"


def _number(value: float) -> str:
    magnitude = abs(value)
    if value == int(value) and magnitude < 1e15:
        return f"{int(value):,}"
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"
