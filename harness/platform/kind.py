"""Kinds of instance: the one seam between the pool and whatever runs a request.

The pool (routing, scaling, lifecycle: harness.platform.pool) never knows how an instance is
made or reached. It asks an ``InstanceKind`` (chosen by name in harness.platform.kinds) for
a new ``Instance`` and drives it through this protocol:

    start()     spawn it and return once it is ready: the cold start. ``InitError`` (the
                one class for it, harness.apphost.loader, raised on both sides of the wire)
                when the app's own init failed: its text is kept and answered 502; any
                other exception is a start that failed (the platform's side)
    send(req)   run one request; the ``Reply`` (complete, or a ``StreamBody`` the gateway
                relays, or ``held``: the slot stays taken until the instance releases it).
                ``InstanceGone`` when the instance died meanwhile
    websocket(req)  open a WebSocket on the instance: ``Reply(101, stream=...)`` whose chunks
                are its messages (``StreamBody.upstream`` takes the client's), or the HTTP
                answer that refused it
    freeze()    stop it (nothing in flight, every response written); thaw() resumes it
    abandon()   frozen for good (reap = "abandon"): never thawed, its connections left open
    kill()      SIGKILL (or the kind's equivalent); pending sends end with InstanceGone
    alive       False once killed or exited;   pids()   its processes (pid file, cleanup)

What an instance learns between requests it reports through the ``InstanceEvents`` it was
given: it exited on its own, units of work still running after a response started or ended,
its count of pending work (the control channel: not frozen while > 0), an unhandled
exception, and its pids being known.

Kinds today (harness.platform.kinds): a fork of a template that imported the handler or the
app (``template``, harness.platform.spawner) and a container (``container``,
harness.platform.docker_spawner), both speaking frames over a Unix socket
(harness.platform.framed); and a program of any language serving HTTP on a port of its own
(``command``, harness.platform.command). Those whose instance is a process group share
``SignalledInstance``: freeze, thaw and abandon are signals to the group. docs/internals.md,
"The emulator: kinds of instance", says how to add one.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from typing import Any, Protocol

from harness.apphost.wire import HttpRequest
from harness.platform.stream import StreamBody


class InstanceGone(Exception):
    """The instance was killed, or exited, while a request waited for its answer."""


@dataclass(frozen=True)
class Reply:
    """An HTTP answer for the client: status, body bytes and, from an app, its headers
    (None: a JSON body, from the built-in handler or the gateway itself)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] | None = None
    stream: StreamBody | None = None  # a streamed body (harness.platform.stream)
    held: asyncio.Event | None = None  # set when the instance released the request's slot


@dataclass(frozen=True)
class AppException:
    """An unhandled exception an instance reported (control channel)."""

    type: str
    message: str
    where: str


def app_exception(doc: dict[str, Any]) -> AppException:
    """An exception's record as an instance reports it (``{"type", "message", "where"}``:
    the ``EXCEPTION`` frame, a command app's control channel); missing keys read ""."""
    return AppException(type=str(doc.get("type", "")), message=str(doc.get("message", "")),
                        where=str(doc.get("where", "")))


class InstanceEvents(Protocol):
    """What an instance reports to the pool, at any time."""

    def started(self) -> None:
        """Its processes exist: ``pids()`` lists them (the pid file is rewritten)."""

    def exited(self) -> None:
        """It ended on its own (a crash), after it was ready."""

    def background_started(self, units: int) -> None:
        """A response left ``units`` of work running after it (frozen with the instance)."""

    def background_ended(self, late: bool) -> None:
        """One such unit ended; ``late``: the instance was frozen and thawed meanwhile."""

    def pending(self, count: int) -> None:
        """Its own count of work pending after responses (``waitUntil``): busy while > 0."""

    def exception(self, error: AppException) -> None:
        """It reported an unhandled exception."""


class Instance(Protocol):
    """One instance of some kind, as the pool drives it (see the module docstring)."""

    async def start(self) -> None: ...

    async def send(self, request: HttpRequest) -> Reply: ...

    async def websocket(self, request: HttpRequest) -> Reply: ...

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def abandon(self) -> None: ...

    def kill(self) -> None: ...

    @property
    def alive(self) -> bool: ...

    def pids(self) -> list[int]: ...


class SignalledInstance:
    """The lifecycle half of an ``Instance`` that is one process group, ``pid``: frozen
    with SIGSTOP, thawed with SIGCONT, abandoned frozen. ``_signal`` sends to the group (a
    kind may send them otherwise: a container is paused and unpaused)."""

    pid: int

    def _signal(self, sig: int) -> None:
        raise NotImplementedError

    def pids(self) -> list[int]:
        return [self.pid] if self.pid else []

    def freeze(self) -> None:
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def abandon(self) -> None:
        self._signal(signal.SIGSTOP)


class InstanceKind(Protocol):
    """Makes instances of one kind; owns what they share (a template, an engine client)."""

    @property
    def pid(self) -> int:
        """The process that makes instances: the template, or the gateway itself."""
        ...

    async def start(self, timeout_s: float) -> None:
        """Ready to make instances (the template has imported what they share, ...)."""

    def new(self, instance_id: str, events: InstanceEvents) -> Instance:
        """An instance, not started yet."""
        ...

    def close(self) -> None:
        """Stop the kind's own processes now; its instances go with them (synchronous)."""

