"""The environment of the built-in targets: every ``PGSTAMPEDE_*`` variable they read, its
default and its check, in one place.

The harness writes it — the persistent target's process (``harness.services``), the
platform's instances (``harness.platform.config.PlatformConfig.handler_env``) — and the
targets read it when they start (``targets/shared/settings.py``). The defaults are the
scenario's (``[target.persistent]`` and ``[target.serverless]`` take theirs from
:data:`DEFAULTS`), so a target started by hand behaves as a variant that sets nothing.
Standard library only: every target and instance imports it.

    PGSTAMPEDE_DSN                   postgresql://app@127.0.0.1:PORT/app (required)
    PGSTAMPEDE_POOL_MIN              pool floor (persistent target)
    PGSTAMPEDE_POOL_MAX              pool ceiling (persistent; serverless db_client=pool)
    PGSTAMPEDE_STATEMENT_CACHE_SIZE  "" = the driver's default; else an integer (0 behind
                                     PgBouncer transaction mode)
    PGSTAMPEDE_ACQUIRE_TIMEOUT       seconds to wait for a pool connection or a connect
    PGSTAMPEDE_BACKGROUND_DELAY_MS   delay of the work /background schedules
    PGSTAMPEDE_APP_NAME              application_name of the target's connections
    PGSTAMPEDE_DB_CLIENT             serverless: "connection" or "pool"
    PGSTAMPEDE_INSTANCE              serverless: the platform's instance id
    PGSTAMPEDE_STATE                 where /counter counts: "memory" (each process its own) or
                                     "postgres" (one row of the counters table)
    PGSTAMPEDE_ON_FREEZE             serverless: "keep" or "drain" (close the instance's idle
                                     connections before it is frozen)
    PGSTAMPEDE_BACKGROUND            serverless: "after_response", "wait_until" or "queue"
    PGSTAMPEDE_SSL                   "" = the driver's default (the DSN's sslmode, else
                                     "prefer"); "disable": plain TCP (the servers the harness
                                     starts have no TLS)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

DB_CLIENTS = ("connection", "pool")
STATES = ("memory", "postgres")
ON_FREEZE = ("keep", "drain")
BACKGROUND_MODES = ("after_response", "wait_until", "queue")
SSL_MODES = ("", "disable")


@dataclass(frozen=True)
class TargetEnv:
    """The settings of a built-in target, as its ``PGSTAMPEDE_*`` variables carry them."""

    dsn: str = ""
    pool_min: int = 2
    pool_max: int = 20
    statement_cache_size: str = ""
    acquire_timeout_s: float = 10.0
    background_delay_ms: int = 200
    application_name: str = "pgstampede"
    db_client: str = "connection"
    instance: str = ""
    state: str = "memory"
    on_freeze: str = "keep"
    background: str = "after_response"
    ssl: str = ""

    def to_env(self, *names: str) -> dict[str, str]:
        """The variables of the fields ``names`` (all when none is named)."""
        fields = names or tuple(VARIABLES)
        return {VARIABLES[name]: str(getattr(self, name)) for name in fields}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TargetEnv:
        """The settings in ``env``, defaults for what is unset or empty; ValueError naming the
        variable for a value that is not allowed."""
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = env.get(VARIABLES[field.name], "").strip()
            if raw:
                values[field.name] = _parse(VARIABLES[field.name], raw, field.type)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        if not self.dsn:
            raise ValueError("PGSTAMPEDE_DSN is not set: expected postgresql://user@host:port/db")
        if self.pool_min < 0 or self.pool_max < 1 or self.pool_min > self.pool_max:
            raise ValueError(
                f"PGSTAMPEDE_POOL_MIN={self.pool_min} / PGSTAMPEDE_POOL_MAX={self.pool_max}: "
                "expected 0 <= min <= max and max >= 1")
        if self.statement_cache_size and not self.statement_cache_size.isdigit():
            raise ValueError(f"PGSTAMPEDE_STATEMENT_CACHE_SIZE={self.statement_cache_size!r}: "
                             "expected an integer")
        for name, allowed in (("db_client", DB_CLIENTS), ("state", STATES),
                              ("on_freeze", ON_FREEZE), ("background", BACKGROUND_MODES),
                              ("ssl", SSL_MODES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{VARIABLES[name]}={getattr(self, name)!r}: expected one of "
                                 f"{allowed}")


VARIABLES: dict[str, str] = {
    "dsn": "PGSTAMPEDE_DSN",
    "pool_min": "PGSTAMPEDE_POOL_MIN",
    "pool_max": "PGSTAMPEDE_POOL_MAX",
    "statement_cache_size": "PGSTAMPEDE_STATEMENT_CACHE_SIZE",
    "acquire_timeout_s": "PGSTAMPEDE_ACQUIRE_TIMEOUT",
    "background_delay_ms": "PGSTAMPEDE_BACKGROUND_DELAY_MS",
    "application_name": "PGSTAMPEDE_APP_NAME",
    "db_client": "PGSTAMPEDE_DB_CLIENT",
    "instance": "PGSTAMPEDE_INSTANCE",
    "state": "PGSTAMPEDE_STATE",
    "on_freeze": "PGSTAMPEDE_ON_FREEZE",
    "background": "PGSTAMPEDE_BACKGROUND",
    "ssl": "PGSTAMPEDE_SSL",
}
"""Field of :class:`TargetEnv` -> its variable."""

DEFAULTS = TargetEnv()
"""What a target that is told nothing uses: the scenario's defaults."""


def _parse(variable: str, raw: str, kind: object) -> object:
    if kind in (int, "int"):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{variable}={raw!r}: expected an integer") from None
    if kind in (float, "float"):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{variable}={raw!r}: expected a number of seconds") from None
    return raw
