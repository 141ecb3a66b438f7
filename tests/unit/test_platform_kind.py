"""The kind-of-instance seam: a kind written in a few lines (no socket, no process) plugs into
the pool unchanged; its pending work keeps it busy; the stats read back strictly; the clock's
timeout. All on a fake clock (tests.fake_clock)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from harness.apphost.loader import InitError
from harness.apphost.wire import HttpRequest
from harness.clock import timeout
from harness.platform.config import PlatformConfig
from harness.platform.kind import AppException, InstanceEvents, InstanceGone, Reply
from harness.platform.pool import InstancePool
from harness.platform.stream import StreamBody
from harness.results.platform_stats import PlatformStats
from tests.fake_clock import FakeClock


class Memory:
    """An instance that answers its id after ``ms`` of the fake clock; records what it was told."""

    def __init__(self, kind: MemoryKind, instance_id: str, events: InstanceEvents) -> None:
        self.kind, self.id, self.events = kind, instance_id, events
        self.calls: list[str] = []
        self.dead = False

    @property
    def alive(self) -> bool:
        return not self.dead

    def pids(self) -> list[int]:
        return [] if self.dead else [1000 + int(self.id[1:])]

    async def start(self) -> None:
        self.calls.append("start")
        if self.kind.init_error:
            raise InitError(self.kind.init_error)
        await self.kind.clock.sleep(self.kind.start_s)
        self.events.started()

    async def send(self, request: HttpRequest) -> Reply:
        if self.dead:
            raise InstanceGone()
        self.calls.append(f"send {request.path}")
        await self.kind.clock.sleep(float(request.query or 0))
        if request.path == "/later":  # work announced before the response ends
            self.events.pending(1)
        return Reply(200, json.dumps({"instance": self.id}).encode())

    async def websocket(self, request: HttpRequest) -> Reply:
        """Accepted on /ws: one message now, the rest never (until cancelled)."""
        self.calls.append(f"websocket {request.path}")
        if request.path != "/ws":
            return Reply(404, b"no")
        body = StreamBody(101, cancel=lambda: self.calls.append("cancel") or body.end())
        body.put("hello")
        return Reply(101, b"", stream=body)

    def freeze(self) -> None:
        self.calls.append("freeze")

    def thaw(self) -> None:
        self.calls.append("thaw")

    def abandon(self) -> None:
        self.calls.append("abandon")

    def kill(self) -> None:
        self.calls.append("kill")
        self.dead = True


class MemoryKind:
    pid = 1

    def __init__(self, clock: FakeClock, start_s: float = 0.05, init_error: str = "") -> None:
        self.clock, self.start_s, self.init_error = clock, start_s, init_error
        self.made: list[Memory] = []

    async def start(self, timeout_s: float) -> None:
        pass

    def new(self, instance_id: str, events: InstanceEvents) -> Memory:
        self.made.append(Memory(self, instance_id, events))
        return self.made[-1]

    def close(self) -> None:
        pass


def run(body: Any, **knobs: Any) -> None:
    async def main() -> None:
        clock = FakeClock()
        kind = MemoryKind(clock, init_error=knobs.pop("init_error", ""))
        pool = InstancePool(PlatformConfig(**knobs), kind, clock=clock)
        try:
            await clock.run(body(pool, kind, clock))
        finally:
            await pool.close()

    asyncio.run(main())


def test_a_kind_in_memory_runs_through_routing_scaling_and_the_lifecycle() -> None:
    async def body(pool: InstancePool, kind: MemoryKind, clock: FakeClock) -> None:
        replies = await asyncio.gather(*(pool.invoke(HttpRequest("GET", "/x", "0.2"))
                                         for _ in range(3)))
        assert [r.status for r in replies] == [200] * 3
        assert len(kind.made) == 3 and clock.now == pytest.approx(0.25)  # 0.05 start + 0.2
        assert pool.snapshot().events[0].duration_ms == pytest.approx(50.0)
        assert all(m.calls == ["start", "send /x", "freeze"] for m in kind.made)
        assert pool.pids() == [1, 1001, 1002, 1003]
        clock.advance(1.0)  # past idle_timeout
        pool.tick()
        assert pool.counters.reaped == 3 and all(m.dead for m in kind.made)

    run(body, idle_timeout_s=1.0)


def test_pending_work_keeps_an_instance_busy_until_it_reports_none() -> None:
    async def body(pool: InstancePool, kind: MemoryKind, clock: FakeClock) -> None:
        assert (await pool.invoke(HttpRequest("GET", "/later"))).status == 200
        (member,) = pool.instances.values()
        (instance,) = kind.made
        assert member.phase == "busy" and "freeze" not in instance.calls
        clock.advance(5.0)
        pool.tick()  # busy: not reaped, however long
        assert pool.counters.reaped == 0
        instance.events.pending(0)
        assert member.phase == "frozen" and instance.calls[-1] == "freeze"
        instance.events.exception(AppException("TypeError", "x is undefined", "api/a.js:3"))
        assert pool.counters.exceptions == 1

    run(body, idle_timeout_s=1.0)


def test_an_init_error_answers_502_with_its_text() -> None:
    async def body(pool: InstancePool, kind: MemoryKind, clock: FakeClock) -> None:
        reply = await pool.invoke(HttpRequest("GET", "/x"))
        assert reply.status == 502 and b"init failed: no module named app" in reply.body
        assert pool.counters.init_failures == 1
        assert [e.error for e in pool.snapshot().init_errors] == ["no module named app"]

    run(body, init_error="no module named app")


def test_stats_round_trip_and_a_missing_field_is_an_error() -> None:
    async def body(pool: InstancePool, kind: MemoryKind, clock: FakeClock) -> None:
        await pool.invoke(HttpRequest("GET", "/x"))
        doc = json.loads(json.dumps(pool.snapshot().to_dict()))
        assert PlatformStats.from_dict(doc) == pool.snapshot()
        del doc["reaped"]
        with pytest.raises(ValueError, match="reaped: missing"):
            PlatformStats.from_dict(doc)
        with pytest.raises(ValueError, match="unknown keys"):
            PlatformStats.from_dict({**pool.snapshot().to_dict(), "renamed": 0})

    run(body)


def test_clock_timeout_cuts_a_block_at_the_deadline_only() -> None:
    async def body() -> list[str]:
        seen = []
        try:
            async with timeout(clock, 0.5):
                await clock.sleep(2.0)
        except TimeoutError:
            seen.append(f"cut at {clock.now}")
        async with timeout(clock, 0.5):
            await clock.sleep(0.1)
        seen.append(f"done at {clock.now}")
        return seen

    clock = FakeClock()
    assert asyncio.run(clock.run(body())) == ["cut at 0.5", "done at 0.6"]


def test_a_websocket_holds_its_slot_until_max_duration_cuts_it() -> None:
    async def body(pool: InstancePool, kind: MemoryKind, clock: FakeClock) -> None:
        got: list[object] = []

        async def relay(stream: StreamBody) -> str:
            while (chunk := await stream.chunks.get()) is not None:
                got.append(chunk)
                (member,) = pool.instances.values()
                got.append(member.phase)  # busy while the socket is open
            return "ended"

        reply = await pool.invoke(HttpRequest("GET", "/ws"), relay, websocket=True)
        assert reply.status == 101 and got == ["hello", "busy"]
        assert clock.now == pytest.approx(0.05 + 2.0)  # cold start, then cut at max_duration
        (instance,) = kind.made
        assert instance.calls == ["start", "websocket /ws", "cancel", "freeze"]
        refused = await pool.invoke(HttpRequest("GET", "/nope"), relay, websocket=True)
        assert (refused.status, refused.stream) == (404, None)

    run(body, max_duration_s=2.0)
