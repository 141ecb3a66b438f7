"""The process runtime (the embedded default) behind the :class:`ServiceRuntime` seam."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.runtime.pgbouncer import PgBouncer
from harness.runtime.pgpool import Pgpool, PgpoolSettings
from harness.runtime.postgres import PostgresCluster


class ProcessServices:
    """PostgreSQL, PgBouncer and pgpool-II as local OS processes on 127.0.0.1."""

    name = "process"

    def postgres(self, *, max_connections: int, log_path: Path, keep: bool,
                 pid_dir: Path | None, settings: Mapping[str, str]) -> PostgresCluster:
        return PostgresCluster(max_connections=max_connections, log_path=log_path, keep=keep,
                               pid_dir=pid_dir, settings=settings)

    def pgbouncer(self, *, upstream_port: int, log_path: Path, pool_mode: str,
                  pool_size: int, max_client_conn: int, query_wait_timeout_s: float | None,
                  pid_dir: Path | None, idle_timeouts_s: tuple[float, float] = (0.0, 600.0),
                  image: str = "bookworm") -> PgBouncer:
        """This machine's pgbouncer whatever ``image`` (a trixie variant was refused up front
        when it is older than 1.21: registry.check_supported)."""
        return PgBouncer(upstream_port=upstream_port, log_path=log_path, pool_mode=pool_mode,
                         pool_size=pool_size, max_client_conn=max_client_conn,
                         query_wait_timeout_s=query_wait_timeout_s, pid_dir=pid_dir,
                         idle_timeouts_s=idle_timeouts_s)

    def pgpool(self, *, upstream_port: int, log_path: Path, settings: PgpoolSettings,
               pid_dir: Path | None) -> Pgpool:
        return Pgpool(upstream_port=upstream_port, log_path=log_path, settings=settings,
                      pid_dir=pid_dir)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def close(self) -> None:
        """Nothing to release: every process is stopped by its own context."""
