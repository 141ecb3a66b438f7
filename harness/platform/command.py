"""Command apps: each instance is a program of any language serving HTTP on its own port.

The ``command`` kind of instance (harness.platform.kinds), for ``app_kind = "command"``:

- cold start = spawn -> ready. The template (harness.apphost.template with the runtime
  harness.apphost.command) forks a child in a process group of its own, which execs the
  command with ``PORT`` (``app_port_env``) set to a free port of 127.0.0.1 and
  ``PGSTAMPEDE_CONTROL_FD`` (harness.platform.control). The instance is ready when that port
  answers ``app_ready`` ("GET /health") below 500, or, without ``app_ready``, answers HTTP at
  all (a ``GET /``). An instance that exits, or is not ready within ``startup_timeout_s``, is
  an init failure quoting its last output line;
- each request is sent as HTTP/1.1 on a keep-alive connection to the instance's port (at
  most ``instance_concurrency`` at once: harness.platform.http_client) and its answer read
  whole (buffered, as for the Python apps);
- freeze = SIGSTOP of its process group, once nothing is in flight and its response is read;
  thaw = SIGCONT; kill = SIGKILL; abandon = SIGSTOP for good;
- its standard output and error go to the gateway's log, one line at a time, prefixed with
  ``instance <id>:``;
- the platform learns that it exited through a pidfd (it is the template's child, not ours).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING

from harness.apphost.loader import InitError
from harness.apphost.wire import HttpRequest
from harness.clock import SYSTEM_CLOCK, Clock, timeout
from harness.platform.config import PlatformConfig
from harness.platform.control import ControlChannel
from harness.platform.framed import signal_group
from harness.platform.http_client import HttpAnswer, HttpConnection, HttpError, StaleConnection
from harness.platform.kind import InstanceEvents, InstanceGone, Reply, SignalledInstance
from harness.platform.launch import command_launch
from harness.platform.spawner import TemplateSpawner
from harness.platform.stream import CUT_CLOSE_CODE, StreamBody
from harness.platform.ws_client import open_websocket, pump
from harness.runtime.ports import LOOPBACK, free_port

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

PROBE_FIRST_S = 0.002  # readiness polling: first interval, growing to PROBE_MAX_S
PROBE_MAX_S = 0.02
EXIT_GRACE_S = 1.0  # a connection closed without an answer: this long to see the exit


class CommandKind:
    """Makes command instances through one template process."""

    def __init__(self, config: PlatformConfig, workdir: Path, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self.clock = clock
        self.spawner = TemplateSpawner(command_launch(config), "fork")
        self.ports: set[int] = set()  # taken by a live instance

    @property
    def pid(self) -> int:
        return self.spawner.pid

    async def start(self, timeout_s: float) -> None:
        await self.spawner.start(timeout_s)

    def new(self, instance_id: str, events: InstanceEvents) -> CommandInstance:
        return CommandInstance(instance_id, self, events)

    def close(self) -> None:
        self.spawner.close()

    def take_port(self) -> int:
        while True:
            port = free_port()
            if port not in self.ports:
                self.ports.add(port)
                return port


class CommandInstance(SignalledInstance):
    """One program on its port, as the pool drives it (harness.platform.kind.Instance)."""

    def __init__(self, instance_id: str, kind: CommandKind, events: InstanceEvents) -> None:
        self.id = instance_id
        self.kind = kind
        self.events = events
        self.pid = 0
        self.port = 0
        self.dead = False
        self.exited = False
        self.ready = False
        self.last_line = ""
        self.idle: list[HttpConnection] = []  # keep-alive connections not in use
        self.busy: set[HttpConnection] = set()
        self.sockets: set[ClientConnection] = set()  # open WebSockets
        self.tasks: set[asyncio.Task[None]] = set()
        self.control: ControlChannel | None = None
        self.output: asyncio.StreamWriter | None = None  # the program's stdout and stderr
        self.watching: tuple[asyncio.AbstractEventLoop, int] | None = None  # the pidfd
        self.exit_seen = asyncio.Event()

    @property
    def alive(self) -> bool:
        return not self.dead and not self.exited

    # ---- cold start -----------------------------------------------------------------------

    async def start(self) -> None:
        if self.dead:
            raise InstanceGone("stopped while starting")
        self.port = self.kind.take_port()
        read_end, write_end = os.pipe()
        self.control = ControlChannel(read_end, self.events, self.id)
        try:
            self.pid, output = await self.kind.spawner.spawn(
                self.id, (write_end,), ("--port", str(self.port)))
        finally:
            os.close(write_end)
        if self.dead:  # killed while the template forked it
            signal_group(self.pid, signal.SIGKILL)
            output.close()
            raise InstanceGone("stopped while starting")
        self.events.started()
        loop = asyncio.get_running_loop()
        self.control.watch(loop)
        self._watch_exit(loop)
        # the writer is kept: a StreamWriter closes its transport when it is collected
        reader, self.output = await asyncio.open_unix_connection(sock=output)
        self._track(relay_output(reader, self.id, self._last_line))
        await self._until_ready()
        self.ready = True

    def _watch_exit(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:  # gone already (and reaped by the template)
            self._on_exit()
            return
        loop.add_reader(pidfd, self._on_exit)
        self.watching = (loop, pidfd)

    def _on_exit(self) -> None:
        if self.watching is not None:  # unwatched before closed (the number is reused)
            loop, pidfd = self.watching
            self.watching = None
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                loop.remove_reader(pidfd)
            os.close(pidfd)
        if self.exited:
            return
        self.exited = True
        self.exit_seen.set()
        if self.ready and not self.dead:
            self.events.exited()

    async def _until_ready(self) -> None:
        config = self.kind.config
        clock = self.kind.clock
        deadline = clock.monotonic() + config.startup_timeout_s
        pause = PROBE_FIRST_S
        while True:
            if self.dead:
                raise InstanceGone("stopped while starting")
            if self.exited:
                await self._output_drained()
                raise InitError(f"exited during its init: {self.last_line or 'no output'}")
            if await self._answers(deadline - clock.monotonic()):
                return
            if clock.monotonic() >= deadline:
                raise InitError(f"not ready within {config.startup_timeout_s:g} s "
                                f"({self._ready_rule()}): {self.last_line or 'no output'}")
            await clock.sleep(pause)
            pause = min(PROBE_MAX_S, pause * 1.5)

    def _ready_rule(self) -> str:
        ready = self.kind.config.app_ready
        return f"{ready} below 500" if ready else "an HTTP answer on its port"

    async def _answers(self, budget_s: float) -> bool:
        """Does the instance answer the readiness request (below 500 when it is ``ready``)?"""
        method, _, path = (self.kind.config.app_ready or "GET /").partition(" ")
        try:
            conn = await HttpConnection.open(LOOPBACK, self.port)
        except OSError:
            return False
        try:
            async with timeout(self.kind.clock, max(0.001, budget_s)):
                answer = await conn.request(HttpRequest(method, path), self._host())
        except (HttpError, OSError, TimeoutError):
            return False
        finally:
            conn.close()
        return answer.status < 500 or not self.kind.config.app_ready

    async def _output_drained(self) -> None:
        """Let the output relay read what the program wrote before it exited."""
        for task in list(self.tasks):
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), 1.0)

    # ---- requests -------------------------------------------------------------------------

    async def send(self, request: HttpRequest) -> Reply:
        try:
            answer = await self._request(await self._connection(), request)
        except StaleConnection:  # it closed the idle connection: once more on a new one
            answer = await self._request(await self._connection(fresh=True), request)
        if self.control is not None:
            self.control.read()  # pending work announced with this response, before a freeze
        return Reply(answer.status, answer.body, answer.headers)

    async def _request(self, conn: HttpConnection, request: HttpRequest) -> HttpAnswer:
        try:
            answer = await conn.request(request, self._host())
        except StaleConnection:
            self._drop(conn)
            raise
        except (HttpError, OSError) as exc:
            self._drop(conn)
            with contextlib.suppress(TimeoutError):  # did it exit? (the pidfd may come later)
                async with timeout(self.kind.clock, EXIT_GRACE_S):
                    await self.exit_seen.wait()
            raise self._gone(exc) from None
        except BaseException:  # cancelled (a timeout): the connection's state is unknown
            self._drop(conn)
            raise
        self._put_back(conn, answer.keep_alive)
        return answer

    def _gone(self, exc: BaseException) -> Exception:
        if self.exited:
            return InstanceGone("exited")
        if self.dead:
            return InstanceGone("is gone")
        return InstanceGone(f"answered no HTTP response ({exc})")

    async def _connection(self, fresh: bool = False) -> HttpConnection:
        if not self.alive:
            raise InstanceGone("is gone")
        if self.idle and not fresh:
            conn = self.idle.pop()
        else:
            try:
                conn = await HttpConnection.open(LOOPBACK, self.port)
            except OSError as exc:
                raise self._gone(exc) from None
        self.busy.add(conn)
        return conn

    def _put_back(self, conn: HttpConnection, keep_alive: bool) -> None:
        self.busy.discard(conn)
        if keep_alive and self.alive:
            self.idle.append(conn)
        else:
            conn.close()

    def _drop(self, conn: HttpConnection) -> None:
        self.busy.discard(conn)
        conn.close()

    def _last_line(self, line: str) -> None:
        self.last_line = line

    def _host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    async def websocket(self, request: HttpRequest) -> Reply:
        """A WebSocket to the program's port: accepted, its messages stream both ways until
        either side closes (harness.platform.ws_client); refused, its HTTP answer."""
        if not self.alive:
            raise InstanceGone("is gone")
        try:
            opened = await open_websocket(self._host(), request)
        except ConnectionError as exc:
            raise self._gone(exc) from None
        if isinstance(opened, Reply):
            return opened
        self.sockets.add(opened)
        body = StreamBody(101, cancel=lambda: self._track(opened.close(CUT_CLOSE_CODE)),
                          upstream=opened.send)
        body.subprotocol = opened.subprotocol
        self._track(pump(opened, body, self.sockets.discard))
        return Reply(101, b"", stream=body)

    # ---- freeze, thaw, kill ---------------------------------------------------------------

    def _signal(self, sig: int) -> None:
        if self.pid:
            signal_group(self.pid, sig)

    def kill(self) -> None:
        if self.dead:
            return
        self.dead = True
        self._signal(signal.SIGKILL)
        for conn in [*self.idle, *self.busy]:
            conn.close()
        for socket in self.sockets:
            socket.transport.abort()
        self.idle.clear()
        self.busy.clear()
        if self.control is not None:
            self.control.close()
        if self.watching is not None:
            self._on_exit()
        self.kind.ports.discard(self.port)
        for task in self.tasks:
            task.cancel()
        if self.output is not None:
            self.output.close()

    def _track(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


async def relay_output(reader: asyncio.StreamReader, instance_id: str,
                       last: Callable[[str], None]) -> None:
    """Each line the program writes into the gateway's log (``instance <id>: ...``); the
    last non-empty one handed to ``last`` (it explains an init failure)."""
    while True:
        try:
            line = await reader.readline()
        except ValueError:  # a line longer than the stream's limit: its first part
            line = await reader.read(65536)
        except ConnectionError:
            return
        if not line:
            return
        text = line.decode("utf-8", "replace").rstrip()
        if text.strip():
            last(text.strip()[:500])
            print(f"instance {instance_id}: {text}", file=sys.stderr, flush=True)
