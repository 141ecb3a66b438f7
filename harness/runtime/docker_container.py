"""One service container of a variant run: started, watched until ready, removed on exit.

:class:`ServiceContainer` is the docker runtime's :class:`~harness.runtime.managed.ManagedProcess`:
a container on the host network (services bind 127.0.0.1 only) with ``init`` (so it stops at
once), labelled with its run, whose output (stdout and stderr) is copied line by line into
``log_path`` by a thread following ``docker logs`` — so the PostgreSQL server log lands in
the file the PgLogCollector tails, exactly as with the process runtime; a copy that breaks
off before the container is removed is a ServiceError when the context exits (a note on the
error already raised, if any), never a silently shorter log. ``pids()`` are host
pids: the container's init and its descendants, which the host collector samples unchanged.
On exit the container is force-removed, whatever happened.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.types import Ulimit
from requests.exceptions import RequestException
from urllib3.exceptions import HTTPError

from harness.errors import InputError, ServiceError
from harness.runtime.docker_engine import container_pid, host_pids
from harness.runtime.managed import Resource
from harness.runtime.stopping import StopPolicy
from harness.runtime.wait import WaitStrategy, wait_until_ready

REMOVE = StopPolicy(signal.SIGKILL, grace_s=0.0)
"""A service container is removed at once (``docker rm -f``): it keeps nothing."""

@dataclass(frozen=True)
class ContainerSpec:
    """How to run one service container."""

    service: str  # the name in errors: postgres, pgbouncer, target
    image: str  # an image id or tag
    name: str
    labels: Mapping[str, str]
    log_path: Path
    command: Sequence[str] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    nofile: int | None = None
    shm_size: str | None = None


COPY_ERRORS = (DockerException, RequestException, HTTPError, OSError, ValueError)


class LogCopier(threading.Thread):
    """Follows a container's output into a file until the container is gone.

    A copy that breaks before :meth:`stopping` was called (the engine's stream fails, the
    file cannot be written) is a failure: :attr:`failure` says when and why, and the
    container's context reports it. The stream breaking once the container is being removed
    is its normal end."""

    def __init__(self, container: Any, path: Path) -> None:
        super().__init__(name=f"logs-{path.name}", daemon=True)
        self.container = container
        self.path = path
        self.failure: str | None = None
        self._stopping = threading.Event()

    def stopping(self) -> None:
        """The container is about to be removed: the stream ends now, and that is no error."""
        self._stopping.set()

    def run(self) -> None:
        try:
            with open(self.path, "ab") as out:
                for chunk in self.container.logs(stream=True, follow=True):
                    out.write(chunk)
                    out.flush()
        except COPY_ERRORS as exc:
            if not self._stopping.is_set():
                when = time.strftime("%H:%M:%SZ", time.gmtime())
                self.failure = (f"copying its output into {self.path} failed at {when}, the "
                                f"log is cut there: {type(exc).__name__}: {exc}")


class ServiceContainer(Resource):
    """Context manager: a running service container, ready, removed on exit."""

    def __init__(self, client: docker.DockerClient, spec: ContainerSpec,
                 ready: WaitStrategy, ready_timeout_s: float = 60.0,
                 stop: StopPolicy = REMOVE) -> None:
        self.client = client
        self.spec = spec
        self.ready = ready
        self.ready_timeout_s = ready_timeout_s
        self.stop_policy = stop
        self.container: Any = None
        self.root_pid = 0
        self._logs: LogCopier | None = None

    @property
    def id(self) -> str:
        return "" if self.container is None else str(self.container.id)

    def pids(self) -> list[int]:
        return host_pids(self.root_pid)

    def start(self) -> None:
        spec = self.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        ulimits = None if spec.nofile is None else [
            Ulimit(name="nofile", soft=spec.nofile, hard=spec.nofile)]
        try:
            self.container = self.client.containers.run(
                spec.image, command=list(spec.command) if spec.command is not None else None,
                detach=True, name=spec.name, labels=dict(spec.labels),
                environment=dict(spec.environment), network_mode="host", init=True,
                ulimits=ulimits, shm_size=spec.shm_size)
        except ImageNotFound:
            raise InputError(f"docker: image {spec.image} is missing: run "
                             "`pgstampede images build`") from None
        except DockerException as exc:
            raise ServiceError(spec.service, f"docker could not start {spec.name}: {exc}",
                               str(spec.log_path)) from None
        self.root_pid = container_pid(self.container)
        self._logs = LogCopier(self.container, spec.log_path)
        self._logs.start()
        self.wait_ready()

    def wait_ready(self) -> None:
        wait_until_ready(self.ready, service=self.spec.service, log_path=self.spec.log_path,
                         timeout_s=self.ready_timeout_s, exited=self._exited)

    def _exited(self) -> str | None:
        """Why the container stopped while starting (None: it runs)."""
        self.container.reload()
        state = self.container.attrs.get("State", {})
        if state.get("Status") not in ("exited", "dead"):
            return None
        time.sleep(0.2)  # let the log copier catch the last lines
        return f"container {self.spec.name} exited with code {state.get('ExitCode')}"

    def stop(self) -> None:
        if self._logs is not None:
            self._logs.stopping()
        if self.container is not None:
            with contextlib.suppress(NotFound):
                try:
                    self._signal_and_wait()
                    self.container.remove(force=True)
                except DockerException as exc:
                    raise ServiceError(self.spec.service, f"docker could not remove "
                                       f"{self.spec.name}: {exc}") from None
        if self._logs is not None:
            self._logs.join(timeout=5.0)
        self.root_pid = 0

    def _signal_and_wait(self) -> None:
        """The stop policy's polite part: its signal, then up to its grace for the container
        to exit (the removal that follows kills what is left)."""
        policy = self.stop_policy
        if policy.grace_s <= 0:
            return
        self.container.kill(signal=policy.signal)
        with contextlib.suppress(*COPY_ERRORS):
            self.container.wait(timeout=policy.grace_s)

    def log_failure(self) -> str | None:
        """Why the copy of the container's output into its log broke off (None: it did not)."""
        return None if self._logs is None else self._logs.failure

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Remove the container; then a broken log copy is an error (a note on the error
        already raised, if any): the log the collectors read is incomplete."""
        super().__exit__(exc_type, exc, tb)
        failure = self.log_failure()
        if failure is None:
            return
        if exc is not None:
            exc.add_note(f"{self.spec.service}: {failure}")
            return
        raise ServiceError(self.spec.service, f"container {self.spec.name}: {failure}",
                           str(self.spec.log_path))

