"""InstancePool with streamed answers and held slots (in-process fake instances, recorded
signals, a fake clock): a stream holds its slot until max_duration cuts it, a HOLD until its
RELEASE."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from typing import Any

from harness.apphost.wire import (
    CANCEL,
    CONTROL_ID,
    HOLD,
    READY,
    RELEASE,
    STREAM_CHUNK,
    STREAM_END,
    STREAM_START,
    HttpRequest,
    control,
    encode,
    read_frame,
)
from harness.platform.config import PlatformConfig
from harness.platform.framed import FramedKind
from harness.platform.pool import InstancePool
from harness.platform.stream import StreamBody
from tests.fake_clock import FakeClock


class Instances:
    """``/events``: a stream of one chunk, ended on CANCEL; ``/hold``: HOLD, the answer, then
    RELEASE once the test sets ``release``."""

    pid = 1

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.clock = FakeClock()
        self.cancelled: list[int] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self, timeout_s: float) -> None:
        pass

    async def spawn(self, instance_id: str) -> tuple[int, socket.socket]:
        ours, theirs = socket.socketpair()
        self.tasks.append(asyncio.create_task(self._serve(theirs)))
        return 100_000 + len(self.tasks), ours

    async def _serve(self, sock: socket.socket) -> None:
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        try:
            writer.write(encode(CONTROL_ID, READY, b"{}"))
            while (frame := await read_frame(reader)) is not None:
                self._frame(frame.id, frame.code, frame.payload, writer)
        finally:
            writer.close()

    def _frame(self, msg_id: int, code: int, payload: bytes, writer: asyncio.StreamWriter) -> None:
        if code == CANCEL:
            self.cancelled.append(msg_id)
            writer.write(encode(msg_id, STREAM_END, b""))
        elif json.loads(payload)["p"] == "/events":
            writer.write(encode(msg_id, STREAM_START, b'{"status": 200}'))
            writer.write(encode(msg_id, STREAM_CHUNK, b"data: 1\n\n"))
        else:
            self.tasks.append(asyncio.create_task(self._hold(msg_id, writer)))

    async def _hold(self, msg_id: int, writer: asyncio.StreamWriter) -> None:
        writer.write(control(HOLD, {"r": msg_id}))
        writer.write(encode(msg_id, 200, b'{"ok": true}'))
        await self.release.wait()
        writer.write(control(RELEASE, {"r": msg_id}))

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()


def pool(**knobs: Any) -> tuple[InstancePool, Instances, list[int]]:
    instances, signals = Instances(), []
    config = PlatformConfig(**knobs)
    kind = FramedKind(instances, config, instances.clock,
                      send_signal=lambda pid, sig: signals.append(sig))
    return InstancePool(config, kind, clock=instances.clock), instances, signals


def test_a_stream_holds_its_slot_until_max_duration_cuts_it() -> None:
    async def main() -> None:
        p, instances, signals = pool(max_duration_s=0.05)
        got: list[bytes] = []

        async def sink(body: StreamBody) -> str:
            while (chunk := await body.chunks.get()) is not None:
                got.append(chunk)
                assert signal.SIGSTOP not in signals  # busy while streaming
            return "ended"

        try:
            reply = await instances.clock.run(p.invoke(HttpRequest("GET", "/events"), sink))
            assert reply.status == 200 and reply.stream is not None
            assert got == [b"data: 1\n\n"] and instances.cancelled == [1]
            assert reply.stream.ended.is_set()
            assert signals == [signal.SIGSTOP]  # frozen once the instance ended the stream
            assert p.counters.timeouts == 0 and len(p.instances) == 1  # cut, not killed
        finally:
            await p.close()

    asyncio.run(main())


def test_a_held_slot_is_freed_and_frozen_only_at_release() -> None:
    async def main() -> None:
        p, instances, signals = pool()
        try:
            reply = await instances.clock.run(p.invoke(HttpRequest("POST", "/hold")))
            assert reply.status == 200 and reply.held is not None
            (inst,) = p.instances.values()
            assert inst.in_flight == 1 and signals == []  # answered, still busy
            instances.release.set()
            await reply.held.wait()
            await instances.clock.settle()
            assert signals == [signal.SIGSTOP]
        finally:
            await p.close()

    asyncio.run(main())
