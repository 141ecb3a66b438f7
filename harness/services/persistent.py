"""The persistent target under the process runtime: the built-in Starlette app, or the
user's app (``[app]``), under uvicorn with ``workers`` processes."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from harness.app.command import command_env, command_ready
from harness.app.database import prepare_database
from harness.app.env import app_environment, process_env
from harness.app.failure import error_tail
from harness.app.persistent import READY_TIMEOUT_S, has_exited, ready_check, uvicorn_args
from harness.app.server import AppServer, app_server
from harness.errors import AppError, ServiceError
from harness.runtime.managed import ManagedProcess
from harness.runtime.ports import LOOPBACK, free_port
from harness.scenario import AppSpec, PersistentSpec, PgBouncerSpec
from harness.services.target import RunningTarget, TargetContext, target_env


def persistent_target(ctx: TargetContext) -> contextlib.AbstractContextManager[RunningTarget]:
    """The user's app (``[app]``) under uvicorn or as its own command, or the built-in
    Starlette app."""
    if ctx.variant.app is not None and ctx.variant.app.kind == "command":
        return persistent_command_target(ctx)
    if ctx.variant.app is not None:
        return persistent_app_target(ctx)
    return builtin_persistent_target(ctx)


def persistent_spec(ctx: TargetContext) -> PersistentSpec:
    """The variant's persistent target (ValueError for another kind)."""
    spec = ctx.variant.target
    if not isinstance(spec, PersistentSpec):
        raise ValueError(f"variant {ctx.variant.name}: a {spec.kind} target, not persistent")
    return spec


def builtin_env(ctx: TargetContext) -> dict[str, str]:
    """The built-in persistent server's settings (``targets/shared/settings.py``)."""
    spec = persistent_spec(ctx)
    return target_env(ctx, pool_min=spec.pool_min, pool_max=spec.pool_max,
                      acquire_timeout_s=spec.acquire_timeout_s,
                      background_delay_ms=int(spec.background_delay_s * 1000), state=spec.state)


@contextlib.contextmanager
def builtin_persistent_target(ctx: TargetContext) -> Iterator[RunningTarget]:
    """uvicorn (``workers`` processes) serving the Starlette app with an asyncpg pool."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "targets.persistent.app:app", "--host", LOOPBACK,
            "--port", str(port), "--workers", str(persistent_spec(ctx).workers),
            "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "2"]
    url = f"http://{LOOPBACK}:{port}"
    with ManagedProcess(name="target", argv=argv, env=builtin_env(ctx),
                        log_path=ctx.logs / "target.log", ready_url=f"{url}/health",
                        pid_dir=ctx.pid_dir) as proc:
        yield RunningTarget(url=url, roles={"target": lambda: [proc.pid]},
                            info={"statement_cache_size": ctx.statement_cache_size or "default"})


@contextlib.contextmanager
def persistent_app_target(ctx: TargetContext) -> Iterator[RunningTarget]:
    """Database prepared, then the app under uvicorn; stopped (lifespan shutdown) on exit."""
    app = ctx.variant.app
    assert app is not None
    workers = persistent_spec(ctx).workers
    prepare_database(app, ctx.direct_dsn or ctx.dsn, ctx.logs)
    env = process_env(app, os.environ, app_environment(app, ctx.dsn))
    server = app_server(app, env, say=ctx.say)
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    log_path = ctx.logs / "target.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    proc = ManagedProcess(name="target", argv=server.argv(uvicorn_args(app, port, workers)),
                          env=env, cwd=Path(app.root), log_path=log_path,
                          ready_check=ready_check(app, url, log_path, offset, workers),
                          ready_timeout_s=READY_TIMEOUT_S, pid_dir=ctx.pid_dir)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(proc)
        except ServiceError as exc:  # exited or never ready: the app's own error
            how = "exited while starting" if "exited with code" in str(exc) \
                else f"not ready after {READY_TIMEOUT_S:.0f} s"
            raise AppError(app.entry, f"{how}: {error_tail(log_path) or 'no output'}",
                           str(log_path)) from None
        yield RunningTarget(url=url, roles={"target": lambda: [proc.pid]},
                            info=_info(app, server, workers, ctx))
        if has_exited(proc):  # died during the load: what was measured is kept (exit 3)
            code = proc.poll()
            how = "exited during the run" + (f" (code {code})" if code is not None else "")
            raise ServiceError(f"app {app.entry}", f"{how}: {error_tail(log_path) or 'no output'}",
                               str(log_path))


@contextlib.contextmanager
def persistent_command_target(ctx: TargetContext) -> Iterator[RunningTarget]:
    """Database prepared, then the app's command (one process); stopped on exit."""
    app = ctx.variant.app
    assert app is not None
    workers = persistent_spec(ctx).workers
    prepare_database(app, ctx.direct_dsn or ctx.dsn, ctx.logs)
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    log_path = ctx.logs / "target.log"
    env = command_env(app, process_env(app, os.environ, app_environment(app, ctx.dsn)), port,
                      workers)
    proc = ManagedProcess(name="target", argv=app.command, env=env, cwd=Path(app.root),
                          log_path=log_path, ready_check=command_ready(app, url),
                          ready_timeout_s=READY_TIMEOUT_S, pid_dir=ctx.pid_dir)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(proc)
        except ServiceError as exc:  # exited or never ready: the app's own error
            how = "exited while starting" if "exited with code" in str(exc) \
                else f"not ready after {READY_TIMEOUT_S:.0f} s"
            raise AppError(app.entry, f"{how}: {error_tail(log_path) or 'no output'}",
                           str(log_path)) from None
        yield RunningTarget(url=url, roles={"target": lambda: [proc.pid]},
                            info={"app": app.entry, "kind": app.kind, "workers": workers,
                                  "dsn_env": list(app.dsn_env), "dsn_via": _dsn_via(ctx)})
        if has_exited(proc):  # died during the load: what was measured is kept (exit 3)
            raise ServiceError(f"app {app.entry}", f"exited during the run: "
                               f"{error_tail(log_path) or 'no output'}", str(log_path))


def _dsn_via(ctx: TargetContext) -> str:
    return "pgbouncer" if isinstance(ctx.variant.pooler, PgBouncerSpec) else "direct"


def _info(app: AppSpec, server: AppServer, workers: int, ctx: TargetContext
          ) -> dict[str, object]:
    return {"app": app.entry, "kind": app.kind, "workers": workers,
            "dsn_env": list(app.dsn_env),
            "dsn_via": "pgbouncer" if isinstance(ctx.variant.pooler, PgBouncerSpec) else "direct",
            **server.describe()}
