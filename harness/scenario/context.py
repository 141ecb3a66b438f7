"""What a section parser needs from the loader: where the file is, how to complain, and how
to build a record from a TOML table (every field names its key and parser:
``harness.scenario.fields``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from harness.errors import ScenarioError

T = TypeVar("T")


class SectionContext(Protocol):
    """The file being loaded (:class:`FileContext`)."""

    path: str

    @property
    def base(self) -> Path:
        """The folder relative paths in the file are resolved against (absolute)."""
        ...

    def error(self, key: str, expected: str) -> ScenarioError: ...

    def table(self, value: object, key: str) -> dict[str, Any]: ...

    def no_unknown(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None: ...


class FileContext:
    """The file being loaded, for error messages (``path`` may also be a flag, ``--fault``)."""

    def __init__(self, path: str) -> None:
        self.path = path

    @property
    def base(self) -> Path:
        return Path(self.path).absolute().parent

    def error(self, key: str, expected: str) -> ScenarioError:
        return ScenarioError(self.path, key, expected)

    def table(self, value: object, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {value!r}")
        return value

    def no_unknown(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                listed = ", ".join(sorted(allowed))
                raise self.error(join(where, key), f"unknown key (expected one of: {listed})")


def join(where: str, key: str) -> str:
    """The dotted key of ``key`` in the table at ``where``."""
    return f"{where}.{key}" if where else key


def keys_of(cls: type) -> dict[str, dataclasses.Field[Any]]:
    """The TOML keys of a section record, to their fields."""
    return {f.metadata["key"]: f for f in dataclasses.fields(cls) if "key" in f.metadata}


def build(cls: type[T], table: Mapping[str, Any], ctx: SectionContext, where: str,
          base: T | None = None) -> T:
    """An instance of ``cls`` from ``table`` (on top of ``base``), every value parsed."""
    fields = keys_of(cls)
    ctx.no_unknown(table, set(fields), where)
    values: dict[str, Any] = {}
    for key, value in table.items():
        fld = fields[key]
        try:
            values[fld.name] = fld.metadata["parse"](value)
        except ValueError as exc:
            raise ctx.error(join(where, key), str(exc)) from None
    if base is not None:
        return dataclasses.replace(base, **values)  # type: ignore[type-var]
    return cls(**values)


def resolve_path(ctx: SectionContext, value: object, key: str, *, kind: str) -> str:
    """``value`` (a path relative to the scenario file) as an absolute path that exists;
    ``kind`` is "file" or "folder"."""
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(key, f"expected a path to a {kind}, got {value!r}")
    path = (ctx.base / Path(value).expanduser()).resolve()
    exists = path.is_file() if kind == "file" else path.is_dir()
    if not exists:
        raise ctx.error(key, f"no such {kind}: {path}")
    return str(path)
