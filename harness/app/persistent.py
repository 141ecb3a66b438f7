"""The persistent target running the user's app: uvicorn with ``workers`` processes.

Each worker imports the app and runs its lifespan startup (so each opens its own pool: a
real deployment's ``workers x pool size`` shows up), and its lifespan shutdown on SIGTERM.
The app may have no health route: the server is ready when its port answers HTTP at all
(any status) and every worker has finished its startup (uvicorn logs each one).
"""

from __future__ import annotations

import contextlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

from harness.app.database import prepare_database
from harness.app.env import app_environment, process_env
from harness.app.failure import error_tail
from harness.app.server import AppServer, app_server
from harness.errors import AppError, ServiceError
from harness.runtime.managed import ManagedProcess
from harness.runtime.ports import LOOPBACK, free_port
from harness.runtime.targets import RunningTarget, TargetContext
from harness.scenario.records import AppSpec

READY_TIMEOUT_S = 120.0
STARTUP_FAILED = ("Application startup failed", "Error loading ASGI app",
                  "Traceback (most recent call last)")
# one line per worker once it can serve: lifespan done, or no lifespan (WSGI)
WORKER_READY = {"asgi": ("Application startup complete.", "protocol appears unsupported"),
                "wsgi": ("Started server process",)}


def uvicorn_args(app: AppSpec, port: int, workers: int) -> list[str]:
    args = [app.entry, "--app-dir", app.root, "--host", LOOPBACK, "--port", str(port),
            "--workers", str(workers), "--no-access-log", "--log-level", "info",
            "--timeout-graceful-shutdown", "5"]
    if app.kind == "wsgi":
        args += ["--interface", "wsgi", "--lifespan", "off"]
    else:
        args += ["--lifespan", "auto"]
    if app.factory:
        args.append("--factory")
    return args


def answers_http(url: str) -> bool:
    """True when ``url`` answers HTTP with any status."""
    try:
        with urllib.request.urlopen(url, timeout=2.0):  # noqa: S310 (loopback only)
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ready_check(app: AppSpec, url: str, log_path: Path, offset: int,
                workers: int) -> Callable[[], bool]:
    """Ready when every worker logged it can serve and the port answers; AppError as soon
    as the log shows the app failed to load or start."""
    markers = WORKER_READY[app.kind]

    def check() -> bool:
        try:
            with log_path.open("rb") as f:
                f.seek(offset)
                text = f.read().decode(errors="replace")
        except OSError:
            text = ""
        if any(m in text for m in STARTUP_FAILED):
            raise AppError(app.entry, f"failed to start: {error_tail(log_path)}",
                           str(log_path))
        ready = sum(text.count(m) for m in markers)
        return ready >= workers and answers_http(url)

    return check


@contextlib.contextmanager
def persistent_app_target(ctx: TargetContext) -> Iterator[RunningTarget]:
    """Database prepared, then the app under uvicorn; stopped (lifespan shutdown) on exit."""
    app = ctx.variant.app
    assert app is not None
    workers = ctx.variant.persistent.workers
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


def has_exited(proc: ManagedProcess) -> bool:
    """True when the server process has exited (or is exiting: a zombie whose last threads
    are still being torn down, which ``poll`` does not report yet)."""
    if proc.poll() is not None:
        return True
    try:
        return psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _info(app: AppSpec, server: AppServer, workers: int, ctx: TargetContext
          ) -> dict[str, object]:
    return {"app": app.entry, "kind": app.kind, "workers": workers,
            "dsn_env": list(app.dsn_env),
            "dsn_via": "pgbouncer" if ctx.variant.pooler == "pgbouncer" else "direct",
            **server.describe()}
