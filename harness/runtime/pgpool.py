"""pgpool-II in front of a :class:`PostgresCluster`, in connection-pooling mode.

pgpool-II is process-per-client: ``num_init_children`` child processes each serve one
client at a time and keep up to ``max_pool`` cached backend connections (one per
user/database pair), so the server never sees more than ``num_init_children × max_pool``
connections from it. A client beyond ``num_init_children`` is not refused: it waits in the
listen socket's backlog until a child is free (``reserved_connections = 0``, the default).

It runs in ``raw`` clustering mode with one backend (no replication, no load balancing, no
health checks, no failover), as the service user, in the foreground (``-n``). Its control
port (pcp) listens on a Unix socket in its own folder only; the collector reads the
children's state with ``pcp_proc_info`` using a password made for this run
(:attr:`Pgpool.pcp`). SIGINT is pgpool's fast shutdown (SIGTERM would wait for clients).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
from dataclasses import dataclass
from pathlib import Path

from harness.runtime.managed import ManagedProcess, chown_for_service, service_tempdir, service_user
from harness.runtime.pooler import PoolerProcess, find_binary, version_output
from harness.runtime.ports import LOOPBACK, free_port
from harness.runtime.postgres import APP_DB, MONITOR_ROLE, dsn
from harness.runtime.stopping import StopPolicy
from harness.runtime.wait import sql_answers

PGPOOL_CANDIDATES = ("/usr/sbin/pgpool", "/usr/bin/pgpool")
PCP_USER = "pgstampede_pcp"


def find_pgpool() -> str:
    return find_binary("pgpool", PGPOOL_CANDIDATES, "apt-get install pgpool2")


def pgpool_version(binary: str) -> str:
    """``4.3.5`` from ``pgpool-II version 4.3.5 (tamahomeboshi)``, or ""."""
    return parse_pgpool_version(version_output(binary))


def parse_pgpool_version(text: str) -> str:
    """``4.3.5`` from ``pgpool-II version 4.3.5 (tamahomeboshi)``, or ""."""
    words = text.split()
    return words[words.index("version") + 1] if "version" in words[:-1] else ""


@dataclass(frozen=True)
class PgpoolSettings:
    """The pgpool.conf knobs a scenario sets (``[pooler.pgpool]``); times in seconds,
    0 = never."""

    num_init_children: int = 32
    max_pool: int = 4
    child_life_time_s: int = 300
    connection_life_time_s: int = 0
    client_idle_limit_s: int = 0

    @property
    def max_server_connections(self) -> int:
        """The most backend connections pgpool can hold open."""
        return self.num_init_children * self.max_pool


@dataclass(frozen=True)
class PcpAccess:
    """How to reach pgpool's control port: Unix socket folder (or ``host``, an address: the
    docker runtime's pgpool listens for pcp on 127.0.0.1), port, user, password file."""

    socket_dir: Path
    port: int
    user: str
    passfile: Path
    host: str = ""

    @property
    def where(self) -> str:
        """pcp's ``-h``: the address, else the socket folder."""
        return self.host or str(self.socket_dir)


def config_text(settings: PgpoolSettings, *, port: int, pcp_port: int, upstream_port: int,
                confdir: Path) -> str:
    """pgpool.conf for one backend on ``upstream_port`` (pure)."""
    lines = [
        "backend_clustering_mode = 'raw'",
        f"listen_addresses = '{LOOPBACK}'",
        f"port = {port}",
        f"socket_dir = '{confdir}'",
        "pcp_listen_addresses = ''",
        f"pcp_port = {pcp_port}",
        f"pcp_socket_dir = '{confdir}'",
        f"backend_hostname0 = '{LOOPBACK}'",
        f"backend_port0 = {upstream_port}",
        "backend_weight0 = 1",
        "backend_flag0 = 'DISALLOW_TO_FAILOVER'",
        f"num_init_children = {settings.num_init_children}",
        f"max_pool = {settings.max_pool}",
        f"child_life_time = {settings.child_life_time_s}",
        f"connection_life_time = {settings.connection_life_time_s}",
        f"client_idle_limit = {settings.client_idle_limit_s}",
        "reserved_connections = 0",
        "connection_cache = on",
        "load_balance_mode = off",
        "health_check_period = 0",
        "sr_check_period = 0",
        "failover_on_backend_error = off",
        "enable_pool_hba = off",
        f"pid_file_name = '{confdir / 'pgpool.pid'}'",
        f"logdir = '{confdir}'",
        "log_destination = 'stderr'",
        "log_line_prefix = '%t: pid %p: '",
        "log_connections = off",
    ]
    return "\n".join(lines) + "\n"


def pcp_conf(password: str) -> str:
    """pcp.conf: the pcp user with the md5 of ``password``."""
    digest = hashlib.md5(password.encode(), usedforsecurity=False).hexdigest()
    return f"{PCP_USER}:{digest}\n"


def pcppass(password: str) -> str:
    """The client's PCPPASSFILE line for ``password``."""
    return f"*:*:{PCP_USER}:{password}\n"


class Pgpool(PoolerProcess):
    """Context manager: a running pgpool-II pooling ``app`` on ``upstream_port``."""

    name = "pgpool"

    def __init__(
        self,
        *,
        upstream_port: int,
        log_path: Path,
        settings: PgpoolSettings = PgpoolSettings(),
        workdir: Path | None = None,
        port: int | None = None,
        pid_dir: Path | None = None,
        ready_timeout_s: float = 30.0,
    ) -> None:
        self.upstream_port = upstream_port
        self.log_path = log_path
        self.settings = settings
        self.workdir = workdir
        self.port = port or free_port()
        self.pcp_port = free_port()
        self.pid_dir = pid_dir
        self.ready_timeout_s = ready_timeout_s
        self.binary = find_pgpool()
        self.version = pgpool_version(self.binary)
        self.confdir = Path()
        self._proc: ManagedProcess | None = None

    @property
    def admin_dsn(self) -> str:
        """SHOW POOL_* through the pooler port (it takes one of the children while open)."""
        return dsn(MONITOR_ROLE, self.port, APP_DB)

    @property
    def pcp(self) -> PcpAccess:
        return PcpAccess(self.confdir, self.pcp_port, PCP_USER, self.confdir / "pcppass")

    def _ready(self) -> bool:
        return sql_answers(self.app_dsn, "SELECT 1") is not None

    def _write_config(self) -> Path:
        password = secrets.token_hex(16)
        files = {
            "pgpool.conf": config_text(self.settings, port=self.port, pcp_port=self.pcp_port,
                                       upstream_port=self.upstream_port, confdir=self.confdir),
            "pcp.conf": pcp_conf(password),
            "pool_hba.conf": "",
            "pcppass": pcppass(password),
        }
        for name, text in files.items():
            path = self.confdir / name
            path.write_text(text)
            path.chmod(0o600)
            chown_for_service(path)
        return self.confdir / "pgpool.conf"

    def start(self) -> None:
        self.confdir = service_tempdir("pgstampede-pgpool-", self.workdir, self.pid_dir)
        conf = self._write_config()
        argv = [self.binary, "-n", "-f", str(conf), "-F", str(self.confdir / "pcp.conf"),
                "-a", str(self.confdir / "pool_hba.conf")]
        self._proc = ManagedProcess(
            name="pgpool", argv=argv, log_path=self.log_path, cwd=Path("/"),
            ready_check=self._ready, ready_timeout_s=self.ready_timeout_s,
            user=service_user(), stop=StopPolicy(signal.SIGINT), pid_dir=self.pid_dir,
            env={**os.environ, "TZ": "UTC"},  # its log's timestamps carry no time zone
        )
        self._proc.start()
