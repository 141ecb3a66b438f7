"""A plain Starlette app pinned to an older Starlette than pgstampede's: an asyncpg pool
opened in the lifespan, a read, and work done after the response (a background task)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import starlette
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    size = int(os.environ.get("DB_POOL_SIZE", "2"))
    app.state.pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=size, max_size=size,
        statement_cache_size=int(os.environ.get("STATEMENT_CACHE_SIZE", "100")),
    )
    yield
    await app.state.pool.close()


async def version(request: Request) -> JSONResponse:
    return JSONResponse({"starlette": starlette.__version__, "pid": os.getpid()})


async def read(request: Request) -> JSONResponse:
    row = await request.app.state.pool.fetchrow("SELECT id, name FROM items WHERE id = $1", 7)
    return JSONResponse({"id": row["id"], "name": row["name"]})


async def finish_job(pool: asyncpg.Pool, job: int, delay_ms: int) -> None:
    await asyncio.sleep(delay_ms / 1000)
    await pool.execute("UPDATE jobs SET done_at = clock_timestamp() WHERE id = $1", job)


async def job(request: Request) -> JSONResponse:
    delay_ms = int(os.environ.get("JOB_DELAY_MS", "200"))
    pool = request.app.state.pool
    job_id = await pool.fetchval("INSERT INTO jobs (delay_ms) VALUES ($1) RETURNING id", delay_ms)
    return JSONResponse({"job": job_id}, background=BackgroundTask(finish_job, pool, job_id,
                                                                    delay_ms))


app = Starlette(
    routes=[Route("/version", version), Route("/read", read), Route("/job", job, methods=["POST"])],
    lifespan=lifespan,
)
