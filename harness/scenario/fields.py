"""Typed fields of scenario sections: each dataclass field names its TOML key, its parser, its
default and its meaning — the one place the loader and the key reference
(``docs/reference/scenario.md``, ``python -m harness.docs``) both read.

A parser takes the raw TOML value and returns the typed value, or raises ValueError with
what was expected; the loader turns that into a ScenarioError naming the file and key. A
:class:`Parser` also says what it accepts (type, allowed values) and how its default is
written in TOML; a plain function works too (its type is then read from the field).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.units import format_duration, parse_duration


def toml_text(value: object) -> str:
    """``value`` written as TOML ("" for None: no default)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k} = {toml_text(v)}" for k, v in value.items())
        return f"{{ {inner} }}" if inner else "{}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    return str(value)


def duration_text(seconds: object) -> str:
    """A duration in seconds written as TOML: ``"250ms"``, ``"30s"``, ``"0s"``."""
    if seconds is None:
        return ""
    if not isinstance(seconds, int | float):
        return toml_text(seconds)
    return '"0s"' if seconds == 0 else json.dumps(format_duration(float(seconds)))


@dataclass(frozen=True)
class Parser:
    """A TOML value's parser, with what it accepts (for errors and the key reference)."""

    parse: Callable[[object], Any]
    type: str  # "integer", "duration", "string", "table"...
    allowed: str = ""  # ">= 1", '"kill" | "abandon"'
    show: Callable[[Any], str] = toml_text  # the default as TOML text

    def __call__(self, value: object) -> Any:
        return self.parse(value)


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    if low is not None:
        return f">= {low:g}"
    return f"<= {high:g}" if high is not None else ""


def int_field(low: int | None = None, high: int | None = None) -> Parser:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {value!r}")
        if low is not None and value < low:
            raise ValueError(f"expected an integer >= {low}, got {value}")
        if high is not None and value > high:
            raise ValueError(f"expected an integer <= {high}, got {value}")
        return value
    return Parser(parse, "integer", _range(low, high))


def number_field(low: float = 0.0, strict: bool = False) -> Parser:
    def parse(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise ValueError(f"expected a number, got {value!r}")
        if value < low or (strict and value == low):
            raise ValueError(f"expected a number {'>' if strict else '>='} {low:g}, got {value}")
        return float(value)
    return Parser(parse, "number", f"{'>' if strict else '>='} {low:g}")


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


bool_field = Parser(_bool, "boolean")


def choice_field(*choices: str) -> Parser:
    def parse(value: object) -> str:
        if value not in choices:
            listed = ", ".join(c or '""' for c in choices)
            raise ValueError(f"expected one of {listed}, got {value!r}")
        return str(value)
    return Parser(parse, "string", " | ".join(json.dumps(c) for c in choices))


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


text_field = Parser(_text, "string")
duration_field = Parser(parse_duration, "duration", show=duration_text)


def _optional_duration(value: object) -> float | None:
    return None if value in ("", "none", 0) else parse_duration(value)


optional_duration_field = Parser(_optional_duration, "duration", show=duration_text)


def whole_seconds(optional: bool = False) -> Parser:
    """A duration the service counts in whole seconds (PgBouncer's and pgpool-II's timeouts,
    where 0 means never): a fraction of a second is refused, not rounded."""
    def parse(value: object) -> float | None:
        seconds = _optional_duration(value) if optional else parse_duration(value)
        if optional and seconds == 0:
            return None
        if seconds is not None and not float(seconds).is_integer():
            raise ValueError(f"expected whole seconds (the pooler counts this setting in "
                             f"seconds; 0 = never), got {value!r}")
        return seconds
    return Parser(parse, "duration", "whole seconds", show=duration_text)


def raw_field(type_: str, allowed: str = "") -> Parser:
    """A value the section's own parser reads (the key is only declared here)."""
    return Parser(lambda value: value, type_, allowed)


# Server settings the harness sets itself: given in [database] settings they would break what
# it measures or disagree with what it reports (harness.runtime.postgres.server_settings).
OWNED_SETTINGS: dict[str, str] = {
    "max_connections": "use [database] max_connections (it is reported as db.max_connections)",
    "fsync": "durability is off in every run the harness starts, and the report says so",
    "synchronous_commit": "durability is off in every run the harness starts, and the report "
                          "says so",
    "full_page_writes": "durability is off in every run the harness starts, and the report "
                        "says so",
    "listen_addresses": "the harness's servers listen on 127.0.0.1 only",
    "unix_socket_directories": "the harness's servers listen on 127.0.0.1 only",
    "log_connections": "the harness reads connections from the server log",
    "log_disconnections": "the harness reads disconnections from the server log",
    "log_line_prefix": "the harness reads the server log in its own format",
    "log_timezone": "the harness reads the server log in UTC",
    "logging_collector": "the harness reads the server log from its own file",
}


def _settings(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a table of server settings, got {value!r}")
    for name in value:
        if name in OWNED_SETTINGS:
            raise ValueError(f"{name} is set by the harness: {OWNED_SETTINGS[name]}")
    return tuple(
        (str(k), str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()
    )


settings_field = Parser(_settings, "table", "PostgreSQL settings, except those the harness "
                        "sets (max_connections, fsync, synchronous_commit, full_page_writes, "
                        "logging, listening)", show=lambda v: toml_text(dict(v)))


def opt(key: str, parse: Callable[[object], Any], default: Any, doc: str = "", *,
        shown: str | None = None, required: bool = False, builtin: bool = False) -> Any:
    """A dataclass field read from TOML key ``key`` with ``parse``; ``doc`` is its one-line
    meaning in the key reference, ``shown`` its default as written there when the parser
    cannot write it (prose in parentheses), ``required`` a key without a default, and
    ``builtin`` a key of pgstampede's built-in target only (refused with an ``[app]``)."""
    return field(default=default, metadata={
        "key": key, "parse": parse, "doc": doc, "shown": shown, "required": required,
        "builtin": builtin})


@dataclass(frozen=True)
class Key:
    """One key of a scenario section, as the key reference shows it."""

    name: str
    type: str
    default: str  # TOML text, prose in parentheses, or "" (none)
    allowed: str
    meaning: str
    required: bool = False
    builtin: bool = False  # pgstampede's built-in target only


_ANNOTATION_TYPES = {"int": "integer", "float": "number", "bool": "boolean", "str": "string"}


def section_keys(cls: type) -> tuple[Key, ...]:
    """The keys of a section record (every field declared with :func:`opt`), in order."""
    out = []
    for f in dataclasses.fields(cls):
        if "key" not in f.metadata:
            continue
        meta = f.metadata
        parse = meta["parse"]
        default = None if f.default is dataclasses.MISSING else f.default
        if isinstance(parse, Parser):
            type_, allowed, shown = parse.type, parse.allowed, parse.show(default)
        else:
            annotation = str(f.type).split(" | ")[0]
            type_, allowed, shown = _ANNOTATION_TYPES.get(annotation, "value"), "", \
                toml_text(default)
        written = meta.get("shown")
        out.append(Key(name=meta["key"], type=type_, allowed=allowed,
                       default=str(written) if written is not None else shown,
                       meaning=meta.get("doc", ""), required=meta.get("required", False),
                       builtin=meta.get("builtin", False)))
    return tuple(out)
