"""A private, temporary PostgreSQL cluster on 127.0.0.1 for one variant run.

initdb (as the ``postgres`` OS user when the harness runs as root), start with the
scenario's ``max_connections`` and connection logging, create the two roles (``app``, not a
superuser, for targets; ``pgstampede_monitor``, the bootstrap superuser, for collectors so
they keep a reserved slot when the database is exhausted) and the seeded tables, and remove
everything on exit unless ``keep``. Durability is off (fsync, synchronous_commit,
full_page_writes) so that the disk does not dominate; the report says so.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import psycopg

from harness.errors import ServiceError
from harness.runtime.managed import (
    ManagedProcess,
    Resource,
    remove_tempdir,
    service_tempdir,
    service_user,
)
from harness.runtime.ports import LOOPBACK, free_port
from harness.runtime.stopping import StopPolicy
from harness.runtime.wait import sql_answers

MONITOR_ROLE = "pgstampede_monitor"
APP_ROLE = "app"
APP_DB = "app"

DEFAULT_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
                    "/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/14/bin")

DURABILITY_OFF = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
# Every server log line: time (ms, UTC), backend pid, SQLSTATE (harness.collect.pg_log reads it)
LOG_LINE_PREFIX = "%m [%p] %e "

SCHEMA_SQL = (Path(__file__).with_name("schema.sql")).read_text(encoding="utf-8")
"""The demo tables, seeded (``schema.sql``: the process runtime and the postgres image)."""
DEMO_TABLES: tuple[str, ...] = tuple(re.findall(r"^CREATE TABLE (\w+)", SCHEMA_SQL, re.M))
"""Every table ``schema.sql`` creates (dropped before an app's own schema runs)."""


def server_settings(max_connections: int, settings: Mapping[str, str]) -> dict[str, str]:
    """The PostgreSQL settings of a variant run, whatever runs the server (process or
    container): loopback only, connection logging, UTC log times, durability off, then the
    scenario's own ``settings``."""
    return {
        "listen_addresses": LOOPBACK,
        "unix_socket_directories": "",
        "max_connections": str(max_connections),
        "log_connections": "on",
        "log_disconnections": "on",
        "log_line_prefix": LOG_LINE_PREFIX,
        "log_timezone": "UTC",
        "logging_collector": "off",
        "shared_buffers": "64MB",
        **DURABILITY_OFF,
        **settings,
    }


def find_bin_dir(explicit: Path | None = None) -> Path:
    """The folder holding ``initdb`` and ``postgres``."""
    candidates = [explicit] if explicit else [Path(p) for p in DEFAULT_BIN_DIRS]
    for cand in candidates:
        if cand is not None and (cand / "initdb").exists() and (cand / "postgres").exists():
            return cand
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServiceError(
        "postgres", "no PostgreSQL server binaries found (run `make setup`, or install postgresql)"
    )


def dsn(user: str, port: int, dbname: str) -> str:
    return f"postgresql://{user}@{LOOPBACK}:{port}/{dbname}"


class PostgresCluster(Resource):
    """Context manager: a running, seeded cluster; removed on exit unless ``keep``.

    The data folder is a new temp folder under ``workdir`` (or the system temp folder when
    the service user cannot reach ``workdir``); ``tempdir`` names it once started.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        log_path: Path,
        workdir: Path | None = None,
        port: int | None = None,
        settings: Mapping[str, str] | None = None,
        bin_dir: Path | None = None,
        keep: bool = False,
        startup_timeout_s: float = 60.0,
        pid_dir: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.max_connections = max_connections
        self.log_path = log_path
        self.port = port or free_port()
        self.settings = dict(settings or {})
        self.bin_dir = find_bin_dir(bin_dir)
        self.keep = keep
        self.startup_timeout_s = startup_timeout_s
        self.pid_dir = pid_dir
        self.data_dir = Path()
        self._proc: ManagedProcess | None = None
        self.tempdir: Path | None = None
        self.version = ""

    @property
    def app_dsn(self) -> str:
        return dsn(APP_ROLE, self.port, APP_DB)

    @property
    def monitor_dsn(self) -> str:
        return dsn(MONITOR_ROLE, self.port, APP_DB)

    @property
    def postmaster_pid(self) -> int:
        if self._proc is None:
            raise ServiceError("postgres", "not started")
        return self._proc.pid

    def pids(self) -> list[int]:
        """The root process (the postmaster); collectors find its backends themselves."""
        return [] if self._proc is None or self._proc.poll() is not None else [self._proc.pid]

    def server_settings(self) -> dict[str, str]:
        return server_settings(self.max_connections, self.settings)

    def _initdb(self) -> None:
        self.tempdir = service_tempdir("pgstampede-pg-", self.workdir,
                                       None if self.keep else self.pid_dir)
        self.data_dir = self.tempdir / "pgdata"
        argv = [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", MONITOR_ROLE,
                "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]
        result = subprocess.run(argv, capture_output=True, text=True, user=service_user(),
                                cwd="/", check=False)
        if result.returncode != 0:
            tail = " | ".join(result.stderr.strip().splitlines()[-3:])
            raise ServiceError("postgres", f"initdb failed: {tail}")

    def _ready(self) -> bool:
        return sql_answers(dsn(MONITOR_ROLE, self.port, "postgres"), "SELECT 1") is not None

    def _setup(self) -> None:
        with psycopg.connect(dsn(MONITOR_ROLE, self.port, "postgres"), autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            self.version = str(row[0]) if row else ""
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN")
            conn.execute(f"CREATE DATABASE {APP_DB} OWNER {APP_ROLE}")
        with psycopg.connect(self.app_dsn, autocommit=True) as conn:
            conn.execute(SCHEMA_SQL)

    def start(self) -> None:
        self._initdb()
        argv = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for key, value in self.server_settings().items():
            argv += ["-c", f"{key}={value}"]
        self._proc = ManagedProcess(
            name="postgres", argv=argv, log_path=self.log_path, cwd=Path("/"),
            ready_check=self._ready, ready_timeout_s=self.startup_timeout_s,
            user=service_user(), stop=StopPolicy(signal.SIGINT, grace_s=10.0),
            pid_dir=self.pid_dir,
        )
        self._proc.start()
        try:
            self._setup()
        except psycopg.Error as exc:
            raise ServiceError("postgres", f"setup failed: {exc}".strip(),
                               str(self.log_path)) from exc

    def restart(self, downtime_s: float = 0.0) -> None:
        """Fast shutdown (every backend ends), ``downtime_s`` without a server, start again
        on the same port and data folder. Blocking: call it from a thread."""
        if self._proc is None:
            raise ServiceError("postgres", "not started")
        self._proc.stop()
        time.sleep(downtime_s)
        self._proc.start()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
        if not self.keep and self.tempdir is not None:
            remove_tempdir(self.tempdir, self.pid_dir)

