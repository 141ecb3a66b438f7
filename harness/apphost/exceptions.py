"""What the app raised: an unhandled exception as one small record (standard library only).

    {"type": "InvalidSQLStatementNameError",
     "message": "prepared statement \"__asyncpg_stmt_2__\" does not exist",   (first line)
     "where": "app/db/queries.py:42"}                  (the app's own frame, below its root)

``where`` is the deepest frame of the traceback in a file below the app's ``root`` that is
neither the standard library's nor an installed package's (``site-packages``: a virtualenv
inside the app's folder is not the app), relative to ``root``. An exception raised wholly in
libraries has no such frame: then the deepest frame outside the standard library, with its
path as the traceback gives it ("" when there is none). A frame whose file name is not an
absolute path (``<frozen os>``, a compiled module's ``asyncpg/protocol/protocol.pyx``) is
never the app's. An exception group (anyio's TaskGroup, in Starlette) is
described by its first leaf: the group's own message says nothing.

Used by the platform's app hosts (harness.apphost.asgi, .wsgi, .background: reported to the
gateway in an ``EXCEPTION`` frame) and by the persistent server's wrapper
(harness.apphost.served: one JSON line per exception in a file the harness reads).
"""

from __future__ import annotations

import os
import re
import types
from typing import Any

MESSAGE_LIMIT = 300
_LIBRARY_PARTS = ("site-packages", "dist-packages")


_STDLIB = (os.path.realpath(os.path.dirname(os.__file__)),)
"""The standard library's folder (``lib-dynload`` is inside it); not ``sysconfig``, which
imports a module of its own that the app never asked for."""


def leaf(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (the exception itself otherwise)."""
    seen = 0
    while seen < 16:
        inner = getattr(exc, "exceptions", None)
        if not isinstance(inner, tuple) or not inner or not isinstance(inner[0], BaseException):
            return exc
        exc = inner[0]
        seen += 1
    return exc


def first_line(exc: BaseException) -> str:
    """The first non-empty line of the exception's message, shortened."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."


def is_library(path: str) -> bool:
    """A file of the standard library, of an installed package, or not a file at all."""
    if not path or path.startswith("<"):
        return True
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    if any(part in _LIBRARY_PARTS for part in parts):
        return True
    return any(real == root or real.startswith(root + os.sep) for root in _STDLIB)


def _frames(tb: types.TracebackType | None) -> list[tuple[str, int]]:
    out = []
    while tb is not None:
        out.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    return out


def where(exc: BaseException, root: str) -> str:
    """The app's own frame: ``path:line`` relative to ``root`` (see the module doc)."""
    frames = _frames(exc.__traceback__)
    base = os.path.realpath(root) if root else ""
    for path, line in reversed(frames):
        if not os.path.isabs(path):  # "<frozen os>", a Cython module's "asyncpg/...pyx"
            continue
        real = os.path.realpath(path)
        if base and real.startswith(base + os.sep) and not is_library(path):
            return f"{os.path.relpath(real, base)}:{line}"
    for path, line in reversed(frames):
        if not path.startswith("<") and not any(
                os.path.realpath(path).startswith(r + os.sep) for r in _STDLIB):
            return f"{path}:{line}"
    return ""


_FRAME_LINE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


def where_in_text(text: str, root: str) -> str:
    """The app's own frame in a formatted traceback (the deepest ``File "...", line N`` below
    ``root`` that is not a library's), relative to ``root``; "" when there is none."""
    base = os.path.realpath(root) if root else ""
    for m in reversed(list(_FRAME_LINE.finditer(text))):
        path = m["file"]
        if not base or not os.path.isabs(path) or is_library(path):
            continue
        real = os.path.realpath(path)
        if real.startswith(base + os.sep):
            return f"{os.path.relpath(real, base)}:{m['line']}"
    return ""


def describe(exc: BaseException, root: str) -> dict[str, Any]:
    """The record of an unhandled exception: type, first line of its message, where."""
    inner = leaf(exc)
    return {"type": type(inner).__name__, "message": first_line(inner),
            "where": where(inner, root)}
