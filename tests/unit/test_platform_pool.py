"""InstancePool logic with in-process fake instances, recorded signals and a fake clock: no
real time passes (tests.fake_clock), so every count is exact."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import pytest

from harness.apphost.wire import CONTROL_ID, READY, HttpRequest, encode, read_frame
from harness.platform.config import PlatformConfig
from harness.platform.framed import FramedKind
from harness.platform.pool import InstancePool
from tests.fake_clock import FakeClock


class FakeSpawner:
    """Instances are tasks answering {"instance", "path"} (``/slow?ms=N`` takes N ms of the
    fake clock)."""

    pid = 1

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.count = 0
        self.init_s = 0.0  # how long an instance takes before it says it is ready
        self.tasks: dict[int, asyncio.Task[None]] = {}

    async def start(self, timeout_s: float) -> None:
        pass

    async def spawn(self, instance_id: str) -> tuple[int, socket.socket]:
        self.count += 1
        pid = 100_000 + self.count
        ours, theirs = socket.socketpair()
        self.tasks[pid] = asyncio.create_task(self._instance(instance_id, theirs))
        return pid, ours

    async def _instance(self, instance_id: str, sock: socket.socket) -> None:
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        answers: set[asyncio.Task[None]] = set()
        try:
            if self.init_s:
                await self.clock.sleep(self.init_s)
            writer.write(encode(CONTROL_ID, READY, b"{}"))
            while (frame := await read_frame(reader)) is not None:
                task = asyncio.create_task(
                    self._answer(instance_id, frame.id, frame.payload, writer)
                )
                answers.add(task)
                task.add_done_callback(answers.discard)
        finally:
            for task in answers:
                task.cancel()
            writer.close()

    async def _answer(self, iid: str, msg_id: int, payload: bytes, w: asyncio.StreamWriter) -> None:
        req = json.loads(payload)
        ms = int(parse_qs(req["q"]).get("ms", ["0"])[0])
        await self.clock.sleep(ms / 1000.0)
        w.write(encode(msg_id, 200, json.dumps({"instance": iid, "path": req["p"]}).encode()))

    def kill(self, pid: int) -> None:
        task = self.tasks.pop(pid, None)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        for pid in list(self.tasks):
            self.kill(pid)


class Harness:
    def __init__(self, **knobs: Any) -> None:
        self.clock = FakeClock()
        self.signals: list[tuple[int, int]] = []
        self.spawner = FakeSpawner(self.clock)
        config = PlatformConfig(**knobs)
        kind = FramedKind(self.spawner, config, self.clock, send_signal=self._signal)
        self.pool = InstancePool(config, kind, clock=self.clock)

    @property
    def now(self) -> float:
        return self.clock.now

    @now.setter
    def now(self, value: float) -> None:
        self.clock.advance_to(value)  # timers due on the way fire, in order

    def _signal(self, pid: int, sig: int) -> None:
        self.signals.append((pid, sig))
        if sig == signal.SIGKILL:
            self.spawner.kill(pid)

    async def get(self, path: str, query: str = "") -> tuple[int, dict[str, Any]]:
        reply = await self.pool.invoke(HttpRequest("GET", path, query))
        return reply.status, json.loads(reply.body)

    def sigs(self, sig: int) -> int:
        return sum(1 for _, s in self.signals if s == sig)

    def phases(self) -> dict[str, int]:
        return self.pool.snapshot().phases


def run(knobs: dict[str, Any], body: Callable[[Harness], Awaitable[None]]) -> None:
    async def main() -> None:
        h = Harness(**knobs)
        try:
            await h.clock.run(body(h))
        finally:
            await h.pool.close()

    asyncio.run(main())


def test_cold_start_then_reuse_with_freeze_and_thaw() -> None:
    async def body(h: Harness) -> None:
        status, first = await h.get("/read")
        assert status == 200 and first["path"] == "/read"
        assert h.pool.counters.cold_starts == 1 and h.sigs(signal.SIGSTOP) == 1
        assert h.phases()["frozen"] == 1
        status, second = await h.get("/read")
        assert second["instance"] == first["instance"]
        assert (h.sigs(signal.SIGCONT), h.sigs(signal.SIGSTOP)) == (1, 2)
        assert h.pool.counters.cold_starts == 1

    run({}, body)


def test_an_instance_stopped_while_it_starts_did_not_fail_its_init() -> None:
    async def body(h: Harness) -> None:
        h.spawner.init_s = 1.0
        request = asyncio.ensure_future(h.get("/read"))
        await h.clock.sleep(0.5)  # the instance is starting
        assert h.phases()["starting"] == 1
        h.pool.kill_all_now()  # the gateway stops (or the run ends) meanwhile
        await h.clock.settle()
        assert (h.pool.counters.init_failures, h.pool.counters.failed_starts) == (0, 0)
        request.cancel()

    run({}, body)


def test_no_freeze_means_no_signals() -> None:
    async def body(h: Harness) -> None:
        await h.get("/read")
        await h.get("/read")
        assert h.signals == [] and h.phases()["warm"] == 1

    run({"freeze": False}, body)


def test_concurrency_one_starts_one_instance_per_concurrent_request() -> None:
    async def body(h: Harness) -> None:
        results = await asyncio.gather(*(h.get("/slow", "ms=100") for _ in range(5)))
        assert len({b["instance"] for _, b in results}) == 5

    run({}, body)


def test_instance_concurrency_packs_requests() -> None:
    async def body(h: Harness) -> None:
        results = await asyncio.gather(*(h.get("/slow", "ms=100") for _ in range(6)))
        assert len({b["instance"] for _, b in results}) == 2

    run({"instance_concurrency": 3}, body)


def test_reject_when_full_answers_429_and_counts_throttles() -> None:
    async def body(h: Harness) -> None:
        results = await asyncio.gather(*(h.get("/slow", "ms=100") for _ in range(3)))
        assert sorted(s for s, _ in results) == [200, 429, 429]
        assert h.pool.counters.throttled == 2

    run({"max_instances": 1, "when_full": "reject"}, body)


def test_queue_when_full_serves_everyone_with_one_instance() -> None:
    async def body(h: Harness) -> None:
        results = await asyncio.gather(*(h.get("/slow", "ms=20") for _ in range(4)))
        assert [s for s, _ in results] == [200] * 4
        assert h.pool.counters.cold_starts == 1 and h.pool.snapshot().queue == 0

    run({"max_instances": 1}, body)


def test_idle_timeout_kill() -> None:
    async def body(h: Harness) -> None:
        await h.get("/read")
        h.now = 0.9
        h.pool.tick()
        assert h.pool.counters.reaped == 0
        h.now = 1.1
        h.pool.tick()
        assert h.pool.counters.reaped == 1 and h.sigs(signal.SIGKILL) == 1
        assert sum(h.phases().values()) == 0

    run({"idle_timeout_s": 1.0}, body)


def test_idle_timeout_abandon_then_max_lifetime() -> None:
    async def body(h: Harness) -> None:
        _, first = await h.get("/read")
        h.now = 2.0
        h.pool.tick()
        assert h.phases()["zombie"] == 1 and h.sigs(signal.SIGKILL) == 0
        _, second = await h.get("/read")  # zombies are never routed to
        assert second["instance"] != first["instance"]
        assert h.pool.snapshot().to_dict()["instances"] == 1
        h.now = 10.5  # the first is past max_lifetime; the second idle past idle_timeout
        h.pool.tick()
        assert first["instance"] not in h.pool.instances and h.pool.counters.recycled == 1
        assert h.phases()["zombie"] == 1 and h.pool.counters.reaped == 2

    run({"idle_timeout_s": 1.0, "reap": "abandon", "max_lifetime_s": 10.0}, body)


def test_scale_rate_limits_starts() -> None:
    async def body(h: Harness) -> None:
        tasks = [asyncio.create_task(h.get("/slow", "ms=300")) for _ in range(8)]
        await h.clock.settle()
        assert len(h.pool.instances) == 5  # the bucket's burst
        h.now += 1.0  # a token every 0.2 s, taken when the pool's retry timer fires
        await h.clock.settle()
        assert len(h.pool.instances) == 8
        assert [s for s, _ in await asyncio.gather(*tasks)] == [200] * 8

    run({"scale_rate": 5.0}, body)


def test_request_timeout_kills_the_instance() -> None:
    async def body(h: Harness) -> None:
        status, payload = await h.get("/slow", "ms=2000")
        assert status == 504 and payload["error"]["kind"] == "timeout"
        assert h.pool.counters.timeouts == 1 and h.sigs(signal.SIGKILL) == 1

    run({"request_timeout_s": 0.2}, body)


def test_max_duration_is_its_own_kind_and_the_log_says_why(
        capsys: pytest.CaptureFixture[str]) -> None:
    async def body(h: Harness) -> None:
        status, payload = await h.get("/slow", "ms=5000")
        assert status == 504 and payload["error"]["kind"] == "max_duration"
        assert "max_duration=3.0 s exceeded by GET /slow" in payload["error"]["message"]
        assert h.pool.counters.timeouts == 1 and h.sigs(signal.SIGKILL) == 1
        status, payload = await h.get("/slow", "ms=100")  # within the limit: served
        assert status == 200

    run({"request_timeout_s": 30.0, "max_duration_s": 3.0}, body)
    log = capsys.readouterr().err
    assert "platform: instance i1 killed: max_duration=3.0 s exceeded by GET /slow" in log
    assert "the platform's limit on a request's run time" in log


def test_request_timeout_tighter_than_max_duration_stays_a_timeout() -> None:
    async def body(h: Harness) -> None:
        status, payload = await h.get("/slow", "ms=5000")
        assert status == 504 and payload["error"]["kind"] == "timeout"

    run({"request_timeout_s": 1.0, "max_duration_s": 3.0}, body)


def test_stats_cursor_returns_only_new_cold_starts() -> None:
    async def body(h: Harness) -> None:
        await asyncio.gather(*(h.get("/slow", "ms=50") for _ in range(2)))
        snap = h.pool.snapshot()
        assert snap.cursor == 2 and len(snap.events) == 2
        assert h.pool.snapshot(since=2).events == []
        doc = snap.to_dict()
        for key in (
            "starting",
            "busy",
            "warm",
            "frozen",
            "zombie",
            "queue",
            "cold_starts",
            "reaped",
            "throttled",
            "cursor",
            "cold_start_events",
            "t",
            "instances",
        ):
            assert key in doc

    run({}, body)
