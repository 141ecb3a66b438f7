"""PostgreSQL, PgBouncer and pgpool-II as containers: the docker runtime's services.

Same interfaces and the same server as the process runtime: the cluster in the
``pgstampede/postgres`` image was initialised and seeded at build time (compose/postgres),
the server runs with the settings of ``harness.runtime.postgres.server_settings`` (the
process runtime's), its log is copied to ``log_path``; PgBouncer's
``pgbouncer.ini`` is written by the image's entrypoint from the same values as
``PgBouncer.config_text`` (``max_prepared_statements`` too, which only the
``pgstampede/pgbouncer-trixie`` image's PgBouncer 1.24 has). Both listen on 127.0.0.1 (host
network) on a free port.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import docker
from docker.errors import DockerException

from harness.runtime.docker_container import ContainerSpec, ServiceContainer
from harness.runtime.managed import remove_tempdir, service_tempdir
from harness.runtime.pgbouncer import MAX_PREPARED_STATEMENTS
from harness.runtime.pgpool import (
    PCP_USER,
    PcpAccess,
    PgpoolSettings,
    config_text,
    parse_pgpool_version,
    pcp_conf,
    pcppass,
)
from harness.runtime.ports import LOOPBACK, free_port
from harness.runtime.postgres import APP_DB, APP_ROLE, MONITOR_ROLE, dsn, server_settings
from harness.runtime.wait import sql_answers


class _ContainerService:
    """What the services share: a container on a free port of 127.0.0.1, the app role's DSN
    to it, its processes, and entering and leaving it as a context manager."""

    port: int
    container: ServiceContainer

    @property
    def app_dsn(self) -> str:
        return dsn(APP_ROLE, self.port, APP_DB)

    def pids(self) -> list[int]:
        return self.container.pids()

    def __enter__(self) -> Self:
        self.container.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.container.__exit__(exc_type, exc, tb)


class PostgresContainer(_ContainerService):
    """Context manager: PostgreSQL in a container, ready and seeded; removed on exit."""

    def __init__(self, client: docker.DockerClient, *, image: str, name: str,
                 labels: Mapping[str, str], max_connections: int, log_path: Path,
                 settings: Mapping[str, str], ready_timeout_s: float = 60.0) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.version = ""
        self.max_connections = max_connections
        options = [arg for key, value in server_settings(max_connections, settings).items()
                   for arg in ("-c", f"{key}={value}")]
        spec = ContainerSpec(service="postgres", image=image, name=name, labels=labels,
                             log_path=log_path, command=options,
                             environment={"PGPORT": str(self.port)}, shm_size="256m")
        self.container = ServiceContainer(client, spec, self._ready, ready_timeout_s)

    @property
    def monitor_dsn(self) -> str:
        return dsn(MONITOR_ROLE, self.port, APP_DB)

    def _ready(self) -> bool:
        """Ready once seeded (its ``items`` answer); reads the server's version then."""
        row = sql_answers(self.monitor_dsn,
                          "SELECT current_setting('server_version') FROM items LIMIT 1")
        if row is None:
            return False
        self.version = str(row[0]) if row else ""
        return True


class PgBouncerContainer(_ContainerService):
    """Context manager: PgBouncer in a container in front of ``upstream_port``."""

    def __init__(self, client: docker.DockerClient, *, image: str, name: str,
                 labels: Mapping[str, str], upstream_port: int, log_path: Path,
                 pool_mode: str, pool_size: int, max_client_conn: int,
                 query_wait_timeout_s: float | None, ready_timeout_s: float = 30.0,
                 idle_timeouts_s: tuple[float, float] = (0.0, 600.0)) -> None:
        self.port = free_port()
        self.version = ""
        wait = 0 if query_wait_timeout_s is None else int(round(query_wait_timeout_s))
        env = {"PGBOUNCER_PORT": str(self.port), "UPSTREAM_PORT": str(upstream_port),
               "POOL_MODE": pool_mode, "POOL_SIZE": str(pool_size),
               "MAX_CLIENT_CONN": str(max_client_conn), "QUERY_WAIT_TIMEOUT": str(wait),
               "CLIENT_IDLE_TIMEOUT": str(int(round(idle_timeouts_s[0]))),
               "SERVER_IDLE_TIMEOUT": str(int(round(idle_timeouts_s[1]))),
               # written by the entrypoint only for a PgBouncer of 1.21 or later (trixie's)
               "MAX_PREPARED_STATEMENTS": str(MAX_PREPARED_STATEMENTS)}
        spec = ContainerSpec(service="pgbouncer", image=image, name=name, labels=labels,
                             log_path=log_path, environment=env,
                             nofile=max(8192, max_client_conn + 2 * pool_size + 256))
        self.container = ServiceContainer(client, spec, self._ready, ready_timeout_s)

    @property
    def admin_dsn(self) -> str:
        return dsn(MONITOR_ROLE, self.port, "pgbouncer")

    def _ready(self) -> bool:
        row = sql_answers(self.admin_dsn, "SHOW VERSION", autocommit=True)
        if row is None:
            return False
        self.version = str(row[0]).removeprefix("PgBouncer ").strip() if row else ""
        return True


class PgpoolContainer(_ContainerService):
    """Context manager: pgpool-II in a container in front of ``upstream_port``, with the
    process runtime's pgpool.conf (:func:`config_text`) except that pcp listens on 127.0.0.1
    (the collector's ``pcp_proc_info`` runs on the host); its password file is in a host temp
    folder removed on exit."""

    def __init__(self, client: docker.DockerClient, *, image: str, name: str,
                 labels: Mapping[str, str], upstream_port: int, log_path: Path,
                 settings: PgpoolSettings, pid_dir: Path | None = None,
                 ready_timeout_s: float = 60.0) -> None:
        self.port = free_port()
        self.pcp_port = free_port()
        self.version = ""
        self.pid_dir = pid_dir
        self.hostdir = service_tempdir("pgstampede-pgpool-", None, pid_dir)
        password = secrets.token_hex(16)
        passfile = self.hostdir / "pcppass"
        passfile.write_text(pcppass(password))
        passfile.chmod(0o600)
        self.pcp = PcpAccess(self.hostdir, self.pcp_port, PCP_USER, passfile, host=LOOPBACK)
        conf = config_text(settings, port=self.port, pcp_port=self.pcp_port,
                           upstream_port=upstream_port, confdir=Path("/tmp/pgpool"))
        conf = conf.replace("pcp_listen_addresses = ''", f"pcp_listen_addresses = '{LOOPBACK}'")
        spec = ContainerSpec(service="pgpool", image=image, name=name, labels=labels,
                             log_path=log_path,
                             environment={"PGPOOL_CONF": conf, "PCP_CONF": pcp_conf(password)},
                             nofile=max(8192, 4 * settings.num_init_children + 256))
        self.container = ServiceContainer(client, spec, self._ready, ready_timeout_s)

    @property
    def admin_dsn(self) -> str:
        return dsn(MONITOR_ROLE, self.port, APP_DB)

    def _ready(self) -> bool:
        return sql_answers(self.app_dsn, "SELECT 1") is not None

    def _read_version(self) -> str:
        """``pgpool --version`` in the container (``SHOW pool_version`` answers no row to an
        extended-protocol client)."""
        try:
            code, out = self.container.container.exec_run(["pgpool", "--version"])
        except DockerException:
            return ""
        return parse_pgpool_version(out.decode(errors="replace")) if code == 0 else ""

    def __enter__(self) -> Self:
        try:
            super().__enter__()
            self.version = self._read_version()
        except BaseException:
            remove_tempdir(self.hostdir, self.pid_dir)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
        finally:
            remove_tempdir(self.hostdir, self.pid_dir)
