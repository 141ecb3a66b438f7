"""A child process the harness owns: own process group, readiness wait, guaranteed stop.

Every service the process runtime starts (PostgreSQL, PgBouncer, a target, the platform
gateway) is a :class:`ManagedProcess`. It runs in its own process group so that Ctrl-C in
the terminal reaches only the harness, which then tears everything down in order; on exit
the whole group is terminated, then killed. A pid file per process (when ``pid_dir`` is
given) lets the reaper (:mod:`harness.runtime.reaper`) and ``pgstampede clean`` stop what a harness
killed with ``kill -9`` left behind; started from the main thread, a service also gets its
stop signal from the kernel when the harness dies (:mod:`harness.runtime.tether`).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psutil

from harness.errors import ServiceError
from harness.runtime.tether import tethered


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
    import tempfile

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
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    if pid_dir is not None:
        (pid_dir / f"{path.name}.tmpdir").unlink(missing_ok=True)


def log_tail(path: Path, lines: int = 5) -> str:
    """The last ``lines`` lines of a log file, joined with ' | ' (for one-line errors)."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when GET ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def write_pid_file(path: Path, pid: int) -> None:
    """``<pid> <start time>``: the process group to stop after a crash, and the start time
    that tells it from a later process given the same pid."""
    try:
        created = f" {psutil.Process(pid).create_time():.3f}"
    except psutil.Error:
        created = ""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}{created}\n")


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False when the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    return signal_group(pgid, 0)


def stop_group(
    pgid: int,
    first: int = signal.SIGTERM,
    grace_s: float = 5.0,
    reap: Callable[[], object] | None = None,
) -> None:
    """Signal a process group with ``first``, wait up to ``grace_s``, then SIGKILL it.

    ``reap`` is called while waiting so that a direct child does not linger as a zombie
    (a zombie still counts as a member of its group).
    """
    if not signal_group(pgid, first):
        return
    for sig, wait_s in ((None, grace_s), (signal.SIGKILL, 5.0)):
        if sig is not None:
            signal_group(pgid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if reap is not None:
                reap()
            if not group_alive(pgid):
                return
            time.sleep(0.02)


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
        ready_check: Callable[[], bool] | None = None,
        ready_timeout_s: float = 30.0,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
        pid_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.ready_url = ready_url
        self.ready_check = ready_check
        self.ready_timeout_s = ready_timeout_s
        self.user = user
        self.stop_signal = stop_signal
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
                    tethered(self.argv, self.stop_signal),
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
        check = self.ready_check
        if check is None and self.ready_url is not None:
            url = self.ready_url

            def check() -> bool:
                return http_ok(url)

        if check is None:
            return
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            code = self.poll()
            if code is not None:
                raise ServiceError(
                    self.name,
                    f"exited with code {code} while starting: {log_tail(self.log_path)}",
                    str(self.log_path),
                )
            if check():
                return
            time.sleep(0.05)
        raise ServiceError(
            self.name, f"not ready after {self.ready_timeout_s:.0f} s", str(self.log_path)
        )

    def stop(self, grace_s: float = 5.0) -> None:
        if self._proc is None:
            return
        stop_group(self._proc.pid, self.stop_signal, grace_s, reap=self._proc.poll)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5.0)
        if self.pid_dir is not None:
            (self.pid_dir / f"{self.name}.pid").unlink(missing_ok=True)



class PoolerProcess(Resource):
    """What PgBouncer and pgpool-II share as processes: one root process, a config folder,
    a restart for the faults, a stop that removes the folder."""

    name = "pooler"
    port: int
    pid_dir: Path | None
    confdir: Path
    _proc: ManagedProcess | None

    @property
    def app_dsn(self) -> str:
        from harness.runtime.postgres import APP_DB, APP_ROLE, dsn

        return dsn(APP_ROLE, self.port, APP_DB)

    def pids(self) -> list[int]:
        """The root process; collectors find its descendants themselves."""
        return [] if self._proc is None or self._proc.poll() is not None else [self._proc.pid]

    def restart(self, downtime_s: float = 0.0) -> None:
        """Stop the pooler (its clients and server connections drop), wait, start it again.
        Blocking: call it from a thread."""
        if self._proc is None:
            raise ServiceError(self.name, "not started")
        self._proc.stop()
        time.sleep(downtime_s)
        self._proc.start()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
        if self.confdir != Path() and self.confdir.exists():
            remove_tempdir(self.confdir, self.pid_dir)


def version_output(binary: str) -> str:
    """What ``BINARY --version`` printed (stdout, then stderr); "" when it cannot run."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return out.stdout + out.stderr


def find_binary(name: str, candidates: tuple[str, ...], install_hint: str) -> str:
    """The first of ``candidates`` that exists, else ``name`` on PATH; a ServiceError that
    says what to install otherwise (PgBouncer, pgpool-II)."""
    import shutil

    for cand in candidates:
        if Path(cand).exists():
            return cand
    found = shutil.which(name)
    if found:
        return found
    raise ServiceError(name, f"{name} not found (run `make setup`, or {install_hint})")
