"""The user's app as the persistent server (uvicorn) serves it, its exceptions recorded.

uvicorn is given ``pgstampede_apphost.served:app`` instead of the app's own entry (each
worker imports this module and asks for ``app``): it loads the app named by
``PGSTAMPEDE_APP_ENTRY`` (calling it once when ``PGSTAMPEDE_APP_FACTORY`` is ``1``, as
uvicorn's ``--factory`` does) and wraps it so that an unhandled exception that escapes it
is written, as one JSON line (harness.apphost.exceptions: type, first line of the
message, the app's own frame below ``PGSTAMPEDE_APP_ROOT``, plus ``t`` and ``instance`` =
the worker's pid), to the file ``PGSTAMPEDE_EXCEPTIONS_FILE``, then raised again: uvicorn
answers 500 and logs it as ever.

- ASGI (``PGSTAMPEDE_APP_KIND=asgi``): http and websocket calls; the lifespan passes through
  untouched (uvicorn's ``lifespan = "auto"`` decides on what the app does there).
- WSGI: the call, the iteration of its response and its ``close()`` (Flask's
  ``call_on_close``).

An exception a framework turns into its own 500 page (Flask, Django) does not escape the
app: it is in the app's log, not here. Each line is one ``os.write`` on a descriptor opened
with ``O_APPEND``: the workers' lines never mix.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .exceptions import describe
from .loader import load_app

ENTRY = "PGSTAMPEDE_APP_ENTRY"
FACTORY = "PGSTAMPEDE_APP_FACTORY"
KIND = "PGSTAMPEDE_APP_KIND"
ROOT = "PGSTAMPEDE_APP_ROOT"
EXCEPTIONS_FILE = "PGSTAMPEDE_EXCEPTIONS_FILE"


class AppLoadError(Exception):
    """The app raised AttributeError while it loaded (uvicorn would read that as this module
    having no ``app``)."""


class Recorder:
    """Writes each exception as one JSON line to a file (nothing when no file is named)."""

    def __init__(self, path: str, root: str) -> None:
        self.root = root
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if path else -1

    def __call__(self, exc: BaseException) -> None:
        if self.fd < 0:
            return
        doc = {"t": time.time(), "instance": str(os.getpid()), **describe(exc, self.root)}
        with contextlib.suppress(OSError):  # recording never changes what the app answers
            os.write(self.fd, (json.dumps(doc) + "\n").encode())


def wrap_asgi(app: Any, record: Callable[[BaseException], None]) -> Any:
    async def served(scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        try:
            await app(scope, receive, send)
        except Exception as exc:
            record(exc)
            raise

    return served


class _Response:
    """A WSGI response iterable whose iteration and ``close()`` are watched."""

    def __init__(self, result: Iterable[bytes], record: Callable[[BaseException], None]) -> None:
        self.result = result
        self.record = record

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.result
        except Exception as exc:
            self.record(exc)
            raise

    def close(self) -> None:
        close = getattr(self.result, "close", None)
        if close is None:
            return
        try:
            close()
        except Exception as exc:
            self.record(exc)
            raise


def wrap_wsgi(app: Any, record: Callable[[BaseException], None]) -> Any:
    def served(environ: Any, start_response: Any) -> Any:
        try:
            result = app(environ, start_response)
        except Exception as exc:
            record(exc)
            raise
        return _Response(result, record)

    return served


def served_app(environ: dict[str, str]) -> Any:
    """The app named in ``environ``, wrapped (see the module doc)."""
    record = Recorder(environ.get(EXCEPTIONS_FILE, ""), environ.get(ROOT, ""))
    target = load_app(environ[ENTRY], environ.get(FACTORY) == "1")
    if environ.get(KIND) == "wsgi":
        return wrap_wsgi(target, record)
    return wrap_asgi(target, record)


_SERVED: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """``app``, built on first use (uvicorn's ``getattr(module, "app")``), not at import."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if "app" not in _SERVED:
        try:
            _SERVED["app"] = served_app(dict(os.environ))
        except AttributeError as exc:  # not "no attribute app" to uvicorn: the app's error
            raise AppLoadError(f"{type(exc).__name__}: {exc}") from exc
    return _SERVED["app"]
