"""What runs for a variant: bringing it up through the runtime, or watching an external one.

``bring_up`` enters PostgreSQL, PgBouncer (when the variant has it) and the target on an
ExitStack, so they stop in reverse order whatever happens.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from harness.collect.base import Collector
from harness.collect.pgpool import PgpoolCollector
from harness.collect.pooler_log import PoolerLogCollector
from harness.errors import ServiceError
from harness.results.redact import redact_text
from harness.runtime.pgpool import PgpoolSettings
from harness.runtime.pinning import CoreSplit, available_cores, split_cores
from harness.runtime.postgres import DURABILITY_OFF
from harness.scenario import ExternalSpec, NoPooler, PgBouncerSpec, PgpoolSpec, Variant
from harness.services.faults import FaultTargets
from harness.services.runtimes import Runtime
from harness.services.target import RunningTarget, TargetContext


@dataclass
class Services:
    """What is running for a variant: where to watch it and which processes are whose."""

    monitor_dsn: str
    roles: dict[str, Callable[[], list[int]]]
    pg_log: Path | None
    owns_database: bool
    pooler_admin_dsn: str | None = None
    target: RunningTarget = dataclasses.field(default_factory=lambda: RunningTarget(url=""))
    faults: FaultTargets | None = None
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    max_connections: int = 0
    pin: CoreSplit | None = None  # [host] pin: the load's cores and the system's
    pooler_collectors: list[Collector] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class Where:
    """Where a variant run keeps its files."""

    workdir: Path
    pid_dir: Path
    keep: bool

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"


def bring_up(runtime: Runtime, variant: Variant, where: Where,
             stack: contextlib.ExitStack) -> Services:
    """PostgreSQL, PgBouncer (when the variant has it) and the target, on ``stack``."""
    logs = where.logs
    pg = stack.enter_context(runtime.postgres(
        max_connections=variant.database.max_connections, log_path=logs / "postgres.log",
        keep=where.keep, pid_dir=where.pid_dir, settings=variant.database.server_settings()))
    services = Services(monitor_dsn=pg.monitor_dsn, roles={"postgres": pg.pids},
                        pg_log=pg.log_path, owns_database=True,
                        versions={"postgresql": pg.version},
                        max_connections=variant.database.max_connections)
    faults = FaultTargets(monitor_dsn=pg.monitor_dsn, postgres=pg)
    match variant.pooler:
        case PgBouncerSpec() as spec:
            dsn = _bring_up_pgbouncer(runtime, spec, where, stack, pg.port, services, faults)
        case PgpoolSpec() as spec:
            dsn = _bring_up_pgpool(runtime, spec, where, stack, pg.port, services)
        case NoPooler():
            dsn = pg.app_dsn
    target = stack.enter_context(runtime.target(TargetContext(
        variant=variant, dsn=dsn, logs=logs, workdir=where.workdir, pid_dir=where.pid_dir,
        direct_dsn=pg.app_dsn, monitor_dsn=pg.monitor_dsn)))
    services.target = target
    services.roles.update(target.roles)
    faults.target_pids = target.roles.get("target")
    faults.instance_pids = target.roles.get("instances")
    services.faults = faults
    if variant.host.pin:
        services.pin = split_cores(available_cores())
        target.info["pin"] = services.pin.describe() if services.pin else "fewer than 2 cores"
    return services


def _bring_up_pgbouncer(runtime: Runtime, spec: PgBouncerSpec, where: Where,
                        stack: contextlib.ExitStack, upstream_port: int, services: Services,
                        faults: FaultTargets) -> str:
    """PgBouncer on ``stack``; its collectors, version and admin DSN on ``services``; its
    app DSN."""
    log_path = where.logs / "pgbouncer.log"
    pooler = stack.enter_context(runtime.pgbouncer(
        upstream_port=upstream_port, log_path=log_path, pool_mode=spec.pool_mode,
        pool_size=spec.pool_size, max_client_conn=spec.max_client_conn,
        query_wait_timeout_s=spec.query_wait_timeout_s, pid_dir=where.pid_dir,
        idle_timeouts_s=(spec.client_idle_timeout_s, spec.server_idle_timeout_s),
        image=spec.image))
    services.versions["pgbouncer"] = pooler.version
    services.roles["pgbouncer"] = pooler.pids
    services.pooler_admin_dsn = pooler.admin_dsn
    services.pooler_collectors.append(PoolerLogCollector(log_path))
    faults.pgbouncer = pooler
    return pooler.app_dsn


def _bring_up_pgpool(runtime: Runtime, spec: PgpoolSpec, where: Where,
                     stack: contextlib.ExitStack, upstream_port: int, services: Services) -> str:
    """pgpool-II on ``stack``; its collector and version on ``services``; its app DSN."""
    settings = PgpoolSettings(
        num_init_children=spec.num_init_children, max_pool=spec.max_pool,
        child_life_time_s=round(spec.child_life_time_s),
        connection_life_time_s=round(spec.connection_life_time_s),
        client_idle_limit_s=round(spec.client_idle_limit_s))
    pooler = stack.enter_context(runtime.pgpool(
        upstream_port=upstream_port, log_path=where.logs / "pgpool.log", settings=settings,
        pid_dir=where.pid_dir))
    services.versions["pgpool"] = pooler.version
    services.roles["pgpool"] = pooler.pids
    services.pooler_collectors.append(PgpoolCollector(pooler.pcp, pooler.port))
    services.pooler_collectors.append(PoolerLogCollector(where.logs / "pgpool.log"))
    return pooler.app_dsn


def watch_external(ext: ExternalSpec) -> Services:
    """An application the harness did not start: only watch its database."""
    return Services(monitor_dsn=ext.watch_dsn, roles={}, pg_log=None, owns_database=False,
                    pooler_admin_dsn=ext.pgbouncer_admin_dsn or None,
                    target=RunningTarget(url=ext.url.rstrip("/")),
                    faults=FaultTargets(monitor_dsn=ext.watch_dsn),
                    max_connections=external_max_connections(ext.watch_dsn))


def external_max_connections(dsn: str) -> int:
    """``max_connections`` of a watched server (exit 3 with the cause when unreachable)."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            row = conn.execute("SHOW max_connections").fetchone()
    except psycopg.Error as exc:
        raise ServiceError("watch_dsn", f"cannot connect: {redact_text(str(exc).strip())}"
                           ) from None
    return int(row[0]) if row else 0


def durability(services: Services) -> dict[str, str]:
    """The durability settings of the database the harness started (none for external)."""
    return dict(DURABILITY_OFF) if services.owns_database else {}
