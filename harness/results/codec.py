"""Records to JSON and back, strictly.

``encode`` turns a frozen record (a dataclass) into plain JSON data, field by field.
``decode`` turns JSON data back into the record, checking every field against its type
annotation: a missing key, an unknown key or a value of the wrong type is an error naming
the file and the path to the value (``manifest.json: variants[1].load_start: expected a
number, got 'x'``). What the harness wrote itself is read this way; a surprise is an error,
never a guess.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from harness.errors import IncompleteRunError

T = TypeVar("T")


class DecodeError(IncompleteRunError):
    """A file of the run folder does not hold what this pgstampede wrote."""

    def __init__(self, source: str, where: str, expected: str, got: object) -> None:
        shown = repr(got)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        super().__init__(f"{source}: {where or 'top level'}: expected {expected}, got {shown}")


def encode(value: Any) -> Any:
    """Plain JSON data of a record (dataclasses, tuples, dicts, numbers, text)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def decode(cls: type[T], data: object, source: str, where: str = "") -> T:
    """``data`` as a ``cls`` record; DecodeError (exit 3) naming ``source`` and the field."""
    return typing.cast(T, _value(cls, data, source, where))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved field types of a record class (resolved once per class)."""
    return get_type_hints(cls)


def _record(cls: type, data: object, source: str, where: str) -> object:
    if not isinstance(data, dict):
        raise DecodeError(source, where, f"an object ({cls.__name__})", data)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise DecodeError(source, _join(where, unknown[0]), "no such key", data[unknown[0]])
    missing = sorted(fields - set(data))
    if missing:
        raise DecodeError(source, _join(where, missing[0]), "a value (key missing)", None)
    hints = _hints(cls)
    return cls(**{name: _value(hints[name], data[name], source, _join(where, name))
                  for name in fields})


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _value(tp: Any, data: object, source: str, where: str) -> object:  # noqa: PLR0911
    origin = get_origin(tp)
    if tp is Any:
        return data
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _record(tp, data, source, where)
    if origin in (Union, types.UnionType):
        return _union(tp, data, source, where)
    if origin is typing.Literal:
        if data not in get_args(tp):
            raise DecodeError(source, where, " or ".join(map(repr, get_args(tp))), data)
        return data
    if origin is tuple:
        if not isinstance(data, list):
            raise DecodeError(source, where, "a list", data)
        item = get_args(tp)[0]
        return tuple(_value(item, v, source, f"{where}[{i}]") for i, v in enumerate(data))
    if origin is dict:
        if not isinstance(data, dict):
            raise DecodeError(source, where, "an object", data)
        item = get_args(tp)[1]
        return {k: _value(item, v, source, f"{where}.{k}") for k, v in data.items()}
    return _scalar(tp, data, source, where)


def _union(tp: Any, data: object, source: str, where: str) -> object:
    args = get_args(tp)
    if data is None:
        if type(None) in args:
            return None
        raise DecodeError(source, where, "a value", data)
    others = [a for a in args if a is not type(None)]
    for arg in others[:-1]:
        try:
            return _value(arg, data, source, where)
        except DecodeError:
            continue
    return _value(others[-1], data, source, where)


def _scalar(tp: Any, data: object, source: str, where: str) -> object:
    if tp is bool:
        if not isinstance(data, bool):
            raise DecodeError(source, where, "true or false", data)
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise DecodeError(source, where, "an integer", data)
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise DecodeError(source, where, "a number", data)
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise DecodeError(source, where, "text", data)
        return data
    raise TypeError(f"codec: unsupported type {tp!r} at {where}")
