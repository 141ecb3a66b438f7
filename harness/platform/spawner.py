"""The gateway's side of the template: start it, ask it for instances, stop it.

``TemplateSpawner.spawn(instance_id)`` creates a Unix socket pair for the new instance,
hands one end to the template (SCM_RIGHTS) and returns the instance's pid with the other
end. The instance is its own process group (pgid == pid). See harness.apphost.template; what
it runs (built-in handler or a user's app, which interpreter) is a harness.platform.launch.Launch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess

from harness.errors import ServiceError
from harness.platform.launch import Launch


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


class TemplateSpawner:
    """Owns the template process and its control socket."""

    def __init__(self, launch: Launch, mode: str) -> None:
        self.launch = launch
        self.mode = mode
        self.proc: subprocess.Popen[bytes] | None = None
        self.ctrl: socket.socket | None = None
        self.waiting: dict[str, asyncio.Future[int]] = {}
        self.ready: asyncio.Future[int] | None = None
        self.writable: asyncio.Future[None] | None = None  # the control socket has room

    @property
    def pid(self) -> int:
        return 0 if self.proc is None else self.proc.pid

    async def start(self, timeout_s: float) -> None:
        """Start the template and wait until it has imported the handler's dependencies."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = self.launch.argv(theirs.fileno(), os.getpid())
        self.proc = subprocess.Popen(argv, env=self.launch.env, cwd=self.launch.cwd,
                                     pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        ours.setblocking(False)
        self.ctrl = ours
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        loop.add_reader(ours.fileno(), self._on_readable)
        try:
            await asyncio.wait_for(asyncio.shield(self.ready), timeout_s)
        except (TimeoutError, ConnectionError) as exc:
            self.close()
            detail = str(exc) or f"not ready after {timeout_s:.0f} s"
            raise ServiceError("platform template", detail, "gateway.log") from exc

    def _on_readable(self) -> None:
        assert self.ctrl is not None
        while True:
            try:
                msg = self.ctrl.recv(4096)
            except BlockingIOError:
                return
            except OSError:
                msg = b""
            if not msg:
                self._on_closed()
                return
            doc = json.loads(msg)
            if "error" in doc and self.ready is not None and not self.ready.done():
                self.ready.set_exception(ConnectionError(f"the template failed: {doc['error']}"))
                continue
            if doc.get("ready") and self.ready is not None and not self.ready.done():
                self.ready.set_result(int(doc["pid"]))
                continue
            future = self.waiting.pop(str(doc.get("instance")), None)
            if future is not None and not future.done():
                future.set_result(int(doc["pid"]))

    def _on_closed(self) -> None:
        if self.ctrl is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self.ctrl.fileno())
        error = ConnectionError("the template process exited (see gateway.log)")
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(error)
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(error)
        self.waiting.clear()

    async def spawn(self, instance_id: str, extra_fds: tuple[int, ...] = (),
                    args: tuple[str, ...] = ()) -> tuple[int, socket.socket]:
        """Start an instance; its pid and the gateway's end of its socket. ``extra_fds`` go
        to the instance too (the caller closes its own copies), ``args`` after its runtime's
        arguments (harness.apphost.template)."""
        if self.ctrl is None or (self.proc is not None and self.proc.poll() is not None):
            raise ConnectionError("the template process is not running (see gateway.log)")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.waiting[instance_id] = future
        doc: dict[str, object] = {"instance": instance_id, "mode": self.mode}
        if args:
            doc["args"] = list(args)
        try:
            await self._send(json.dumps(doc).encode(), [theirs.fileno(), *extra_fds])
        finally:
            theirs.close()
        try:
            pid = await future
        except BaseException:
            ours.close()
            raise
        return pid, ours

    async def _send(self, message: bytes, fds: list[int]) -> None:
        """Send one request; while the template's queue is full (a burst of hundreds of cold
        starts), wait until the socket has room again, without polling it."""
        while True:
            if self.ctrl is None:
                raise ConnectionError("the template process is not running (see gateway.log)")
            try:
                socket.send_fds(self.ctrl, [message], fds)
                return
            except BlockingIOError:
                await asyncio.shield(self._room())

    def _room(self) -> asyncio.Future[None]:
        """A future done when the control socket is writable (one watcher for all senders)."""
        if self.writable is None or self.writable.done():
            assert self.ctrl is not None
            loop = asyncio.get_running_loop()
            self.writable = loop.create_future()
            self.writable.add_done_callback(_retrieve)  # a stop with nobody waiting: no log
            loop.add_writer(self.ctrl.fileno(), self._on_writable)
        return self.writable

    def _on_writable(self) -> None:
        if self.ctrl is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_writer(self.ctrl.fileno())
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def close(self) -> None:
        """Kill the template (its instances die with it: PR_SET_PDEATHSIG)."""
        if self.ctrl is not None:
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                loop = asyncio.get_running_loop()
                loop.remove_reader(self.ctrl.fileno())
                loop.remove_writer(self.ctrl.fileno())
            self.ctrl.close()
            self.ctrl = None
        if self.writable is not None and not self.writable.done():
            self.writable.set_exception(ConnectionError("the template was stopped"))
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5.0)
