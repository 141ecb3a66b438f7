"""What every target starter shares: the context it starts in, what it hands back, and the
``PGSTAMPEDE_*`` environment of the built-in targets.

A target starter is a context manager factory ``(TargetContext) -> RunningTarget``; the
runtimes (:mod:`harness.services.runtimes`) pick one by the variant's target spec.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.collect.base import Collector
from harness.results.target_env import TargetEnv
from harness.scenario import PgBouncerSpec, Variant

# PostgreSQL, PgBouncer and pgpool-II as the harness starts them have no TLS: the built-in
# targets connect without asking for it (asyncpg's default "prefer" builds an SSL context and
# makes a TLS request that the server refuses, before every connection: CPU and memory that a
# burst of cold starts pays a thousand times). Users' apps get their DSN unchanged.
SSL_OF_OUR_SERVERS = "disable"


@dataclass(frozen=True)
class TargetContext:
    """What a target needs to start: where the database is and where to put its files."""

    variant: Variant
    dsn: str
    logs: Path
    workdir: Path
    pid_dir: Path | None = None
    direct_dsn: str = ""   # the app role straight to PostgreSQL (bypassing any pooler)
    monitor_dsn: str = ""  # the superuser monitor role (schema set-up, checks)
    say: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr))

    @property
    def statement_cache_size(self) -> str:
        """'0' behind PgBouncer transaction mode (unless the fix is off), else the default."""
        pooler = self.variant.pooler
        behind_tx_pooler = isinstance(pooler, PgBouncerSpec) and pooler.pool_mode != "session"
        return "0" if behind_tx_pooler and self.variant.prepared_statement_fix else ""


@dataclass
class RunningTarget:
    """A started target: its URL, its processes by role, and its extra collectors;
    ``end_of_run``: what the platform does when the run is over (serverless: every instance
    killed now, work still frozen in them lost), None when nothing is done before the stop."""

    url: str
    roles: dict[str, Callable[[], list[int]]] = field(default_factory=dict)
    collectors: list[Collector] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    end_of_run: Callable[[], None] | None = None


class TargetStarter(Protocol):
    def __call__(self, ctx: TargetContext) -> contextlib.AbstractContextManager[RunningTarget]:
        ...


CONNECTION = ("dsn", "statement_cache_size", "application_name", "ssl")
"""What every process of a target gets: how to reach the database."""


def target_env(ctx: TargetContext, **settings: Any) -> dict[str, str]:
    """The harness's environment plus the built-in targets' ``PGSTAMPEDE_*`` variables
    (``harness.results.target_env``): how to connect, then ``settings`` (other fields of
    ``TargetEnv``)."""
    values = TargetEnv(dsn=ctx.dsn, statement_cache_size=ctx.statement_cache_size,
                       application_name=f"pgstampede-{ctx.variant.target.kind}",
                       ssl=SSL_OF_OUR_SERVERS, **settings)
    env = dict(os.environ)
    env.update(values.to_env(*CONNECTION, *settings))
    env["PYTHONUNBUFFERED"] = "1"
    return env
