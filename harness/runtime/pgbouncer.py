"""PgBouncer in front of a :class:`PostgresCluster`, configured from the scenario.

The ``app`` database is pooled with ``pool_mode``/``pool_size``; the monitor role is an
admin user so the collector can read SHOW POOLS/SHOW STATS on the ``pgbouncer`` console.
PgBouncer refuses to run as root, so it runs as the service user like PostgreSQL. The
file-descriptor limit is raised to fit ``max_client_conn``. From PgBouncer 1.21 on,
``max_prepared_statements`` is set, so that a driver's prepared statements (asyncpg's
statement cache) work through transaction mode; 1.18 has no such setting and they fail
(error kind ``db_other``).
"""

from __future__ import annotations

import re
import resource
from pathlib import Path

from harness.errors import ServiceError
from harness.runtime.managed import ManagedProcess, service_tempdir, service_user
from harness.runtime.pooler import PoolerProcess, find_binary, version_output
from harness.runtime.ports import LOOPBACK, free_port
from harness.runtime.postgres import APP_DB, APP_ROLE, MONITOR_ROLE, dsn
from harness.runtime.wait import sql_answers

PGBOUNCER_CANDIDATES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def find_pgbouncer() -> str:
    return find_binary("pgbouncer", PGBOUNCER_CANDIDATES, "install pgbouncer")


def pgbouncer_version(binary: str) -> str:
    """``1.18.0`` from ``PgBouncer 1.18.0`` (the first line of ``--version``), or ""."""
    first = version_output(binary).strip().splitlines()
    return first[0].removeprefix("PgBouncer ").strip() if first else ""


PREPARED_STATEMENTS_SINCE = (1, 21)
MAX_PREPARED_STATEMENTS = 200  # PgBouncer 1.24's default


def version_tuple(version: str) -> tuple[int, ...]:
    """``(1, 18, 0)`` from ``1.18.0``; () when it does not start with a number."""
    parts = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


def tracks_prepared_statements(version: str) -> bool:
    """PgBouncer 1.21 and later track protocol-level prepared statements in transaction
    mode (``max_prepared_statements``); 1.18 (Debian bookworm) does not."""
    return version_tuple(version) >= PREPARED_STATEMENTS_SINCE


def raise_fd_limit(needed: int) -> None:
    """Raise this process's soft RLIMIT_NOFILE (inherited by children) towards ``needed``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class PgBouncer(PoolerProcess):
    """Context manager: a running PgBouncer pooling ``app`` on ``upstream_port``."""

    name = "pgbouncer"

    def __init__(
        self,
        *,
        upstream_port: int,
        log_path: Path,
        workdir: Path | None = None,
        pool_mode: str = "transaction",
        pool_size: int = 20,
        max_client_conn: int = 2000,
        query_wait_timeout_s: float | None = None,
        idle_timeouts_s: tuple[float, float] = (0.0, 600.0),
        port: int | None = None,
        pid_dir: Path | None = None,
        ready_timeout_s: float = 30.0,
    ) -> None:
        self.workdir = workdir
        self.upstream_port = upstream_port
        self.log_path = log_path
        self.pool_mode = pool_mode
        self.pool_size = pool_size
        self.max_client_conn = max_client_conn
        self.query_wait_timeout_s = query_wait_timeout_s
        self.idle_timeouts_s = idle_timeouts_s  # client_idle_timeout, server_idle_timeout
        self.port = port or free_port()
        self.pid_dir = pid_dir
        self.ready_timeout_s = ready_timeout_s
        self.binary = find_pgbouncer()
        self.version = pgbouncer_version(self.binary)
        self._proc: ManagedProcess | None = None
        self.confdir = Path()

    @property
    def admin_dsn(self) -> str:
        return dsn(MONITOR_ROLE, self.port, "pgbouncer")

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise ServiceError("pgbouncer", "not started")
        return self._proc.pid

    def config_text(self) -> str:
        wait = self.query_wait_timeout_s
        lines = [
            "[databases]",
            f"{APP_DB} = host={LOOPBACK} port={self.upstream_port} dbname={APP_DB}",
            "",
            "[pgbouncer]",
            f"listen_addr = {LOOPBACK}",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {self.confdir / 'userlist.txt'}",
            f"admin_users = {MONITOR_ROLE}",
            f"stats_users = {MONITOR_ROLE}",
            f"pool_mode = {self.pool_mode}",
            f"default_pool_size = {self.pool_size}",
            "min_pool_size = 0",
            "reserve_pool_size = 0",
            f"max_client_conn = {self.max_client_conn}",
            f"query_wait_timeout = {0 if wait is None else int(round(wait))}",
            f"client_idle_timeout = {int(round(self.idle_timeouts_s[0]))}",
            f"server_idle_timeout = {int(round(self.idle_timeouts_s[1]))}",
            "server_login_retry = 1",
            "ignore_startup_parameters = extra_float_digits,options,statement_timeout",
            "log_connections = 0",
            "log_disconnections = 0",
            "log_pooler_errors = 1",
            "stats_period = 10",
        ]
        if tracks_prepared_statements(self.version):
            lines.append(f"max_prepared_statements = {MAX_PREPARED_STATEMENTS}")
        return "\n".join(lines) + "\n"

    def _ready(self) -> bool:
        return sql_answers(self.admin_dsn, "SHOW VERSION", autocommit=True) is not None

    def start(self) -> None:
        self.confdir = service_tempdir("pgstampede-pgbouncer-", self.workdir, self.pid_dir)
        (self.confdir / "userlist.txt").write_text(f'"{APP_ROLE}" ""\n"{MONITOR_ROLE}" ""\n')
        ini = self.confdir / "pgbouncer.ini"
        ini.write_text(self.config_text())
        raise_fd_limit(self.max_client_conn + 2 * self.pool_size + 256)
        self._proc = ManagedProcess(
            name="pgbouncer", argv=[self.binary, str(ini)], log_path=self.log_path,
            cwd=Path("/"), ready_check=self._ready, ready_timeout_s=self.ready_timeout_s,
            user=service_user(), pid_dir=self.pid_dir,
        )
        self._proc.start()

