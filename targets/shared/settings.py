"""Target configuration, read from the environment when a target starts (never at import).

PGSTAMPEDE_DSN                   postgresql://app@127.0.0.1:PORT/app (required)
PGSTAMPEDE_POOL_MIN              pool floor (persistent target), default 1
PGSTAMPEDE_POOL_MAX              pool ceiling (persistent; serverless db_client=pool), default 10
PGSTAMPEDE_STATEMENT_CACHE_SIZE  "" = asyncpg's default; else an int passed as the keyword
                                 ``statement_cache_size`` (0 behind PgBouncer transaction mode)
PGSTAMPEDE_ACQUIRE_TIMEOUT       seconds to wait for a pool connection or a connect, default 10
PGSTAMPEDE_BACKGROUND_DELAY_MS   delay of the work /background schedules, default 1000
PGSTAMPEDE_APP_NAME              application_name of the target's connections
PGSTAMPEDE_SSL                   "" = asyncpg's default (the DSN's sslmode, else "prefer": an
                                 SSL context and a TLS request before every connection);
                                 "disable": plain TCP whatever the DSN's sslmode says, set by
                                 the harness for the servers it starts, which have no TLS
PGSTAMPEDE_DB_CLIENT             serverless only: "connection" (default) or "pool"
PGSTAMPEDE_INSTANCE              serverless only: the platform's instance id
PGSTAMPEDE_STATE                 where /counter keeps its count: "memory" (default: each
                                 process its own) or "postgres" (one row of the counters table)
PGSTAMPEDE_ON_FREEZE             serverless only: "keep" (default) or "drain": close the
                                 instance's idle database connections before it is frozen
PGSTAMPEDE_BACKGROUND            serverless only: how /background's work runs:
                                 "after_response" (default: a task after the answer, frozen with
                                 the instance), "wait_until" (the platform keeps the instance
                                 unfrozen until it is done) or "queue" (a job row that the
                                 worker process, targets.worker, completes)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DB_CLIENTS = ("connection", "pool")
STATES = ("memory", "postgres")
ON_FREEZE = ("keep", "drain")
SSL_MODES = ("", "disable")
BACKGROUND_MODES = ("after_response", "wait_until", "queue")


@dataclass(frozen=True)
class TargetSettings:
    """Everything a target needs to reach the database."""

    dsn: str
    pool_min: int = 1
    pool_max: int = 10
    statement_cache_size: int | None = None
    acquire_timeout_s: float = 10.0
    background_delay_ms: int = 1000
    app_name: str = "pgstampede"
    db_client: str = "connection"
    instance: str = ""
    state: str = "memory"
    on_freeze: str = "keep"
    background: str = "after_response"
    ssl: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TargetSettings:
        dsn = env.get("PGSTAMPEDE_DSN", "")
        if not dsn:
            raise ValueError("PGSTAMPEDE_DSN is not set: expected postgresql://user@host:port/db")
        cache = env.get("PGSTAMPEDE_STATEMENT_CACHE_SIZE", "").strip()
        settings = cls(
            dsn=dsn,
            pool_min=_int(env, "PGSTAMPEDE_POOL_MIN", 1),
            pool_max=_int(env, "PGSTAMPEDE_POOL_MAX", 10),
            statement_cache_size=_int(env, "PGSTAMPEDE_STATEMENT_CACHE_SIZE", 0) if cache else None,
            acquire_timeout_s=_float(env, "PGSTAMPEDE_ACQUIRE_TIMEOUT", 10.0),
            background_delay_ms=_int(env, "PGSTAMPEDE_BACKGROUND_DELAY_MS", 1000),
            app_name=env.get("PGSTAMPEDE_APP_NAME", "pgstampede") or "pgstampede",
            db_client=env.get("PGSTAMPEDE_DB_CLIENT", "connection") or "connection",
            instance=env.get("PGSTAMPEDE_INSTANCE", "") or str(os.getpid()),
            state=env.get("PGSTAMPEDE_STATE", "memory") or "memory",
            on_freeze=env.get("PGSTAMPEDE_ON_FREEZE", "keep") or "keep",
            background=env.get("PGSTAMPEDE_BACKGROUND", "after_response") or "after_response",
            ssl=env.get("PGSTAMPEDE_SSL", "").strip(),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.pool_min < 0 or self.pool_max < 1 or self.pool_min > self.pool_max:
            raise ValueError(
                f"PGSTAMPEDE_POOL_MIN={self.pool_min} / PGSTAMPEDE_POOL_MAX={self.pool_max}: "
                "expected 0 <= min <= max and max >= 1"
            )
        for name, value, allowed in (("DB_CLIENT", self.db_client, DB_CLIENTS),
                                     ("STATE", self.state, STATES),
                                     ("ON_FREEZE", self.on_freeze, ON_FREEZE),
                                     ("BACKGROUND", self.background, BACKGROUND_MODES),
                                     ("SSL", self.ssl, SSL_MODES)):
            if value not in allowed:
                raise ValueError(f"PGSTAMPEDE_{name}={value!r}: expected one of {allowed}")

    def connect_kwargs(self) -> dict[str, object]:
        """Keyword arguments for asyncpg.connect / create_pool (besides the DSN)."""
        kwargs: dict[str, object] = {
            "timeout": self.acquire_timeout_s,
            "server_settings": {"application_name": self.app_name},
        }
        if self.statement_cache_size is not None:
            kwargs["statement_cache_size"] = self.statement_cache_size
        if self.ssl == "disable":
            kwargs["ssl"] = False
        return kwargs


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r}: expected an integer") from None


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r}: expected a number of seconds") from None
