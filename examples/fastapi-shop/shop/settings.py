"""Configuration from the environment, read once when the app starts (not at import)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass


def async_database_url(url: str) -> str:
    """Hosting platforms hand out ``postgres://`` or ``postgresql://`` URLs; SQLAlchemy's
    async engine wants the driver named: ``postgresql+asyncpg://``."""
    return re.sub(r"^postgres(ql)?://", "postgresql+asyncpg://", url)


@dataclass(frozen=True)
class Settings:
    database_url: str
    pool_size: int
    pool_timeout_s: float
    behind_pgbouncer: bool
    email_delay_s: float

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=async_database_url(os.environ["DATABASE_URL"]),
            pool_size=int(os.environ.get("DB_POOL_SIZE", "5")),
            pool_timeout_s=float(os.environ.get("DB_POOL_TIMEOUT", "30")),
            behind_pgbouncer=os.environ.get("DB_BEHIND_PGBOUNCER", "") in ("1", "true", "yes"),
            email_delay_s=int(os.environ.get("EMAIL_DELAY_MS", "200")) / 1000,
        )
