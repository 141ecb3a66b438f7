"""The user's app under uvicorn with ``workers`` processes: its command line, its readiness
and its end (the persistent target that runs it is ``harness.services.persistent``).

Each worker imports the app and runs its lifespan startup (so each opens its own pool: a
real deployment's ``workers x pool size`` shows up), and its lifespan shutdown on SIGTERM.
The app may have no health route: the server is ready when its port answers HTTP at all
(any status) and every worker has finished its startup (uvicorn logs each one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psutil

from harness.app.failure import error_tail
from harness.app.served import SERVED_ENTRY
from harness.errors import AppError
from harness.runtime.managed import ManagedProcess
from harness.runtime.ports import LOOPBACK
from harness.runtime.wait import answers_http
from harness.scenario.records import AppSpec

READY_TIMEOUT_S = 120.0
STARTUP_FAILED = ("Application startup failed", "Error loading ASGI app",
                  "Traceback (most recent call last)")
# one line per worker once it can serve: lifespan done, or no lifespan (WSGI)
WORKER_READY = {"asgi": ("Application startup complete.", "protocol appears unsupported"),
                "wsgi": ("Started server process",)}


def uvicorn_args(app: AppSpec, port: int, workers: int, *, served: bool = False,
                 graceful_timeout: bool = True) -> list[str]:
    """uvicorn's arguments; ``served``: the app through ``pgstampede_apphost.served``,
    which records its exceptions and calls its factory itself (harness.app.served);
    ``graceful_timeout``: the server's uvicorn knows ``--timeout-graceful-shutdown`` (0.22
    and later: ``AppServer.graceful_timeout``); without it a stop waits for open connections
    until the harness's own stop policy ends it."""
    args = [SERVED_ENTRY if served else app.entry, "--app-dir", app.root, "--host", LOOPBACK,
            "--port", str(port),
            "--workers", str(workers), "--no-access-log", "--log-level", "info"]
    if graceful_timeout:
        args += ["--timeout-graceful-shutdown", "5"]
    if app.kind == "wsgi":
        args += ["--interface", "wsgi", "--lifespan", "off"]
    else:
        args += ["--lifespan", "auto"]
    if app.factory and not served:
        args.append("--factory")
    return args


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


def has_exited(proc: ManagedProcess) -> bool:
    """True when the server process has exited (or is exiting: a zombie whose last threads
    are still being torn down, which ``poll`` does not report yet)."""
    if proc.poll() is not None:
        return True
    try:
        return psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
