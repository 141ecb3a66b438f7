"""Parsing of the units people write in scenario files: durations such as ``"250ms"``."""

from __future__ import annotations

import math
import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")
_FACTORS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


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
            return float(match.group(1)) * _FACTORS[match.group(2)]
    raise ValueError(f"expected a duration like \"250ms\", \"30s\" or \"2m\", got {value!r}")


def format_duration(seconds: float) -> str:
    """``"250ms"``, ``"30s"``, ``"2m"``: the inverse of :func:`parse_duration`, for display."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds < 120 or seconds % 60:
        return f"{seconds:g}s"
    return f"{seconds / 60:g}m"
