"""The persistent target: one long-running ASGI server with an asyncpg pool.

Run it with::

    PGSTAMPEDE_DSN=postgresql://app@127.0.0.1:PORT/app \\
    PGSTAMPEDE_POOL_MIN=2 PGSTAMPEDE_POOL_MAX=20 \\
    python -m uvicorn targets.persistent.app:app --host 127.0.0.1 --port P --no-access-log

Configuration (targets.shared.settings) is read from the environment in the lifespan. The pool
is created there; when the database refuses its first ``pool_min`` connections the app still
starts (the pool then fills its floor in the background) and requests fail with their error
kind instead. ``/health`` never touches the database. ``/events`` subscribers share one hub:
one ``LISTEN`` connection, outside the pool, for all of them (targets.shared.realtime); so do
those of its WebSocket twin (a WebSocket on ``/events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from harness.results.endpoints import WEBSOCKET, EndpointRequest
from targets.shared.endpoints import Counter, EndpointContext, handle
from targets.shared.errors import classify
from targets.shared.realtime import Hub
from targets.shared.settings import TargetSettings


class PoolDatabase:
    """Connections come from one asyncpg pool, waited for at most ``acquire_timeout_s``."""

    def __init__(self, pool: Any, acquire_timeout_s: float) -> None:
        self.pool = pool
        self.acquire_timeout_s = acquire_timeout_s

    def connection(self) -> AbstractAsyncContextManager[Any]:
        acquired: AbstractAsyncContextManager[Any] = self.pool.acquire(
            timeout=self.acquire_timeout_s
        )
        return acquired


async def open_pool(settings: TargetSettings) -> tuple[Any, asyncio.Task[None] | None]:
    """Create the pool with ``pool_min`` connections; if the database refuses them, start with
    an empty pool and a task that opens the floor once the database accepts."""
    kwargs = settings.connect_kwargs()
    try:
        pool = await asyncpg.create_pool(
            settings.dsn, min_size=settings.pool_min, max_size=settings.pool_max, **kwargs
        )
        return pool, None
    except Exception as exc:
        error = classify(exc)
        if error is None:
            raise
        print(
            f"persistent target: could not open {settings.pool_min} connections at start "
            f"({error.kind}: {error.message}); starting with an empty pool",
            file=sys.stderr,
        )
    pool = await asyncpg.create_pool(settings.dsn, min_size=0, max_size=settings.pool_max, **kwargs)
    return pool, asyncio.create_task(fill_floor(pool, settings.pool_min))


async def fill_floor(pool: Any, pool_min: int, retry_s: float = 1.0) -> None:
    """Open ``pool_min`` connections (held together, then released to the pool) when possible."""
    while True:
        async with contextlib.AsyncExitStack() as stack:
            try:
                for _ in range(pool_min):
                    await stack.enter_async_context(pool.acquire())
                return
            except Exception as exc:
                if classify(exc) is None:
                    raise
        await asyncio.sleep(retry_s)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    settings = TargetSettings.from_env(os.environ)
    pool, floor = await open_pool(settings)
    app.state.ctx = EndpointContext(
        instance=str(os.getpid()),
        db=PoolDatabase(pool, settings.acquire_timeout_s),
        counter=Counter(settings.state),
        background_delay_ms=settings.background_delay_ms,
        hub=Hub(lambda: asyncpg.connect(settings.dsn, **settings.connect_kwargs())),
    )
    try:
        yield
    finally:
        if floor is not None:
            floor.cancel()
        pool.terminate()


async def endpoint(request: Request) -> Response:
    ctx: EndpointContext = request.app.state.ctx
    body = await request.body() if request.method == "POST" else b""
    result = await handle(
        EndpointRequest(request.method, request.url.path, dict(request.query_params), body), ctx
    )
    if result.stream is not None:  # /events: one subscription to the process's hub
        return StreamingResponse(result.stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache"})
    background = BackgroundTask(result.after) if result.after is not None else None
    return JSONResponse(result.body, status_code=result.status, background=background)


async def websocket_endpoint(websocket: WebSocket) -> None:
    """A WebSocket on any path: accepted when the endpoint streams (the /events twin), each
    chunk one text message, until the stream or the client ends; refused (closed) otherwise."""
    ctx: EndpointContext = websocket.app.state.ctx
    request = EndpointRequest(WEBSOCKET, websocket.url.path, dict(websocket.query_params))
    result = await handle(request, ctx)
    if result.stream is None:
        await websocket.close(code=1008)
        return
    await websocket.accept()
    chunks = result.stream()
    relay = asyncio.ensure_future(_send_all(websocket, chunks))
    gone = asyncio.ensure_future(_until_disconnect(websocket))
    try:
        await asyncio.wait({relay, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relay, gone):
            task.cancel()
        await asyncio.gather(relay, gone, return_exceptions=True)
        await chunks.aclose()
    if relay.done() and not relay.cancelled() and relay.exception() is None:
        with contextlib.suppress(Exception):
            await websocket.close(code=1000)  # the stream ended (the hub lost LISTEN)


async def _send_all(websocket: WebSocket, chunks: AsyncIterator[bytes]) -> None:
    async for chunk in chunks:
        await websocket.send_text(chunk.decode())


async def _until_disconnect(websocket: WebSocket) -> None:
    """The twin reads nothing: wait for the client's close."""
    with contextlib.suppress(WebSocketDisconnect):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass


# One catch-all route: unknown paths and methods get the same JSON errors as on the gateway.
app = Starlette(
    routes=[Route("/{path:path}", endpoint, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
            WebSocketRoute("/{path:path}", websocket_endpoint)],
    lifespan=lifespan,
)
