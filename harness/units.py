"""Units: parsing what people write (``"250ms"``, ``"2s"``, ``"1%"``) and formatting numbers.

This is the one duration parser and the one number formatter of the harness: the scenario
loader, thresholds, the terminal, the HTML report and ``check`` all use it, so a value is
read and shown the same way everywhere.

- A duration written as a bare number is in **seconds** (``parse_duration``).
- A threshold quantity written as a bare number is in the metric's own unit
  (``parse_quantity``); a written unit must fit the metric (``ms``/``s`` on times, ``%`` on
  ratios and CPU percentages).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")
_DURATION_FACTORS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_QUANTITY = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(ms|s|%)?\s*$")
# (written unit, metric unit) -> factor from the written number to the metric's unit
_QUANTITY_FACTORS: dict[tuple[str, str], float] = {
    ("ms", "ms"): 1.0, ("s", "ms"): 1000.0, ("s", "s"): 1.0, ("ms", "s"): 0.001,
    ("%", "ratio"): 0.01, ("%", "%"): 1.0,
}
_ACCEPTS: dict[str, str] = {
    "ms": "a number of milliseconds (e.g. 250, 250ms or 0.25s)",
    "s": "a number of seconds (e.g. 2, 2s or 2000ms)",
    "ratio": "a ratio (e.g. 0.01) or a percentage (e.g. 1%)",
    "%": "a percentage (e.g. 50 or 50%)",
}
NULL = "—"
"""How a value that is null (not measured, not applicable) is shown."""


def parse_duration(value: object) -> float:
    """Seconds from ``"250ms"``, ``"30s"``, ``"2m"``, ``"1h"`` (or a bare number of seconds).

    Raises ValueError with what was expected.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like \"250ms\", \"30s\" or \"2m\", got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"expected a duration >= 0, got {value!r}")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _DURATION_FACTORS[match.group(2)]
    raise ValueError(f"expected a duration like \"250ms\", \"30s\" or \"2m\", got {value!r}")


def format_duration(seconds: float) -> str:
    """``"250ms"``, ``"30s"``, ``"2m"``: the inverse of :func:`parse_duration`, for display."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds < 120 or seconds % 60:
        return f"{seconds:g}s"
    return f"{seconds / 60:g}m"


def format_elapsed(seconds: float) -> str:
    """A wall-clock length: ``45 s``, ``3 min 05 s``, ``1 h 02 min``."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


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
    factor = _QUANTITY_FACTORS.get((written, metric_unit))
    if factor is None:
        expected = _ACCEPTS.get(metric_unit, f"a plain number (the metric's unit is {metric_unit})")
        raise ValueError(f"unit {written!r} does not fit this metric: expected {expected}")
    return number * factor, written


def format_count(value: float) -> str:
    """``1,234``; a median of counts may be ``12.5``."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def format_ms(value: float) -> str:
    """Milliseconds without unit: ``0.42``, ``4.2``, ``180``, ``1,250``."""
    if abs(value) < 1:
        return f"{value:.2f}"
    if abs(value) < 10:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def format_ratio(value: float) -> str:
    """A ratio as a percentage: ``0%``, ``<0.01%``, ``1.25%``, ``96.0%``."""
    if value == 0:
        return "0%"
    if abs(value) < 0.0001:
        return "<0.01%"
    return f"{value * 100:.2f}%" if abs(value) < 0.1 else f"{value * 100:.1f}%"


def format_value(value: float | bool | None, unit: str) -> str:
    """A value in ``unit`` (a glossary unit) for people; null is :data:`NULL`."""
    if value is None:
        return NULL
    if isinstance(value, bool) or unit == "bool":
        return "yes" if value else "no"
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    formats: dict[str, Callable[[float], str]] = {
        "ratio": format_ratio,
        "ms": lambda v: f"{format_ms(v)} ms",
        "s": lambda v: f"{v:,.1f} s",
        "1/s": lambda v: f"{v:,.1f}/s",
        "%": lambda v: f"{v:,.1f}%",
        "MiB": lambda v: f"{v:,.1f} MiB",
    }
    return formats.get(unit, format_count)(value)


def format_change(change: float | None) -> str:
    """A relative change as a signed percentage: ``"+12.5%"``, ``"-3.0%"``; null is n/a."""
    if change is None:
        return "n/a"
    if math.isinf(change):
        return "+inf" if change > 0 else "-inf"
    return f"{change * 100:+.1f}%"
