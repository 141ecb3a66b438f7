"""The ASGI host: the lifespan protocol as an instance's init, and one http scope per request.

A response is buffered until its last body message, then returned with the units of work
still running (harness.apphost.background). With ``whole_call`` (``adapter = "mangum"``)
it is returned only once the app's call has returned, as Mangum does (its HTTP cycle runs
the call to completion before the Lambda handler returns): what the framework runs after
the response (Starlette's BackgroundTasks, FastAPI's yield dependencies) finishes inside
the invocation; tasks the app created and left running stay units of background work.

After the request body has been read, ``receive`` waits until the response is complete,
then answers ``http.disconnect`` (as uvicorn does). An app raising before its response
started gets a 500.

Lifespan: the app is called once with a ``lifespan`` scope that lives as long as the
instance. ``lifespan.startup.failed``, or an exception raised after the app received
``lifespan.startup``, is an init failure; an exception raised before the app called
``receive`` means the app does not speak lifespan (uvicorn's ``lifespan = "auto"``).
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .background import REQUEST, Background, settle
from .loader import InitError, error_text, last_line
from .wire import HttpRequest, HttpResponse

Message = MutableMapping[str, Any]
App = Callable[..., Awaitable[None]]  # (scope, receive, send)

ASGI = {"version": "3.0", "spec_version": "2.3"}
SERVER_ERROR = HttpResponse(500, (("content-type", "text/plain; charset=utf-8"),),
                            b"Internal Server Error")


class Lifespan:
    """The app's lifespan call: startup at init, shutdown if the platform runs it."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        self.received = False
        self.supported = True
        self.task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": dict(ASGI), "state": self.state}
        self.task = asyncio.get_running_loop().create_task(self._run(scope))
        await self.inbox.put({"type": "lifespan.startup"})
        reply = await self.outbox.get()
        if reply["type"] == "lifespan.startup.complete":
            return
        if reply["type"] == "lifespan.startup.failed":
            details = str(reply.get("message", ""))
            raise InitError(last_line(details) or "lifespan startup failed", details)
        self._ended(reply, "startup")

    async def shutdown(self) -> None:
        """Run the app's shutdown (nothing if it does not speak lifespan)."""
        if not self.supported or self.task is None or self.task.done():
            return
        await self.inbox.put({"type": "lifespan.shutdown"})
        reply = await self.outbox.get()
        if reply["type"] == "lifespan.shutdown.failed":
            raise InitError(last_line(str(reply.get("message", ""))) or "shutdown failed")
        if reply["type"] == "ended":
            self._ended(reply, "shutdown")

    def _ended(self, reply: Message, phase: str) -> None:
        error = reply.get("error")
        if error is None or not self.received:
            self.supported = False  # returned or raised without taking part: no lifespan
            return
        raise InitError(error_text(error)) from error

    async def _run(self, scope: dict[str, Any]) -> None:
        try:
            await self.app(scope, self._receive, self._send)
        except Exception as exc:
            if self.received:
                traceback.print_exception(type(exc), exc, exc.__traceback__)
            await self.outbox.put({"type": "ended", "error": exc})
            return
        await self.outbox.put({"type": "ended", "error": None})

    async def _receive(self) -> Message:
        self.received = True
        return await self.inbox.get()

    async def _send(self, message: Message) -> None:
        await self.outbox.put(message)


class Exchange:
    """One request's receive/send pair and the response it builds."""

    def __init__(self, req: HttpRequest) -> None:
        self.req = req
        self.body_sent = False
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.complete = asyncio.get_running_loop().create_future()

    async def receive(self) -> Message:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": self.req.body, "more_body": False}
        await asyncio.shield(self.complete)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
            self.headers = [(_text(n).lower(), _text(v)) for n, v in message.get("headers", [])]
        elif kind == "http.response.body" and not self.complete.done():
            self.chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self.complete.set_result(None)

    def response(self, pending: int) -> HttpResponse:
        return HttpResponse(self.status, tuple(self.headers), b"".join(self.chunks), pending)


class AsgiHost:
    """Runs an ASGI application: lifespan as init, each request as one call."""

    def __init__(self, app: App, background: Background, whole_call: bool = False) -> None:
        self.app = app
        self.background = background
        self.lifespan = Lifespan(app)
        self.whole_call = whole_call  # "mangum": the response waits for the call's end

    async def startup(self) -> None:
        await self.lifespan.startup()

    async def shutdown(self) -> None:
        await self.lifespan.shutdown()

    async def handle(self, msg_id: int, req: HttpRequest) -> HttpResponse:
        exchange = Exchange(req)
        self.background.open(msg_id)
        call = asyncio.get_running_loop().create_task(self._call(msg_id, exchange))
        await asyncio.wait({exchange.complete, call}, return_when=asyncio.FIRST_COMPLETED)
        if not exchange.complete.done():
            units = self.background.close(msg_id)
            return _failed(units, self.background, msg_id)
        if self.whole_call:  # as Mangum: the invocation returns once the app call has
            await asyncio.wait({call})  # (background tasks, a framework's clean-up)
        await settle()
        units = self.background.close(msg_id)
        if not call.done():
            units.insert(0, call)
        pending = self.background.watch(msg_id, units)
        return exchange.response(pending)

    async def _call(self, msg_id: int, exchange: Exchange) -> None:
        REQUEST.set(msg_id)
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in exchange.req.headers]
        scope = {
            "type": "http",
            "asgi": dict(ASGI),
            "http_version": "1.1",
            "method": exchange.req.method,
            "scheme": "http",
            "path": exchange.req.path,
            "raw_path": (exchange.req.raw_path or exchange.req.path).encode("latin-1"),
            "query_string": exchange.req.query.encode("latin-1"),
            "root_path": "",
            "headers": headers,
            "client": exchange.req.client,
            "server": exchange.req.server,
            "state": dict(self.lifespan.state),
        }
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self.background.raised(exc)
        if not exchange.complete.done():
            print(f"request {exchange.req.method} {exchange.req.path}: the app returned without "
                  "completing its response", file=sys.stderr)


def _failed(units: list[asyncio.Future[Any]], background: Background, msg_id: int) -> HttpResponse:
    pending = background.watch(msg_id, units)
    return HttpResponse(SERVER_ERROR.status, SERVER_ERROR.headers, SERVER_ERROR.body, pending)


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)
