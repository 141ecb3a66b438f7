"""What PgBouncer and pgpool-II share as processes, and how their binaries are found."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from harness.errors import ServiceError
from harness.runtime.managed import ManagedProcess, Resource, remove_tempdir
from harness.runtime.postgres import APP_DB, APP_ROLE, dsn


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
    for cand in candidates:
        if Path(cand).exists():
            return cand
    found = shutil.which(name)
    if found:
        return found
    raise ServiceError(name, f"{name} not found (run `make setup`, or {install_hint})")
