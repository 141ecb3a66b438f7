"""A raw ASGI app with lifespan: opens an asyncpg pool at startup (from DATABASE_URL, size
POOL_SIZE, asyncpg's statement cache of STATEMENT_CACHE_SIZE when set), closes it at
shutdown; GET / and GET /items read, POST /orders writes its JSON body, GET /raise raises
LookupError; a marker file records lifespan events when LIFESPAN_LOG is set."""

from __future__ import annotations

import json
import os
import traceback
from typing import Any

import asyncpg

STATE: dict[str, Any] = {}


def _mark(event: str) -> None:
    path = os.environ.get("LIFESPAN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{event} {os.getpid()}\n")


async def _startup() -> None:
    if os.environ.get("FAIL_STARTUP"):
        raise RuntimeError("startup failed on purpose")
    size = int(os.environ.get("POOL_SIZE", "2"))
    cache = os.environ.get("STATEMENT_CACHE_SIZE")
    options = {"statement_cache_size": int(cache)} if cache else {}
    STATE["pool"] = await asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=size, max_size=size, **options)
    _mark("startup")


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:  # as Starlette does: a failing startup is reported, with its traceback
                await _startup()
            except Exception:
                await send({"type": "lifespan.startup.failed",
                            "message": traceback.format_exc()})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await STATE["pool"].close()
            _mark("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["path"] == "/crash":
        print("Fatal: crashing on purpose", flush=True)
        os._exit(3)
    if scope["path"] == "/raise":
        raise LookupError("no such order: 42\n(a second line)")
    pool = STATE["pool"]
    status, payload = 200, {}
    if scope["method"] == "POST" and scope["path"] == "/orders":
        order = json.loads(await _body(receive))
        token = dict(scope["headers"]).get(b"x-token", b"").decode()
        async with pool.acquire() as conn:
            await conn.execute("INSERT INTO orders (item, token) VALUES ($1, $2)",
                               int(order["item"]), token)
        payload = {"ok": True}
    elif scope["path"] in ("/", "/items"):
        async with pool.acquire() as conn:
            payload = {"n": await conn.fetchval("SELECT count(*) FROM orders")}
    else:
        status = 404
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def create_app() -> Any:
    """A factory (``factory = true``) returning the same app."""
    return app
