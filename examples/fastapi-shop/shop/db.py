"""The database engine: one connection pool per process, opened in the lifespan."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from shop.settings import Settings


def connect_args(settings: Settings) -> dict[str, Any]:
    """PgBouncer in transaction mode (before 1.21) cannot follow prepared statements from one
    transaction to the next: asyncpg's statement cache and SQLAlchemy's own cache must be
    off, and the statements SQLAlchemy still prepares need unique names. Without this, the
    app fails with ``prepared statement "__asyncpg_stmt_1__" does not exist``."""
    if not settings.behind_pgbouncer:
        return {}
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__asyncpg_{uuid4()}__",
    }


def make_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.pool_size,
        max_overflow=0,
        pool_timeout=settings.pool_timeout_s,
        pool_pre_ping=False,
        connect_args=connect_args(settings),
    )


async def open_pool(engine: AsyncEngine, size: int) -> None:
    """Open the whole pool now: a database that cannot be reached fails the start, and the
    first requests do not pay for connecting."""
    connections = [await engine.connect() for _ in range(size)]
    for connection in connections:
        await connection.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)
