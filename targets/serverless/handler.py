"""The serverless target: a function handler with module-level state.

This module deliberately follows the pattern people write on serverless platforms (and the
one thing the rest of the code base avoids): the database client is a *module global*,
created on the first request and reused for as long as the instance stays warm. Every
instance (process) has its own copy, so N instances hold N connections (or N pools); a frozen
instance keeps its connection open and idle on the server, unless ``on_freeze = "drain"``
(PGSTAMPEDE_ON_FREEZE) closes it before each freeze.

    PGSTAMPEDE_DB_CLIENT=connection   one asyncpg connection, created on first use; requests
                                      of one instance share it one at a time (a lock, like
                                      node-postgres' query queue)
    PGSTAMPEDE_DB_CLIENT=pool         an asyncpg pool of PGSTAMPEDE_POOL_MIN..PGSTAMPEDE_POOL_MAX
                                      connections, created on first use

Configuration is read from the environment on the first request (targets.shared.settings);
``PGSTAMPEDE_STATEMENT_CACHE_SIZE=0`` behind PgBouncer transaction mode, set by the platform.
The platform's instance runtime (harness.platform.instance) calls ``handler`` for each
request and runs the response's ``after`` work once the answer is sent; a streamed response
(``/events``) is relayed chunk by chunk and keeps the instance busy until it ends. Each
instance has its own realtime hub: its own ``LISTEN`` connection while it has subscribers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg

from harness.results.endpoints import EndpointRequest, EndpointResponse
from targets.shared.endpoints import Counter, EndpointContext, handle
from targets.shared.errors import classify
from targets.shared.realtime import Hub
from targets.shared.settings import TargetSettings

CLOSE_TIMEOUT_S = 5.0


class GlobalConnection:
    """One connection per instance, opened on first use, reopened when it was lost."""

    def __init__(self, settings: TargetSettings) -> None:
        self.settings = settings
        self.conn: Any = None
        self.lock = asyncio.Lock()

    @asynccontextmanager
    async def _use(self) -> AsyncIterator[Any]:
        async with self.lock:
            if self.conn is None or self.conn.is_closed():
                self.conn = None
                self.conn = await asyncpg.connect(
                    self.settings.dsn, **self.settings.connect_kwargs()
                )
            try:
                yield self.conn
            except Exception as exc:
                error = classify(exc)
                if self.conn.is_closed() or (error is not None and error.kind == "db_unavailable"):
                    self.conn.terminate()
                    self.conn = None
                raise

    def connection(self) -> AbstractAsyncContextManager[Any]:
        return self._use()

    async def drain(self) -> None:
        """Close the connection (``on_freeze = "drain"``); the next request opens a new one."""
        async with self.lock:
            conn, self.conn = self.conn, None
            if conn is not None and not conn.is_closed():
                await _close(conn)


class GlobalPool:
    """A pool per instance, created on first use (retried on the next request if refused)."""

    def __init__(self, settings: TargetSettings) -> None:
        self.settings = settings
        self.pool: Any = None
        self.lock = asyncio.Lock()

    @asynccontextmanager
    async def _use(self) -> AsyncIterator[Any]:
        async with self.lock:
            if self.pool is None:
                self.pool = await asyncpg.create_pool(
                    self.settings.dsn,
                    min_size=self.settings.pool_min,
                    max_size=self.settings.pool_max,
                    **self.settings.connect_kwargs(),
                )
        async with self.pool.acquire(timeout=self.settings.acquire_timeout_s) as conn:
            yield conn

    def connection(self) -> AbstractAsyncContextManager[Any]:
        return self._use()

    async def drain(self) -> None:
        """Close the pool when none of its connections is in use: work after a response may
        hold one (with several requests per instance), and it drains again when it ends."""
        async with self.lock:
            pool = self.pool
            if pool is None or pool.get_idle_size() < pool.get_size():
                return
            self.pool = None
            try:
                await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT_S)
            except Exception:
                pool.terminate()



async def _close(conn: Any) -> None:
    try:
        await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT_S)
    except Exception:
        conn.terminate()


class _InstanceState:
    """The module-level state of one instance: settings, database client, counter."""

    def __init__(self) -> None:
        self.ctx: EndpointContext | None = None
        self.client: GlobalPool | GlobalConnection | None = None
        self.drain = False
        self.in_flight = 0

    async def drain_if_idle(self) -> None:
        """With ``drain``: close the client when no request is in flight."""
        if self.drain and self.in_flight == 0 and self.client is not None:
            await self.client.drain()

    def context(self) -> EndpointContext:
        if self.ctx is None:
            settings = TargetSettings.from_env(os.environ)
            db: GlobalPool | GlobalConnection = (
                GlobalPool(settings) if settings.db_client == "pool" else GlobalConnection(settings)
            )
            self.client, self.drain = db, settings.on_freeze == "drain"
            self.ctx = EndpointContext(
                instance=settings.instance,
                db=db,
                counter=Counter(settings.state),
                background=settings.background,
                background_delay_ms=settings.background_delay_ms,
                hub=Hub(lambda: asyncpg.connect(settings.dsn, **settings.connect_kwargs())),
            )
        return self.ctx


_STATE = _InstanceState()  # module-level on purpose: see the module docstring


async def handler(request: EndpointRequest) -> EndpointResponse:
    """The function's entry point: one request in, one response out. With ``on_freeze =
    "drain"`` the database client is closed when the last request in flight answers (under
    ``wait_until``, when its work after the response ends instead), and again when work after
    a response (``/background``) that opened it ends with no request in flight, so that the
    instance is frozen with no idle connection open (as Vercel's attachDatabasePool). A pool
    is closed only when none of its connections is in use."""
    state = _STATE
    ctx = state.context()
    state.in_flight += 1
    held = False  # wait_until: the platform keeps the instance unfrozen until `after` ends
    try:
        response = await handle(request, ctx)
        if state.drain and response.after is not None:
            response = dataclasses.replace(response, after=_then_drain(state, response.after))
            held = ctx.background == "wait_until"
        return response
    finally:
        state.in_flight -= 1
        if not held:  # else the work after the response drains when it ends
            await state.drain_if_idle()


def _then_drain(state: _InstanceState,
                after: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await after()
        finally:
            await state.drain_if_idle()

    return run
