"""Starting the system under test for a variant: the registry of targets.

A target starter is a context manager factory ``(TargetContext) -> RunningTarget``. The
registry maps a scenario's ``target`` name to it; a new target plugs in by adding one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.runtime.managed import ManagedProcess, remove_tempdir, service_tempdir, stop_group
from harness.runtime.ports import LOOPBACK, free_port
from harness.scenario import Variant

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
        v = self.variant
        fix = v.serverless.prepared_statement_fix if v.target == "serverless" \
            else v.persistent.prepared_statement_fix
        behind_tx_pooler = v.pooler == "pgbouncer" and v.pgbouncer.pool_mode != "session"
        return "0" if behind_tx_pooler and fix else ""


@dataclass
class RunningTarget:
    """A started target: its URL, its processes by role, and its extra collectors."""

    url: str
    roles: dict[str, Callable[[], list[int]]] = field(default_factory=dict)
    collectors: list[Any] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


class TargetStarter(Protocol):
    def __call__(self, ctx: TargetContext) -> contextlib.AbstractContextManager[RunningTarget]:
        ...


def target_env(ctx: TargetContext, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.update({
        "PGSTAMPEDE_DSN": ctx.dsn,
        "PGSTAMPEDE_STATEMENT_CACHE_SIZE": ctx.statement_cache_size,
        "PGSTAMPEDE_APP_NAME": f"pgstampede-{ctx.variant.target}",
        "PGSTAMPEDE_SSL": SSL_OF_OUR_SERVERS,
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


def persistent_target(ctx: TargetContext) -> contextlib.AbstractContextManager[RunningTarget]:
    """The user's app (``[app]``) under uvicorn, or the built-in Starlette app."""
    if ctx.variant.app is not None:
        from harness.app.persistent import persistent_app_target

        return persistent_app_target(ctx)
    return builtin_persistent_target(ctx)


@contextlib.contextmanager
def builtin_persistent_target(ctx: TargetContext) -> Iterator[RunningTarget]:
    """uvicorn (``workers`` processes) serving the Starlette app with an asyncpg pool."""
    spec = ctx.variant.persistent
    port = free_port()
    env = target_env(ctx, {
        "PGSTAMPEDE_POOL_MIN": str(spec.pool_min),
        "PGSTAMPEDE_POOL_MAX": str(spec.pool_max),
        "PGSTAMPEDE_ACQUIRE_TIMEOUT": str(spec.acquire_timeout_s),
        "PGSTAMPEDE_BACKGROUND_DELAY_MS": str(int(spec.background_delay_s * 1000)),
        "PGSTAMPEDE_STATE": spec.state,
    })
    argv = [sys.executable, "-m", "uvicorn", "targets.persistent.app:app", "--host", LOOPBACK,
            "--port", str(port), "--workers", str(spec.workers), "--no-access-log",
            "--log-level", "warning", "--timeout-graceful-shutdown", "2"]
    url = f"http://{LOOPBACK}:{port}"
    with ManagedProcess(name="target", argv=argv, env=env, log_path=ctx.logs / "target.log",
                        ready_url=f"{url}/health", pid_dir=ctx.pid_dir) as proc:
        yield RunningTarget(url=url, roles={"target": lambda: [proc.pid]},
                            info={"statement_cache_size": ctx.statement_cache_size or "default"})


def platform_config(ctx: TargetContext) -> Any:
    """The emulator's configuration: the scenario's [target.serverless] knobs + the DSN."""
    from harness.platform.config import PlatformConfig

    spec = ctx.variant.serverless
    knobs = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)
             if f.name not in ("prepared_statement_fix", "background_delay_s", "preset",
                               "overrides")}
    return PlatformConfig(**knobs, dsn=ctx.dsn, ssl=SSL_OF_OUR_SERVERS,
                          statement_cache_size=ctx.statement_cache_size,
                          background_delay_ms=int(spec.background_delay_s * 1000),
                          **app_platform_fields(ctx))


def app_platform_fields(ctx: TargetContext) -> dict[str, Any]:
    """PlatformConfig's ``app_*`` fields for a variant with an ``[app]`` (none without)."""
    app = ctx.variant.app
    if app is None:
        return {}
    from harness.app.env import app_environment

    return {"app_kind": app.kind, "app_entry": app.entry, "app_factory": app.factory,
            "app_root": app.root, "app_python": app.python,
            "app_env": app_environment(app, ctx.dsn), "app_preload": app.preload}


@contextlib.contextmanager
def serverless_target(ctx: TargetContext) -> Iterator[RunningTarget]:
    """The platform emulator's gateway; instances are forked (or exec'd) on demand."""
    from harness.collect.platform import PlatformCollector
    from harness.platform.pidfile import instance_pids, read_pids

    if ctx.variant.app is not None:
        from harness.app.database import prepare_database

        prepare_database(ctx.variant.app, ctx.direct_dsn or ctx.dsn, ctx.logs)
    config = platform_config(ctx)
    workdir = service_tempdir("pgstampede-gw-", pid_dir=ctx.pid_dir)
    config_path = workdir / "platform.json"
    config_path.write_text(config.to_json())
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [sys.executable, "-m", "harness.platform.gateway", "--config", str(config_path),
            "--port", str(port), "--workdir", str(workdir)]
    pids_file = workdir / "instances.pids"
    try:
        with ManagedProcess(name="gateway", argv=argv, env=target_env(ctx),
                            log_path=ctx.logs / "gateway.log", ready_url=f"{url}/__platform/health",
                            pid_dir=ctx.pid_dir) as proc, queue_worker(ctx, config.background):
            link_pid_file(ctx.pid_dir, pids_file)

            def gateway_pids() -> list[int]:
                return [proc.pid, *read_pids(pids_file)[:1]]

            def instances() -> list[int]:
                return instance_pids(pids_file)

            yield RunningTarget(
                url=url, roles={"gateway": gateway_pids, "instances": instances},
                collectors=[PlatformCollector(f"{url}/__platform/stats")],
                info={"statement_cache_size": ctx.statement_cache_size or "default",
                      "platform": json.loads(config.to_json())})
    finally:
        for pid in read_pids(pids_file) if pids_file.exists() else []:
            stop_group(pid, signal.SIGKILL, grace_s=1.0)
        if ctx.pid_dir is not None:
            (ctx.pid_dir / "instances.pid").unlink(missing_ok=True)
        stats = workdir / "stats.json"
        if stats.exists():
            shutil.copy(stats, ctx.logs / "platform-stats.json")
        remove_tempdir(workdir, ctx.pid_dir)


@contextlib.contextmanager
def queue_worker(ctx: TargetContext, background: str) -> Iterator[None]:
    """With ``background = "queue"``: the worker completing the job rows (targets.worker)."""
    if background != "queue":
        yield
        return
    argv = [sys.executable, "-m", "targets.worker"]
    with ManagedProcess(name="worker", argv=argv, env=target_env(ctx),
                        log_path=ctx.logs / "worker.log", pid_dir=ctx.pid_dir):
        yield


def link_pid_file(pid_dir: Path | None, pids_file: Path) -> None:
    """Let `pgstampede clean` find the instances: a symlink to the gateway's pid list."""
    if pid_dir is None:
        return
    link = pid_dir / "instances.pid"
    link.unlink(missing_ok=True)
    link.symlink_to(pids_file)


TARGET_STARTERS: dict[str, TargetStarter] = {
    "persistent": persistent_target,
    "serverless": serverless_target,
}


def start_target(ctx: TargetContext) -> contextlib.AbstractContextManager[RunningTarget]:
    return TARGET_STARTERS[ctx.variant.target](ctx)
