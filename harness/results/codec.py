"""Records to JSON and back, strictly: the one codec of the JSON that crosses a process or
file boundary (the run folder's manifest and summary, baselines, the load plan, the platform
config, the gateway's stats, coordinator/worker messages).

``encode`` turns a frozen record (a dataclass) into plain JSON data, field by field; ``dumps``
writes that as JSON text. ``decode`` turns JSON data back into the record, checking every
field against its type annotation: a missing key, an unknown key or a value of the wrong type
is a :class:`DecodeError` naming the source and the path to the value (``manifest.json:
variants[1].load_start: expected a number, got 'x'``); ``loads`` does the same from JSON text.
With ``defaults=True`` a missing key takes its field's default (a configuration written by
hand or by an older pgstampede); without it every key must be there. What the harness wrote
itself is read this way: a surprise is an error, never a guess.

Types understood: dataclasses, ``X | None`` and other unions (tried in order), ``Literal``,
``tuple[X, ...]``, fixed tuples ``tuple[X, Y]``, ``list[X]``, ``dict[str, X]``, ``bool``,
``int``, ``float`` (an integer is accepted), ``str`` and ``Any`` (taken as it is).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from harness.errors import IncompleteRunError

T = TypeVar("T")


class DecodeError(IncompleteRunError):
    """JSON that does not hold the record expected: which source, where in it, what was
    expected and what was found (``where`` is empty for the top level)."""

    def __init__(self, source: str, where: str, expected: str, got: object) -> None:
        self.source, self.where, self.expected, self.got = source, where, expected, got
        shown = repr(got)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        super().__init__(f"{source}: {where or 'top level'}: expected {expected}, got {shown}")


def encode(value: Any) -> Any:
    """Plain JSON data of a record (dataclasses, tuples, dicts, numbers, text); a float that
    is not finite becomes null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any, **options: Any) -> str:
    """``value`` encoded, as JSON text (``options`` as for :func:`json.dumps`)."""
    return json.dumps(encode(value), allow_nan=False, **options)


@typing.overload
def decode(cls: type[T], data: object, source: str, where: str = "", *,
           defaults: bool = False) -> T: ...
@typing.overload
def decode(cls: object, data: object, source: str, where: str = "", *,
           defaults: bool = False) -> Any: ...
def decode(cls: object, data: object, source: str, where: str = "", *,
           defaults: bool = False) -> Any:
    """``data`` as a ``cls`` record (or a union of records, tried in order); DecodeError
    (exit 3) naming ``source`` and the field. ``defaults``: a missing key takes its field's
    default instead of being an error."""
    return _Reader(source, defaults).value(cls, data, where)


@typing.overload
def loads(cls: type[T], text: str | bytes, source: str, *, defaults: bool = False) -> T: ...
@typing.overload
def loads(cls: object, text: str | bytes, source: str, *, defaults: bool = False) -> Any: ...
def loads(cls: object, text: str | bytes, source: str, *, defaults: bool = False) -> Any:
    """JSON text as a ``cls`` record (or union of records); text that is not JSON is a
    DecodeError too."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(source, "", "valid JSON", f"{exc}") from None
    return decode(cls, data, source, defaults=defaults)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """The resolved field types of a record class (resolved once per class)."""
    return get_type_hints(cls)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


class _Reader:
    """One decoding: the source named in errors and whether missing keys take defaults."""

    def __init__(self, source: str, defaults: bool) -> None:
        self.source, self.defaults = source, defaults

    def error(self, where: str, expected: str, got: object) -> DecodeError:
        return DecodeError(self.source, where, expected, got)

    def value(self, tp: Any, data: object, where: str) -> object:  # noqa: PLR0911
        origin = get_origin(tp)
        if tp is Any:
            return data
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self.record(tp, data, where)
        if origin in (Union, types.UnionType):
            return self.union(tp, data, where)
        if origin is typing.Literal:
            if data not in get_args(tp):
                raise self.error(where, " or ".join(map(repr, get_args(tp))), data)
            return data
        if origin in (tuple, list):
            return self.sequence(tp, data, where)
        if origin is dict:
            if not isinstance(data, dict):
                raise self.error(where, "an object", data)
            item = get_args(tp)[1]
            return {k: self.value(item, v, f"{where}.{k}") for k, v in data.items()}
        return self.scalar(tp, data, where)

    def record(self, cls: type, data: object, where: str) -> object:
        if not isinstance(data, dict):
            raise self.error(where, f"an object ({cls.__name__})", data)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise self.error(_join(where, unknown[0]), "no such key", data[unknown[0]])
        missing = sorted(name for name, f in fields.items() if name not in data
                         and not (self.defaults and _has_default(f)))
        if missing:
            raise self.error(_join(where, missing[0]), "a value (key missing)", None)
        hints = _hints(cls)
        return cls(**{name: self.value(hints[name], data[name], _join(where, name))
                      for name in fields if name in data})

    def sequence(self, tp: Any, data: object, where: str) -> object:
        if not isinstance(data, list):
            raise self.error(where, "a list", data)
        args = get_args(tp)
        if get_origin(tp) is list or (len(args) == 2 and args[1] is Ellipsis):
            items = [self.value(args[0], v, f"{where}[{i}]") for i, v in enumerate(data)]
            return items if get_origin(tp) is list else tuple(items)
        if len(data) != len(args):
            raise self.error(where, f"a list of {len(args)}", data)
        return tuple(self.value(a, v, f"{where}[{i}]")
                     for i, (a, v) in enumerate(zip(args, data, strict=True)))

    def union(self, tp: Any, data: object, where: str) -> object:
        args = get_args(tp)
        if data is None:
            if type(None) in args:
                return None
            raise self.error(where, "a value", data)
        others = [a for a in args if a is not type(None)]
        for arg in others[:-1]:
            try:
                return self.value(arg, data, where)
            except DecodeError:
                continue
        return self.value(others[-1], data, where)

    def scalar(self, tp: Any, data: object, where: str) -> object:
        if tp is bool:
            if not isinstance(data, bool):
                raise self.error(where, "true or false", data)
            return data
        if tp is int:
            if isinstance(data, bool) or not isinstance(data, int):
                raise self.error(where, "an integer", data)
            return data
        if tp is float:
            if isinstance(data, bool) or not isinstance(data, int | float):
                raise self.error(where, "a number", data)
            return float(data)
        if tp is str:
            if not isinstance(data, str):
                raise self.error(where, "text", data)
            return data
        raise TypeError(f"codec: unsupported type {tp!r} at {where}")
