"""Instances reached by frames over a Unix socket: the template's forks and the containers.

A ``Spawner`` makes the instance's process and hands back its pid and the gateway's end of a
connected Unix socket (harness.platform.spawner.TemplateSpawner: a fork of the template;
harness.platform.docker_spawner.DockerSpawner: a container). From there the wire format is
the same (harness.apphost.wire): the instance sends its ready frame (or, an app, its init
failure), then answers requests multiplexed by id, streams (``STREAM_*``), holds and
releases slots (``HOLD``/``RELEASE``), reports background work (``BACKGROUND_DONE``) and
the unhandled exceptions that escaped the app (``EXCEPTION``).
Freeze, thaw and kill are signals to the instance's process group (a container: the
spawner's ``send_signal`` turns them into pause, unpause and removal).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import signal
import socket
from collections.abc import Callable
from typing import Protocol

from harness.apphost.loader import InitError
from harness.apphost.wire import (
    BACKGROUND_DONE,
    CANCEL,
    CONTROL_ID,
    EXCEPTION,
    HOLD,
    INIT_FAILED,
    RELEASE,
    STREAM_CHUNK,
    STREAM_END,
    STREAM_START,
    Frame,
    HttpRequest,
    decode_app_response,
    encode,
    encode_app_request,
    read_frame,
)
from harness.clock import SYSTEM_CLOCK, Clock, timeout
from harness.platform.config import PlatformConfig
from harness.platform.kind import (
    InstanceEvents,
    InstanceGone,
    Reply,
    SignalledInstance,
    app_exception,
)
from harness.platform.protocol import encode_request
from harness.platform.stream import StreamBody
from harness.results.endpoints import WEBSOCKET, error_body

SendSignal = Callable[[int, int], None]


class Spawner(Protocol):
    """Starts instance processes, each with a connected Unix socket."""

    @property
    def pid(self) -> int: ...

    async def start(self, timeout_s: float) -> None: ...

    async def spawn(self, instance_id: str) -> tuple[int, socket.socket]: ...

    def close(self) -> None: ...


def signal_group(pgid: int, sig: int) -> None:
    """Signal an instance's process group (gone already: nothing to do)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class FramedKind:
    """A kind of instance made by a ``Spawner`` and spoken to in frames."""

    def __init__(self, spawner: Spawner, config: PlatformConfig, clock: Clock = SYSTEM_CLOCK,
                 send_signal: SendSignal = signal_group) -> None:
        self.spawner = spawner
        self.config = config
        self.clock = clock
        self.send_signal = send_signal

    @property
    def pid(self) -> int:
        return self.spawner.pid

    async def start(self, timeout_s: float) -> None:
        await self.spawner.start(timeout_s)

    def new(self, instance_id: str, events: InstanceEvents) -> FramedInstance:
        return FramedInstance(instance_id, self, events)

    def close(self) -> None:
        self.spawner.close()


class FramedInstance(SignalledInstance):
    """One instance behind a socket: the wire I/O of the ``Instance`` protocol."""

    def __init__(self, instance_id: str, kind: FramedKind, events: InstanceEvents) -> None:
        self.id = instance_id
        self.kind = kind
        self.events = events
        self.pid = 0
        self.dead = False
        self.writer: asyncio.StreamWriter | None = None
        self.reading: asyncio.Task[None] | None = None
        self.next_id = 1
        self.waiting: dict[int, asyncio.Future[Reply]] = {}  # requests not answered yet
        self.streams: dict[int, StreamBody] = {}  # streamed responses still running
        self.holds: dict[int, asyncio.Event] = {}  # requests whose work runs after the answer

    @property
    def alive(self) -> bool:
        return not self.dead

    async def start(self) -> None:
        if self.dead:
            raise InstanceGone("stopped while starting")
        pid, sock = await self.kind.spawner.spawn(self.id)
        self.pid = pid
        if self.dead:  # killed while the template forked it
            self.kind.send_signal(pid, signal.SIGKILL)
            sock.close()
            raise InstanceGone("stopped while starting")
        self.events.started()
        reader, self.writer = await asyncio.open_unix_connection(sock=sock)
        await self._ready(reader)
        self.reading = asyncio.create_task(self._read(reader))

    async def _ready(self, reader: asyncio.StreamReader) -> None:
        """Wait for the ready frame; an app's init failure or silence is ``InitError``."""
        config = self.kind.config
        try:
            async with timeout(self.kind.clock, config.startup_timeout_s):
                frame = await read_frame(reader)
        except TimeoutError:
            if config.is_app:
                raise InitError(f"init not done within {config.startup_timeout_s} s") from None
            raise
        if frame is None and config.is_app:
            raise InitError("the instance exited during its init without a message "
                             "(see gateway.log)")
        if frame is None:
            raise InstanceGone(f"instance {self.id} (pid {self.pid}) exited while starting")
        if frame.id == CONTROL_ID and frame.code == INIT_FAILED:
            raise InitError(str(json.loads(frame.payload).get("error", "init failed")))

    async def send(self, request: HttpRequest) -> Reply:
        if self.writer is None or self.dead:
            raise InstanceGone("is gone")
        msg_id = self.next_id
        self.next_id += 1
        answer: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.waiting[msg_id] = answer
        self.writer.write(self._encode(msg_id, request))
        try:
            reply = await answer
        finally:
            self.waiting.pop(msg_id, None)
        held = self.holds.get(msg_id)
        return reply if held is None else dataclasses.replace(reply, held=held)

    async def websocket(self, request: HttpRequest) -> Reply:
        """The built-in handler's WebSocket: a ``WEBSOCKET`` request whose streamed answer
        accepts it (each chunk a text message; it reads nothing from the client). Python
        apps get no WebSocket here: refused."""
        if self.kind.config.is_app:
            return Reply(501, error_body("websocket_refused", "platform: WebSockets reach "
                                         "command apps and the built-in handler only"))
        reply = await self.send(dataclasses.replace(request, method=WEBSOCKET))
        if reply.stream is None:
            return reply
        reply.stream.text = True  # its chunks are JSON text messages
        return dataclasses.replace(reply, status=101)

    def _encode(self, msg_id: int, req: HttpRequest) -> bytes:
        if self.kind.config.is_app:
            return encode_app_request(msg_id, req)
        return encode_request(msg_id, req.method, req.path, req.query, req.body)

    def _signal(self, sig: int) -> None:
        if self.pid:
            self.kind.send_signal(self.pid, sig)

    def kill(self) -> None:
        if self.dead:
            return
        self.dead = True
        self._signal(signal.SIGKILL)
        if self.writer is not None:
            self.writer.close()
        for answer in self.waiting.values():
            if not answer.done():
                answer.set_exception(InstanceGone())
        self.waiting.clear()
        for body in self.streams.values():
            body.end()
        self.streams.clear()
        for held in self.holds.values():
            held.set()
        self.holds.clear()
        if self.reading is not None and self.reading is not asyncio.current_task():
            self.reading.cancel()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while (frame := await read_frame(reader)) is not None:
            if frame.id == CONTROL_ID:
                self._control(frame)
            elif frame.code in (STREAM_CHUNK, STREAM_END):
                self._stream_frame(frame)
            else:
                reply = self._reply(frame)
                answer = self.waiting.pop(frame.id, None)
                if answer is not None and not answer.done():
                    answer.set_result(reply)
        if not self.dead:
            self.events.exited()

    def _reply(self, frame: Frame) -> Reply:
        if frame.code == STREAM_START:
            cancel = functools.partial(self._cancel, frame.id)
            body = StreamBody(int(json.loads(frame.payload).get("status", 200)), cancel)
            self.streams[frame.id] = body
            return Reply(body.status, b"", stream=body)
        if not self.kind.config.is_app:
            return Reply(frame.code, frame.payload)
        response = decode_app_response(frame.code, frame.payload)
        if response.pending:
            self.events.background_started(response.pending)
        return Reply(response.status, response.body, response.headers)

    def _cancel(self, msg_id: int) -> None:
        if self.writer is not None and not self.dead:
            self.writer.write(encode(msg_id, CANCEL, b""))

    def _stream_frame(self, frame: Frame) -> None:
        body = self.streams.get(frame.id)
        if body is None:
            return
        if frame.code == STREAM_CHUNK:
            body.put(frame.payload)
        else:
            self.streams.pop(frame.id, None)
            body.end()

    def _control(self, frame: Frame) -> None:
        """One unit of background work ended, or a request's slot held after its answer
        (``HOLD``) or released (``RELEASE``)."""
        if frame.code in (HOLD, RELEASE):
            msg_id = int(json.loads(frame.payload)["r"])
            held = self.holds.setdefault(msg_id, asyncio.Event())
            if frame.code == RELEASE:
                held.set()
                self.holds.pop(msg_id, None)
        elif frame.code == BACKGROUND_DONE:
            self.events.background_ended(bool(json.loads(frame.payload).get("late")))
        elif frame.code == EXCEPTION:
            self.events.exception(app_exception(json.loads(frame.payload)))
