"""Instances as Docker containers: the gateway's spawner when ``spawner = "docker"``.

- cold start: bind a Unix socket ``DIR/sockets/<id>.sock``, create and start a container of
  ``instance_image`` with that socket bind-mounted (harness.platform.container_instance), and
  accept its connection; the pool then waits for the ready frame, so the cold start it records
  runs from the decision to start to the handler imported inside a running container;
- freeze = ``docker pause`` (the cgroup freezer), thaw = ``docker unpause``, kill and reap =
  force-remove (SIGKILL, then the container is gone).

It is the spawner of the ``container`` kind of instance (harness.platform.kinds: a
``FramedKind``), which signals instances by pid (SIGSTOP, SIGCONT, SIGKILL; the pid is the host
pid of the container's init); :meth:`DockerSpawner.send_signal` turns them into those calls.
Docker calls run on a thread pool, never on the event loop; per container they run in order,
and a freeze still waiting when its thaw arrives is dropped with it (under load an instance
released and reused at once is not paused at all). At most CONCURRENT_STARTS containers start
at once; a start waiting for its turn counts in its cold start. Every container is labelled
``pgstampede.run`` (the config's ``run_label``), ``pgstampede.role = instance`` and
``pgstampede.owner`` (this gateway); :meth:`close` force-removes every container of this
gateway before returning, so nothing outlives a gateway that exits; a SIGKILLed gateway leaves
them to the harness's sweep and ``pgstampede clean``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import docker
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.types import Mount

from harness.errors import ServiceError
from harness.platform.config import PlatformConfig
from harness.platform.container_instance import SOCKET_IN_CONTAINER

LABEL_RUN = "pgstampede.run"
LABEL_ROLE = "pgstampede.role"
LABEL_OWNER = "pgstampede.owner"
MAX_SOCKET_PATH = 100
PAUSE_ATTEMPTS = 3
# Containers started at once: more does not start them faster on a small machine (the engine,
# runc and each instance's imports share the CPU: about 6 per second on 2 cores either way),
# it only delays the first ones.
CONCURRENT_STARTS = 8
T = TypeVar("T")


@dataclass
class _Container:
    """What the gateway knows of one instance container, and what it wants of it."""

    id: str
    name: str
    paused: bool = False
    want_paused: bool = False
    removing: bool = False
    working: bool = False


class DockerSpawner:
    """Starts, pauses, unpauses and removes instance containers (the ``container`` kind)."""

    def __init__(self, config: PlatformConfig, workdir: Path,
                 client_factory: Callable[[], Any] | None = None, workers: int = 16,
                 concurrent_starts: int = CONCURRENT_STARTS) -> None:
        self.config = config
        self.sockdir = workdir / "sockets"
        self.owner = f"gw-{uuid.uuid4().hex[:10]}"
        self.run = config.run_label or self.owner
        self.client_factory = client_factory or _api_client
        self.api: Any = None
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="docker")
        self.by_pid: dict[int, _Container] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed = False
        self.starting = asyncio.Semaphore(concurrent_starts)

    @property
    def pid(self) -> int:
        """The process that makes instances: the gateway itself (there is no template)."""
        return os.getpid()

    def labels(self) -> dict[str, str]:
        return {LABEL_RUN: self.run, LABEL_ROLE: "instance", LABEL_OWNER: self.owner}

    def environment(self, instance_id: str) -> dict[str, str]:
        """The gateway's PGSTAMPEDE_* variables (as a forked instance inherits them), then the
        handler's environment and the instance id."""
        env = {k: v for k, v in os.environ.items() if k.startswith("PGSTAMPEDE_")}
        env.update(self.config.handler_env())
        env.update({"PGSTAMPEDE_INSTANCE": instance_id, "PYTHONUNBUFFERED": "1"})
        return env

    async def start(self, timeout_s: float) -> None:
        """Connect to the engine and check that the instance image is there."""
        self.sockdir.mkdir(parents=True, exist_ok=True)
        self.sockdir.chmod(0o755)
        loop = asyncio.get_running_loop()
        try:
            self.api = await asyncio.wait_for(
                loop.run_in_executor(self.executor, self.client_factory), timeout_s)
            await loop.run_in_executor(self.executor, self.api.inspect_image,
                                       self.config.instance_image)
        except ImageNotFound:
            raise ServiceError("platform", f"docker image {self.config.instance_image} is "
                               "missing: run `pgstampede images build`", "gateway.log") from None
        except (DockerException, OSError, TimeoutError) as exc:
            raise ServiceError("platform", f"docker engine not usable: {exc}",
                               "gateway.log") from None

    # ---- cold starts --------------------------------------------------------------------------

    async def spawn(self, instance_id: str) -> tuple[int, socket.socket]:
        """Start an instance container; the host pid of its init and its connected socket."""
        if self.closed or self.api is None:
            raise ConnectionError("the platform is stopping")
        path = self.sockdir / f"{instance_id}.sock"
        if len(str(path)) > MAX_SOCKET_PATH:
            raise ConnectionError(f"socket path too long for AF_UNIX: {path}")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            path.chmod(0o666)  # the instance runs as an unprivileged user
            listener.listen(1)
            listener.setblocking(False)
            async with self.starting:
                record, pid = await self._call(self._create, instance_id, path)
                self.by_pid[pid] = record
                try:
                    conn = await self._accept(listener, record)
                except BaseException:
                    self.send_signal(pid, signal.SIGKILL)
                    raise
            return pid, conn
        finally:
            listener.close()
            path.unlink(missing_ok=True)

    def _create(self, instance_id: str, path: Path) -> tuple[_Container, int]:
        """Create and start the container (on a worker thread)."""
        name = f"pgstampede-{self.run}-{self.owner}-{instance_id}"[:120]
        host_config = self.api.create_host_config(
            network_mode="host", init=True,
            mounts=[Mount(target=SOCKET_IN_CONTAINER, source=str(path), type="bind")])
        created = self.api.create_container(
            self.config.instance_image, name=name, labels=self.labels(),
            environment=self.environment(instance_id), host_config=host_config,
            command=["--socket", SOCKET_IN_CONTAINER, "--instance", instance_id,
                     "--handler", self.config.handler])
        cid, pid = str(created["Id"]), 0
        if not self.closed:
            self.api.start(cid)
            pid = int(self.api.inspect_container(cid)["State"]["Pid"] or 0)
        if self.closed or pid <= 0:
            self._remove(cid)
            raise ConnectionError(f"instance container {name} did not start")
        return _Container(id=cid, name=name), pid

    async def _accept(self, listener: socket.socket, record: _Container) -> socket.socket:
        """The instance's connection; fails early when its container has exited."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.startup_timeout_s
        while True:
            try:
                conn, _ = await asyncio.wait_for(loop.sock_accept(listener), 1.0)
                conn.setblocking(False)
                return conn
            except TimeoutError:
                if loop.time() >= deadline:
                    raise ConnectionError(f"instance container {record.name} did not connect "
                                          f"within {self.config.startup_timeout_s:.0f} s") from None
            state = await self._call(self.api.inspect_container, record.id)
            if state["State"]["Status"] in ("exited", "dead"):
                logs = await self._call(self.api.logs, record.id, tail=5)
                tail = " | ".join(logs.decode(errors="replace").strip().splitlines())
                code = state["State"].get("ExitCode")
                raise ConnectionError(f"instance container {record.name} exited with code "
                                      f"{code}: {tail}")

    # ---- freeze, thaw, kill ----------------------------------------------------------------

    def send_signal(self, pid: int, sig: int) -> None:
        """The pool's signals: SIGSTOP = pause, SIGCONT = unpause, SIGKILL = force-remove."""
        record = self.by_pid.get(pid)
        if record is None or self.closed:
            return
        if sig == signal.SIGSTOP:
            record.want_paused = True
        elif sig == signal.SIGCONT:
            record.want_paused = False
        elif sig == signal.SIGKILL:
            record.removing = True
        else:
            return
        if record.working:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # outside the loop (a signal handler): close() removes everything
        record.working = True
        task = loop.create_task(self._reconcile(pid, record))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _reconcile(self, pid: int, record: _Container) -> None:
        """Bring the container to the wanted state, one Docker call at a time. A failed pause
        or unpause (runc's freezer can give up on a busy cgroup) is retried a few times."""
        failures = 0
        try:
            while not self.closed:
                if record.removing:
                    await self._call(self._remove, record.id)
                    self.by_pid.pop(pid, None)
                    return
                if record.want_paused == record.paused:
                    return
                wanted = record.want_paused
                call = self.api.pause if wanted else self.api.unpause
                try:
                    await self._call(call, record.id)
                except NotFound:
                    raise
                except DockerException as exc:
                    failures += 1
                    print(f"platform: container {record.name}: {exc}", file=sys.stderr)
                    if failures >= PAUSE_ATTEMPTS:
                        return
                    await asyncio.sleep(0.05 * failures)
                    continue
                record.paused = wanted
        except NotFound:
            self.by_pid.pop(pid, None)
        except (DockerException, RuntimeError) as exc:
            print(f"platform: container {record.name}: {exc}", file=sys.stderr)
        finally:
            record.working = False

    def _remove(self, cid: str) -> None:
        try:
            self.api.remove_container(cid, force=True)
        except NotFound:
            return

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    # ---- the end --------------------------------------------------------------------------

    def close(self) -> None:
        """Force-remove every container of this gateway, now (safe to call twice)."""
        if self.closed:
            return
        self.closed = True
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.api is None:
            return
        try:
            found = self.api.containers(all=True, filters={"label": f"{LABEL_OWNER}={self.owner}"})
        except DockerException as exc:
            print(f"platform: cannot list instance containers: {exc}", file=sys.stderr)
            return
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="docker-rm") as pool:
            list(pool.map(lambda c: self._remove_quietly(str(c["Id"])), found))

    def _remove_quietly(self, cid: str) -> None:
        try:
            self._remove(cid)
        except DockerException as exc:
            print(f"platform: cannot remove container {cid[:12]}: {exc}", file=sys.stderr)


def _api_client() -> Any:
    """A low-level client of the engine named by DOCKER_HOST (default: the local socket)."""
    return docker.from_env(max_pool_size=32).api
