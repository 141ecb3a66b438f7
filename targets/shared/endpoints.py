"""The endpoints both targets serve, independent of how requests arrive.

The persistent target (Starlette) and the serverless handler (behind the platform gateway)
turn their requests into an ``EndpointRequest`` and answer with the ``EndpointResponse``
that ``handle`` returns (both defined by the harness, harness.results.endpoints: the
platform's instance runtime speaks them too); a response may carry ``after``, work to run
once the answer is sent (``/background``). Database access goes through the small
``Database`` seam, so each target decides how connections are obtained (a pool, one global
connection, ...).

Endpoints, bodies and error kinds: docs/internals.md, "Targets: endpoints and environment".
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from harness.results.endpoints import WEBSOCKET, EndpointRequest, EndpointResponse, error_doc
from targets.shared.errors import classify
from targets.shared.realtime import Hub, event_stream, publish, ws_message
from targets.shared.session_state import read_state, set_state

ITEM_COUNT = 10_000
MAX_SLOW_MS = 600_000
MAX_PAYLOAD = 1_000

class Database(Protocol):
    """How a target obtains a database connection for one unit of work."""

    def connection(self) -> AbstractAsyncContextManager[Any]: ...


COUNTER_SQL = (
    "INSERT INTO counters(name, value) VALUES ('counter', 1) "
    "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value"
)


class Counter:
    """The counter behind /counter: in the process's memory (each instance its own, the trap)
    or, with ``store = "postgres"``, one row of the ``counters`` table (the fix)."""

    def __init__(self, store: str = "memory") -> None:
        self.store = store
        self.value = 0

    async def increment(self, db: Database) -> int:
        if self.store != "postgres":
            self.value += 1
            return self.value
        async with db.connection() as conn:
            return int(await conn.fetchval(COUNTER_SQL))


@dataclass(frozen=True)
class EndpointContext:
    instance: str
    db: Database
    counter: Counter
    background_delay_ms: int
    hub: Hub | None = None  # the process's LISTEN fan-out (/events)
    background: str = "after_response"  # "queue": /background leaves its job to the worker


Route = Callable[[EndpointRequest, EndpointContext], Awaitable[EndpointResponse]]


async def handle(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    """Answer one request; database failures become error responses (see targets.shared.errors)."""
    methods = ROUTES.get(request.path)
    if methods is None:
        return _client_error(404, f"no endpoint {request.path}")
    route = methods.get(request.method)
    if route is None:
        return _client_error(405, f"{request.path} expects {'/'.join(methods)}")
    try:
        return await route(request, ctx)
    except Exception as exc:
        error = classify(exc)
        if error is None:
            raise
        return EndpointResponse(error.status, error.body())


async def _read(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    item_id = random.randint(1, ITEM_COUNT)
    async with ctx.db.connection() as conn:
        row = await conn.fetchrow("SELECT id, name, value FROM items WHERE id = $1", item_id)
    if row is None:
        return _client_error(404, f"item {item_id} not found: is the items table seeded?")
    return _ok({"id": row["id"], "name": row["name"], "value": row["value"]}, ctx)


async def _write(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    payload = request.body[:MAX_PAYLOAD].decode("utf-8", "replace")
    async with ctx.db.connection() as conn:
        new_id = await conn.fetchval(
            "INSERT INTO writes(source, payload) VALUES ($1, $2) RETURNING id",
            ctx.instance,
            payload,
        )
    return _ok({"id": new_id}, ctx)


async def _slow(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    ms = _int_param(request, "ms", 100, MAX_SLOW_MS)
    if ms is None:
        return _client_error(400, f"ms must be an integer in 0..{MAX_SLOW_MS}")
    async with ctx.db.connection() as conn:
        await conn.execute("SELECT pg_sleep($1::float8 / 1000.0)", ms)
    return _ok({"slept_ms": ms}, ctx)


async def _counter(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    return _ok({"counter": await ctx.counter.increment(ctx.db)}, ctx)


async def _health(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    return _ok({"ok": True}, ctx)


async def _background(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    delay_ms = _int_param(request, "delay_ms", ctx.background_delay_ms, MAX_SLOW_MS)
    if delay_ms is None:
        return _client_error(400, f"delay_ms must be an integer in 0..{MAX_SLOW_MS}")
    async with ctx.db.connection() as conn:
        job = await conn.fetchval(
            "INSERT INTO background_jobs(instance, scheduled_at, due_at) "
            "VALUES ($1, now(), now() + $2::int * interval '1 millisecond') RETURNING id",
            ctx.instance,
            delay_ms,
        )
    if ctx.background == "queue":  # targets.worker completes it (FOR UPDATE SKIP LOCKED)
        return EndpointResponse(200, {"job": job, "instance": ctx.instance})

    async def after() -> None:
        await complete_background_job(ctx.db, job, delay_ms)

    return EndpointResponse(200, {"job": job, "instance": ctx.instance}, after)


async def complete_background_job(db: Database, job: int, delay_ms: int) -> None:
    """The work /background schedules after its response: wait, then mark the job done.

    The wait runs on the monotonic clock, so an instance frozen past the due time completes
    the job as soon as it is thawed (delayed), and a reaped instance never does (lost).
    """
    await asyncio.sleep(delay_ms / 1000.0)
    try:
        async with db.connection() as conn:
            await conn.execute("UPDATE background_jobs SET completed_at = now() WHERE id = $1", job)
    except Exception as exc:
        error = classify(exc)
        if error is None:
            raise
        print(f"background job {job} failed: {error.kind}: {error.message}", file=sys.stderr)


async def _publish(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    payload = request.body[:MAX_PAYLOAD].decode("utf-8", "replace")
    async with ctx.db.connection() as conn:
        message_id, published = await publish(conn, ctx.instance, payload)
    return _ok({"id": message_id, "t": published}, ctx)


async def _events(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    hub = ctx.hub
    if hub is None:
        return _client_error(404, "this target serves no /events")
    sub = await hub.subscribe()
    return EndpointResponse(200, {}, stream=lambda: event_stream(hub, sub, ctx.instance))


async def _events_ws(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    """The WebSocket twin of /events (method ``WEBSOCKET``: an upgrade request)."""
    hub = ctx.hub
    if hub is None:
        return _client_error(404, "this target serves no /events")
    sub = await hub.subscribe()
    return EndpointResponse(200, {}, stream=lambda: event_stream(hub, sub, ctx.instance,
                                                                 ws_message))


async def _set_state(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    return _ok(await set_state(ctx.db), ctx)


async def _read_state(request: EndpointRequest, ctx: EndpointContext) -> EndpointResponse:
    return _ok(await read_state(ctx.db), ctx)


ROUTES: dict[str, dict[str, Route]] = {
    "/read": {"GET": _read},
    "/write": {"POST": _write},
    "/slow": {"GET": _slow},
    "/counter": {"GET": _counter},
    "/background": {"POST": _background},
    "/health": {"GET": _health},
    "/set_state": {"POST": _set_state},
    "/read_state": {"GET": _read_state},
    "/publish": {"POST": _publish},
    "/events": {"GET": _events, WEBSOCKET: _events_ws},
}


def _ok(body: dict[str, object], ctx: EndpointContext) -> EndpointResponse:
    body["instance"] = ctx.instance
    return EndpointResponse(200, body)


def _client_error(status: int, message: str) -> EndpointResponse:
    return EndpointResponse(status, error_doc("http_4xx", message))


def _int_param(request: EndpointRequest, name: str, default: int, maximum: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 0 <= value <= maximum else None
