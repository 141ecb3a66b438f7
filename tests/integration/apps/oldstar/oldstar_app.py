"""A plain Starlette app pinned to an older Starlette than pgstampede's: an asyncpg pool
opened in the lifespan, and work done after the response (a background task).

``DATABASE_URL`` is the variant's database (the one pgstampede watches); ``RECORD_URL`` is
the test's own database, where the app records its startups and its jobs (it outlives the
run, so the test can compare what the harness counted with what the app did), each row
tagged with ``RECORD_TAG`` (the scenario sets it to the variant database's port).
"""

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
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=size,
                                               max_size=size)
    app.state.record = await asyncpg.create_pool(os.environ["RECORD_URL"], min_size=1,
                                                 max_size=2)
    await app.state.record.execute("INSERT INTO startups (tag, pid, starlette) VALUES ($1, $2, $3)",
                                   os.environ["RECORD_TAG"], os.getpid(), starlette.__version__)
    yield
    await app.state.record.close()
    await app.state.pool.close()


async def work() -> None:
    """What every request does before it answers: ``WORK_MS`` of waiting (on an API, say)."""
    await asyncio.sleep(int(os.environ.get("WORK_MS", "0")) / 1000)


async def finish_job(record: asyncpg.Pool, job: int, delay_ms: int) -> None:
    await asyncio.sleep(delay_ms / 1000)
    await record.execute("UPDATE jobs SET done_at = clock_timestamp() WHERE id = $1", job)


async def job(request: Request) -> JSONResponse:
    await work()
    delay_ms = int(os.environ.get("JOB_DELAY_MS", "300"))
    record = request.app.state.record
    job_id = await record.fetchval("INSERT INTO jobs (tag, delay_ms) VALUES ($1, $2) "
                                   "RETURNING id", os.environ["RECORD_TAG"], delay_ms)
    return JSONResponse({"job": job_id},
                        background=BackgroundTask(finish_job, record, job_id, delay_ms))


app = Starlette(
    routes=[Route("/job", job, methods=["POST"])],
    lifespan=lifespan,
)
