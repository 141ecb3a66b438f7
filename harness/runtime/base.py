"""The runtime seam: how services are brought up (local processes, or Docker containers).

A runtime hands out context managers for the database and the pooler with the same small
interfaces whatever runs them, so the orchestrator, the collectors and the analysis never
know which runtime was used. The runtime knows no scenario and no user app: the targets of
a variant are assembled above it (:mod:`harness.services.runtimes` adds ``target`` to each
runtime and registers it in ``RUNTIMES``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from harness.runtime.pgpool import PcpAccess, PgpoolSettings


class DatabaseService(Protocol):
    """A running PostgreSQL: where to connect, what it is, which host processes are its."""

    port: int
    version: str
    log_path: Path

    @property
    def app_dsn(self) -> str: ...

    @property
    def monitor_dsn(self) -> str: ...

    def pids(self) -> list[int]:
        """Root host pids (the host collector adds their descendants)."""
        ...


class PoolerService(Protocol):
    """A running pooler (PgBouncer or pgpool-II)."""

    port: int
    version: str

    @property
    def app_dsn(self) -> str: ...

    @property
    def admin_dsn(self) -> str: ...

    def pids(self) -> list[int]: ...


class PgpoolService(PoolerService, Protocol):
    """A running pgpool-II: a pooler whose control port (pcp) the collector reads."""

    @property
    def pcp(self) -> PcpAccess: ...


class ServiceRuntime(Protocol):
    """Brings up the database and the pooler of one variant run."""

    name: str

    def postgres(self, *, max_connections: int, log_path: Path, keep: bool,
                 pid_dir: Path | None, settings: Mapping[str, str]
                 ) -> contextlib.AbstractContextManager[DatabaseService]: ...

    def pgbouncer(self, *, upstream_port: int, log_path: Path, pool_mode: str,
                  pool_size: int, max_client_conn: int, query_wait_timeout_s: float | None,
                  pid_dir: Path | None, idle_timeouts_s: tuple[float, float] = (0.0, 600.0),
                  image: str = "bookworm") -> contextlib.AbstractContextManager[PoolerService]:
        """PgBouncer; ``idle_timeouts_s`` = (client_idle_timeout, server_idle_timeout);
        ``image``: ``[pooler.pgbouncer] image`` (bookworm's 1.18 or trixie's 1.24)."""
        ...

    def pgpool(self, *, upstream_port: int, log_path: Path, settings: PgpoolSettings,
               pid_dir: Path | None) -> contextlib.AbstractContextManager[PgpoolService]: ...

    def describe(self) -> dict[str, Any]:
        """What the manifest records about this runtime (e.g. image ids)."""
        ...

    def close(self) -> None:
        """Release what the runtime holds (an engine client); built once per run, closed
        at its end (``contextlib.closing``)."""
        ...
