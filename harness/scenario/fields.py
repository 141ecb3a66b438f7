"""Typed fields of scenario sections: each dataclass field names its TOML key and parser.

A parser takes the raw TOML value and returns the typed value, or raises ValueError with
what was expected; the loader turns that into a ScenarioError naming the file and key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import field
from typing import Any

from harness.units import parse_duration


def int_field(low: int | None = None, high: int | None = None) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {value!r}")
        if low is not None and value < low:
            raise ValueError(f"expected an integer >= {low}, got {value}")
        if high is not None and value > high:
            raise ValueError(f"expected an integer <= {high}, got {value}")
        return value
    return parse


def number_field(low: float = 0.0, strict: bool = False) -> Callable[[object], float]:
    def parse(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise ValueError(f"expected a number, got {value!r}")
        if value < low or (strict and value == low):
            raise ValueError(f"expected a number {'>' if strict else '>='} {low:g}, got {value}")
        return float(value)
    return parse


def bool_field(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def choice_field(*choices: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return str(value)
    return parse


def text_field(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


def duration_field(value: object) -> float:
    return parse_duration(value)


def optional_duration_field(value: object) -> float | None:
    return None if value in ("", "none", 0) else parse_duration(value)


def settings_field(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a table of server settings, got {value!r}")
    return tuple(
        (str(k), str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()
    )


def opt(key: str, parse: Callable[[object], Any], default: Any) -> Any:
    """A dataclass field read from TOML key ``key`` with ``parse``."""
    return field(default=default, metadata={"key": key, "parse": parse})
