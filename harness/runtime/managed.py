"""A child process the harness owns: own process group, readiness wait, guaranteed stop.

Every service the process runtime starts (PostgreSQL, PgBouncer, a target, the platform
gateway) is a :class:`ManagedProcess`. It runs in its own process group so that Ctrl-C in
the terminal reaches only the harness, which then tears everything down in order. It is
ready when its wait strategy says so (``harness.runtime.wait``); on exit the whole group is
stopped by its stop policy (``harness.runtime.stopping``: its signal, a grace, SIGKILL). A
pid file per process (when ``pid_dir`` is given) lets the reaper
(:mod:`harness.runtime.reaper`) and ``pgstampede clean`` stop what a harness killed with
``kill -9`` left behind; started from the main thread, a service also gets its stop signal
from the kernel when the harness dies (:mod:`harness.runtime.tether`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psutil

from harness.errors import ServiceError
from harness.runtime.stopping import TERMINATE, StopPolicy, stop_group
from harness.runtime.tether import tethered
from harness.runtime.wait import WaitStrategy, http_ok, wait_until_ready


class Resource:
    """``start()``/``stop()`` as a context manager; a start that fails still stops, so a
    half-started resource never outlives the error."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def service_user() -> str | None:
    """The OS user services run as: ``postgres`` when the harness runs as root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ServiceError("runtime", "running as root needs an OS user 'postgres'") from exc
    return "postgres"


def chown_for_service(path: Path) -> None:
    """Give ``path`` to the service user (no-op when not root)."""
    user = service_user()
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _traversable(path: Path) -> bool:
    """True when every folder from / down to ``path`` can be entered by any user."""
    for folder in [path, *path.parents]:
        if folder.exists() and not folder.stat().st_mode & 0o001:
            return False
    return True


def service_tempdir(prefix: str, parent: Path | None = None,
                    pid_dir: Path | None = None) -> Path:
    """A new temp folder owned by the service user, under ``parent`` when that user can
    reach it (else under the system temp folder). With ``pid_dir`` it is registered there
    (``<name>.tmpdir``) so that ``pgstampede clean`` can remove it after a crash; remove it
    with :func:`remove_tempdir`."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
        if service_user() is not None and not _traversable(parent):
            parent = None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    path.chmod(0o755)
    chown_for_service(path)
    if pid_dir is not None:
        pid_dir.mkdir(parents=True, exist_ok=True)
        (pid_dir / f"{path.name}.tmpdir").write_text(f"{path}\n")
    return path


def remove_tempdir(path: Path, pid_dir: Path | None = None) -> None:
    """Remove a folder made by :func:`service_tempdir` and its registration."""
    shutil.rmtree(path, ignore_errors=True)
    if pid_dir is not None:
        (pid_dir / f"{path.name}.tmpdir").unlink(missing_ok=True)


def write_pid_file(path: Path, pid: int) -> None:
    """``<pid> <start time>``: the process group to stop after a crash, and the start time
    that tells it from a later process given the same pid."""
    try:
        created = f" {psutil.Process(pid).create_time():.3f}"
    except psutil.Error:
        created = ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}{created}\n")


class ManagedProcess(Resource):
    """A service process in its own process group, with a readiness wait."""

    def __init__(
        self,
        *,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        ready_url: str | None = None,
        ready_check: WaitStrategy | None = None,
        ready_timeout_s: float = 30.0,
        user: str | None = None,
        stop: StopPolicy = TERMINATE,
        pid_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        if ready_check is None and ready_url is not None:
            ready_check = functools.partial(http_ok, ready_url)
        self.ready = ready_check  # the wait strategy; None: ready once started
        self.ready_timeout_s = ready_timeout_s
        self.user = user
        self.stop_policy = stop
        self.pid_dir = pid_dir
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise ServiceError(self.name, "not started")
        return self._proc.pid

    def pids(self) -> list[int]:
        """The process and its descendants, alive right now."""
        try:
            root = psutil.Process(self.pid)
            return [root.pid] + [c.pid for c in root.children(recursive=True)]
        except (psutil.NoSuchProcess, ServiceError):
            return []

    def poll(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    tethered(self.argv, self.stop_policy.signal),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    cwd=self.cwd,
                    user=self.user,
                    process_group=0,
                )
            except OSError as exc:
                raise ServiceError(self.name, f"cannot start {self.argv[0]}: {exc}") from exc
        if self.pid_dir is not None:
            write_pid_file(self.pid_dir / f"{self.name}.pid", self._proc.pid)
        self.wait_ready()

    def wait_ready(self) -> None:
        if self.ready is not None:
            wait_until_ready(self.ready, service=self.name, log_path=self.log_path,
                             timeout_s=self.ready_timeout_s, exited=self._exited)

    def _exited(self) -> str | None:
        code = self.poll()
        return None if code is None else f"exited with code {code}"

    def stop(self) -> None:
        if self._proc is None:
            return
        stop_group(self._proc.pid, self.stop_policy, reap=self._proc.poll)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5.0)
        if self.pid_dir is not None:
            (self.pid_dir / f"{self.name}.pid").unlink(missing_ok=True)
