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
from harness.app.node import command_argv
from harness.app.persistent import READY_TIMEOUT_S, has_exited, ready_check, uvicorn_args
from harness.app.served import (
    CONTROL_FD,
    EXCEPTIONS_LOG,
    expose_apphost,
    served_env,
    with_control_file,
)
from harness.app.server import AppServer, app_server
from harness.collect.app_exceptions import AppExceptionsCollector
from harness.errors import AppError, ServiceError
from harness.runtime.managed import ManagedProcess, remove_tempdir, service_tempdir
from harness.runtime.ports import LOOPBACK, free_port
from harness.scenario import AppSpec, PersistentSpec, PgBouncerSpec
from harness.services.target import RunningTarget, TargetContext, target_env


def persistent_target(ctx: TargetContext) -> contextlib.AbstractContextManager[RunningTarget]:
    """The user's app (``[app]``) under uvicorn or as its own command, or the built-in
    Starlette app."""
    if ctx.variant.app is not None and ctx.variant.app.kind in ("command", "node"):
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
    raised = ctx.logs / EXCEPTIONS_LOG  # what escapes the app (harness.app.served)
    with contextlib.ExitStack() as stack:
        apphost = expose_apphost(_tempdir(stack, ctx.pid_dir))
        argv = server.argv(uvicorn_args(app, port, workers, served=True,
                                        graceful_timeout=server.graceful_timeout),
                           str(apphost))
        proc = ManagedProcess(name="target", argv=argv, env={**env, **served_env(app, raised)},
                              cwd=Path(app.root), log_path=log_path,
                              ready_check=ready_check(app, url, log_path, offset, workers),
                              ready_timeout_s=READY_TIMEOUT_S, pid_dir=ctx.pid_dir)
        try:
            stack.enter_context(proc)
        except ServiceError as exc:  # exited or never ready: the app's own error
            how = "exited while starting" if "exited with code" in str(exc) \
                else f"not ready after {READY_TIMEOUT_S:.0f} s"
            raise AppError(app.entry, f"{how}: {_tail(log_path, app)}",
                           str(log_path)) from None
        yield RunningTarget(url=url, roles={"target": lambda: [proc.pid]},
                            collectors=[AppExceptionsCollector(raised)],
                            info=_info(app, server, workers, ctx))
        if has_exited(proc):  # died during the load: what was measured is kept (exit 3)
            code = proc.poll()
            how = "exited during the run" + (f" (code {code})" if code is not None else "")
            raise ServiceError(f"app {app.entry}", f"{how}: {_tail(log_path, app)}",
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
    raised = ctx.logs / EXCEPTIONS_LOG  # its control channel's {"exception"} lines
    ctx.logs.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(name="target", argv=with_control_file(command_argv(app), raised),
                          env={**env, "PGSTAMPEDE_CONTROL_FD": str(CONTROL_FD)},
                          cwd=Path(app.root),
                          log_path=log_path, ready_check=command_ready(app, url),
                          ready_timeout_s=READY_TIMEOUT_S, pid_dir=ctx.pid_dir)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(proc)
        except ServiceError as exc:  # exited or never ready: the app's own error
            how = "exited while starting" if "exited with code" in str(exc) \
                else f"not ready after {READY_TIMEOUT_S:.0f} s"
            raise AppError(app.entry, f"{how}: {_tail(log_path, app)}",
                           str(log_path)) from None
        yield RunningTarget(url=url, roles={"target": lambda: [proc.pid]},
                            collectors=[AppExceptionsCollector(raised)],
                            info={"app": app.entry, "kind": app.kind, "workers": workers,
                                  "dsn_env": list(app.dsn_env), "dsn_via": _dsn_via(ctx)})
        if has_exited(proc):  # died during the load: what was measured is kept (exit 3)
            raise ServiceError(f"app {app.entry}", f"exited during the run: "
                               f"{_tail(log_path, app)}", str(log_path))


def _tail(log_path: Path, app: AppSpec) -> str:
    """The app's own error from its log, at its own line (harness.app.failure)."""
    return error_tail(log_path, root=app.root) or "no output"


def _tempdir(stack: contextlib.ExitStack, pid_dir: Path | None) -> Path:
    """A temp folder removed when ``stack`` closes (registered for ``pgstampede clean``)."""
    folder = service_tempdir("pgstampede-app-", pid_dir=pid_dir)
    stack.callback(remove_tempdir, folder, pid_dir)
    return folder


def _dsn_via(ctx: TargetContext) -> str:
    return "pgbouncer" if isinstance(ctx.variant.pooler, PgBouncerSpec) else "direct"


def _info(app: AppSpec, server: AppServer, workers: int, ctx: TargetContext
          ) -> dict[str, object]:
    return {"app": app.entry, "kind": app.kind, "workers": workers,
            "dsn_env": list(app.dsn_env),
            "dsn_via": "pgbouncer" if isinstance(ctx.variant.pooler, PgBouncerSpec) else "direct",
            **server.describe()}
