"""The WSGI host (PEP 3333): each request runs in a thread pool of ``instance_concurrency``
threads, so the event loop stays free to take frames.

The response is complete once the iterable is exhausted; the thread then calls the
iterable's ``close()`` (where Flask's ``call_on_close`` and similar work run), which is a
pending unit (harness.apphost.background) if it has not returned ``CLOSE_GRACE_S`` after
the response was complete: a close() with nothing to do is not background work (the answer
waits for it at most that long). With ``whole_call`` (``adapter = "mangum"``: an in-process
adapter that returns once the call is over) the answer waits for ``close()`` to return.
WSGI has no lifespan: an instance's init is the import (and the factory call).
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .background import Background
from .wire import HttpRequest, HttpResponse

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Result = tuple[int, tuple[tuple[str, str], ...], bytes]

SERVER_ERROR = HttpResponse(500, (("content-type", "text/plain; charset=utf-8"),),
                            b"Internal Server Error")
CLOSE_GRACE_S = 0.005
_SPECIAL = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


def environ_for(req: HttpRequest) -> dict[str, Any]:
    """The WSGI environ of a request."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": req.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": req.path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": req.query,
        "SERVER_NAME": req.server[0],
        "SERVER_PORT": str(req.server[1]),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": req.client[0],
        "REMOTE_PORT": str(req.client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(req.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in req.headers:
        key = _SPECIAL.get(name) or "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    if req.body and "CONTENT_LENGTH" not in environ:
        environ["CONTENT_LENGTH"] = str(len(req.body))
    return environ


def run_app(app: App, environ: dict[str, Any]) -> tuple[Result, Any]:
    """Call the app and consume its response; the response and the iterable (to close)."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                       ) -> Callable[[bytes], None]:
        if exc_info is not None and started and chunks:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [(status, headers)]
        return chunks.append

    result = app(environ, start_response)
    try:
        for chunk in result:
            chunks.append(bytes(chunk))
    except BaseException:
        _close(result)
        raise
    if not started:
        _close(result)
        raise RuntimeError("the WSGI app did not call start_response")
    status, headers = started[0]
    code = int(status.split(" ", 1)[0])
    return (code, tuple((n.lower(), v) for n, v in headers), b"".join(chunks)), result


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


class WsgiHost:
    """Runs a WSGI application in a thread pool."""

    def __init__(self, app: App, background: Background, threads: int,
                 whole_call: bool = False) -> None:
        self.app = app
        self.background = background
        self.whole_call = whole_call  # "mangum": the response waits for close() to return
        self.pool = ThreadPoolExecutor(max_workers=max(1, threads),
                                       thread_name_prefix="wsgi")

    async def startup(self) -> None:
        """WSGI has no startup: the import was the init."""

    async def shutdown(self) -> None:
        self.pool.shutdown(wait=False)

    async def handle(self, msg_id: int, req: HttpRequest) -> HttpResponse:
        loop = asyncio.get_running_loop()
        response: asyncio.Future[Result] = loop.create_future()
        closed: asyncio.Future[None] = loop.create_future()
        self.pool.submit(self._run, loop, environ_for(req), response, closed)
        try:
            status, headers, body = await response
        except Exception:
            return SERVER_ERROR
        complete = time.perf_counter()
        await asyncio.wait({closed}, timeout=None if self.whole_call else CLOSE_GRACE_S)
        pending = self.background.watch(msg_id, [] if closed.done() else [closed], complete)
        return HttpResponse(status, headers, body, pending)

    def _run(self, loop: asyncio.AbstractEventLoop, environ: dict[str, Any],
             response: asyncio.Future[Result], closed: asyncio.Future[None]) -> None:
        """In a pool thread: call the app, hand over the response, then close the iterable."""
        try:
            result, iterable = run_app(self.app, environ)
        except BaseException as exc:
            traceback.print_exc(file=sys.stderr)
            loop.call_soon_threadsafe(self.background.raised, exc)
            error = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
            loop.call_soon_threadsafe(_settle, response, None, error)
            loop.call_soon_threadsafe(_settle, closed, None, None)
            return
        loop.call_soon_threadsafe(_settle, response, result, None)
        try:
            _close(iterable)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            loop.call_soon_threadsafe(self.background.raised, exc)
        finally:
            loop.call_soon_threadsafe(_settle, closed, None, None)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
