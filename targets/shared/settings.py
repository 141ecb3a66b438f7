"""Target configuration, read from the environment when a target starts (never at import).

The variables, their defaults (the scenario's) and their checks are the harness's:
``harness.results.target_env`` (docs/internals.md, "Targets: endpoints and environment");
:class:`TargetSettings` is how the targets use them (a statement cache size as an int, the
instance id defaulting to the process id, asyncpg's keyword arguments).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from harness.results.target_env import DEFAULTS, TargetEnv


@dataclass(frozen=True)
class TargetSettings:
    """Everything a target needs to reach the database."""

    dsn: str
    pool_min: int = DEFAULTS.pool_min
    pool_max: int = DEFAULTS.pool_max
    statement_cache_size: int | None = None
    acquire_timeout_s: float = DEFAULTS.acquire_timeout_s
    background_delay_ms: int = DEFAULTS.background_delay_ms
    application_name: str = DEFAULTS.application_name
    db_client: str = DEFAULTS.db_client
    instance: str = ""
    state: str = DEFAULTS.state
    on_freeze: str = DEFAULTS.on_freeze
    background: str = DEFAULTS.background
    ssl: str = DEFAULTS.ssl

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TargetSettings:
        """The settings in ``env`` (ValueError naming the variable when one is wrong)."""
        raw = TargetEnv.from_env(env)
        return cls(
            dsn=raw.dsn, pool_min=raw.pool_min, pool_max=raw.pool_max,
            statement_cache_size=int(raw.statement_cache_size)
            if raw.statement_cache_size else None,
            acquire_timeout_s=raw.acquire_timeout_s, background_delay_ms=raw.background_delay_ms,
            application_name=raw.application_name, db_client=raw.db_client,
            instance=raw.instance or str(os.getpid()), state=raw.state,
            on_freeze=raw.on_freeze, background=raw.background, ssl=raw.ssl)

    def connect_kwargs(self) -> dict[str, object]:
        """Keyword arguments for asyncpg.connect / create_pool (besides the DSN)."""
        kwargs: dict[str, object] = {
            "timeout": self.acquire_timeout_s,
            "server_settings": {"application_name": self.application_name},
        }
        if self.statement_cache_size is not None:
            kwargs["statement_cache_size"] = self.statement_cache_size
        if self.ssl == "disable":
            kwargs["ssl"] = False
        return kwargs
