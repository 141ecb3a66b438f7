"""Find the application object: ``module:attr``, optionally a factory, with its root first on
sys.path (and as the working directory, as a platform's code directory is)."""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any


class InitError(Exception):
    """An instance's init failed; the message is the first error's text (one line).
    ``details``: the app's own account of it when it gave one (the traceback a framework
    puts in ``lifespan.startup.failed``), where its own line is looked for."""

    def __init__(self, text: str, details: str = "") -> None:
        super().__init__(text)
        self.details = details


def prepare(root: str) -> None:
    """Put ``root`` first on sys.path and make it the working directory ("" = leave both)."""
    if not root:
        return
    path = os.path.abspath(root)
    if path not in sys.path:
        sys.path.insert(0, path)
    os.chdir(path)


def load_app(entry: str, factory: bool) -> Any:
    """The ASGI/WSGI callable named by ``module:attr`` (called once when it is a factory)."""
    module_name, _, attr = entry.partition(":")
    module = importlib.import_module(module_name)
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise InitError(f"{entry}: module {module_name!r} has no attribute {attr!r}") from None
    if factory:
        target = target()
    if not callable(target):
        raise InitError(f"{entry} is not callable")
    return target


def error_text(exc: BaseException) -> str:
    """The one-line text of an exception, as the first error of an init."""
    if isinstance(exc, InitError):
        return str(exc)
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return shorten(text)


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*: \S")


def last_line(text: str, limit: int = 500) -> str:
    """The exception of a message that may be a formatted traceback: its last line of the
    form ``module.Error: text`` (libraries add notes after it, e.g. SQLAlchemy's
    "(Background on this error at: ...)"), else its last non-empty line; shortened."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line):
            return shorten(line, limit)
    return shorten(lines[-1].strip() if lines else "", limit)


def shorten(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
