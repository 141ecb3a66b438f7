"""The instance pool: runs each request on an instance, with the platform's limits.

The pool joins four parts, one job each:

    routing.py     Router     which instance serves a request; the queue when none can
    scaling.py     Scaler     cold starts for the queue: max_instances, scale_rate, throttle
    lifecycle.py   Lifecycle  cold start, freeze/thaw, reap, recycle, kill
    stats.py       StatsBook  counters, cold starts, init failures (harness.results.platform_stats)

and drives instances of one kind (harness.platform.kind: the seam to whatever runs the
request; the registry is harness.platform.kinds). Time is the injected ``Clock``.

A request waits for a slot (routing, scaling), then runs on its instance. The whole request
(queue and execution) is bounded by ``request_timeout_s``, its execution by
``max_duration_s`` (when > 0): 504 of kind ``max_duration`` (the platform's limit: a
function's timeout) or ``timeout`` (``request_timeout``), and an instance that overran either
is killed, as Lambda does; the gateway's log says which limit killed it. With
``when_full = "reject"`` and ``max_instances`` reached it is answered 429 at once.
A streamed answer (``/events``, harness.platform.stream) holds its slot until it ends; only
``max_duration_s`` bounds it, and a cut stream is cancelled on the instance, which stays
alive. A WebSocket is such a stream once the instance has accepted it (the handshake is
bounded like a request). A held answer (``wait_until``) keeps its slot until the instance
releases it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from harness.apphost.wire import HttpRequest
from harness.clock import SYSTEM_CLOCK, Clock, timeout
from harness.platform.config import PlatformConfig
from harness.platform.kind import InstanceGone, InstanceKind, Reply
from harness.platform.lifecycle import Lifecycle
from harness.platform.members import DEAD, Member
from harness.platform.pidfile import PidFile
from harness.platform.routing import Router, Waiter
from harness.platform.scaling import Scaler
from harness.platform.stats import StatsBook
from harness.platform.stream import StreamBody, StreamSink
from harness.results.endpoints import error_body
from harness.results.platform_stats import Counters, PlatformStats

END_OF_RUN_WAIT_S = 20.0  # work kept alive (waitUntil) finishes before the end-of-run reap
STREAM_END_TIMEOUT_S = 5.0  # a cancelled stream's instance must end it within this, or is killed


def _stopping() -> Reply:
    return Reply(503, error_body("http_5xx", "platform: stopping"))


class InstancePool:
    def __init__(self, config: PlatformConfig, kind: InstanceKind,
                 pidfile_path: os.PathLike[str] | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self.kind = kind
        self.clock = clock
        self.closed = False
        self.pidfile = None if pidfile_path is None else PidFile(Path(pidfile_path), self.pids)
        self.stats = StatsBook()
        self.life = Lifecycle(config, kind, clock, self.stats,
                              Router(config.instance_concurrency, self._assign),
                              self._pids_changed)
        self.router = self.life.router
        self.scaler = Scaler(config, clock, self.life, self.router.waiting)
        self.life.on_gone = self.scaler.scale
        self.ticker: asyncio.Task[None] | None = None

    def _assign(self, member: Member) -> None:
        self.life.assign(member)

    @property
    def counters(self) -> Counters:
        return self.stats.counters

    @property
    def instances(self) -> dict[str, Member]:
        return self.life.members

    # ---- the pool's own lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Start the kind (the template, ...), then reap and recycle on a timer."""
        await self.kind.start(self.config.startup_timeout_s)
        self.ticker = asyncio.create_task(self.life.housekeeping())
        if self.pidfile is not None:
            self.pidfile.write()

    def pids(self) -> list[int]:
        """The kind's pid and every live instance's (none once the pool is closed)."""
        if self.closed:
            return []
        return [self.kind.pid] + [pid for m in self.life.members.values() for pid in m.pids()]

    def _pids_changed(self) -> None:
        if self.pidfile is not None:
            self.pidfile.changed()

    def kill_all_now(self) -> None:
        """Synchronously SIGKILL every instance and the kind's processes (safe to call twice)."""
        self.closed = True
        self.scaler.close()
        self.life.kill_all_now("stopped with the gateway")
        self.kind.close()
        if self.pidfile is not None:
            self.pidfile.write()

    async def close(self) -> None:
        self.kill_all_now()
        for member in list(self.life.members.values()):
            self.life.kill(member, "stopped with the gateway")
        self.router.answer_all(_stopping())
        tasks = [t for t in (*self.life.tasks, self.ticker) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.pidfile is not None:
            self.pidfile.write()

    async def end_of_run(self) -> int:
        """Kill every instance (the run is over: work frozen in them is lost, as when the
        platform discards them); the number killed. Work an instance keeps alive, its
        control channel's pending count above 0 (``waitUntil``), is let finish first, as
        the platform does, up to ``END_OF_RUN_WAIT_S``. The pool stays usable."""
        deadline = self.clock.monotonic() + END_OF_RUN_WAIT_S
        while self.clock.monotonic() < deadline and any(
                m.pending > 0 and m.state != DEAD for m in self.life.members.values()):
            await self.clock.sleep(0.02)
        members = list(self.life.members.values())
        for member in members:
            self.life.kill(member, "stopped at the end of the run")
        return len(members)

    def tick(self) -> None:
        """Reap and recycle now (the housekeeping task calls it on a timer)."""
        self.life.tick()

    # ---- requests -------------------------------------------------------------------------

    async def invoke(self, req: HttpRequest, sink: StreamSink | None = None,
                     websocket: bool = False) -> Reply:
        """Run ``req`` on an instance; a streamed answer is relayed through ``sink`` (the
        gateway's, harness.platform.stream) while the request holds its slot. ``websocket``:
        open a WebSocket instead (an accepted one is a stream, relayed the same way)."""
        deadline = self.clock.monotonic() + self.config.request_timeout_s
        got: Member | Reply | None = None if self.closed else self.router.acquire_now()
        if got is None:
            got = await self._wait_for_instance(deadline)
        if isinstance(got, Reply):
            return got
        member = got
        reply: Reply | None = None
        try:
            reply = await self._call(member, req, deadline - self.clock.monotonic(), sink,
                                     websocket)
            return reply
        finally:
            if reply is not None and reply.held is not None and member.state != DEAD:
                self.life.track(self._release_when_done(member, reply.held))
            else:
                self.life.release(member)

    async def _wait_for_instance(self, deadline: float) -> Member | Reply:
        if self.closed:
            return _stopping()
        if self.scaler.must_reject(len(self.router.waiters)):
            self.counters.throttled += 1
            msg = f"platform: max_instances={self.config.max_instances} reached (when_full=reject)"
            return Reply(429, error_body("http_429", msg))
        waiter = self.router.enqueue()
        msg = f"platform: no instance within request_timeout={self.config.request_timeout_s} s"
        late = Reply(504, error_body("timeout", msg))
        expiry = self.clock.call_later(max(0.0, deadline - self.clock.monotonic()),
                                       lambda: _settle(waiter, late))
        self.scaler.scale()
        try:
            return await waiter
        except asyncio.CancelledError:  # the client went: a slot given meanwhile is freed
            result = None if not waiter.done() or waiter.cancelled() else waiter.result()
            if isinstance(result, Member):
                self.life.release(result)
            raise
        finally:
            expiry.cancel()

    async def _call(self, member: Member, req: HttpRequest, remaining: float,
                    sink: StreamSink | None, websocket: bool = False) -> Reply:
        if member.state == DEAD or member.instance is None or not member.instance.alive:
            return _gone(member, "is gone")
        member.requests += 1
        begun = self.clock.monotonic()
        limit, name, kind = self._limit(remaining)
        try:
            async with timeout(self.clock, max(0.0, limit)):
                instance = member.instance
                reply = await (instance.websocket(req) if websocket else instance.send(req))
        except TimeoutError:
            self.counters.timeouts += 1
            why = f"{name} s exceeded by {req.method} {req.path}"
            print(f"platform: instance {member.id} killed: {why} "
                  f"({_LIMITS[kind]})", file=sys.stderr)
            self.life.kill(member, f"killed: {why}")
            return Reply(504, error_body(kind, f"platform: {why}"))
        except InstanceGone as exc:
            return _gone(member, member.end_reason or str(exc) or "is gone")
        if reply.stream is not None:
            await self._relay(member, reply.stream, sink, begun)
        return reply

    def _limit(self, remaining: float) -> tuple[float, str, str]:
        """How long the request may run on its instance, the limit's name and the error
        kind of a request it cuts: ``max_duration`` when it is the tighter bound, else what
        is left of ``request_timeout`` (``timeout``)."""
        if 0 < self.config.max_duration_s < remaining:
            return (self.config.max_duration_s, f"max_duration={self.config.max_duration_s}",
                    "max_duration")
        return remaining, f"request_timeout={self.config.request_timeout_s}", "timeout"

    async def _relay(self, member: Member, body: StreamBody, sink: StreamSink | None,
                     begun: float) -> None:
        """Relay a stream until it ends, the client goes or ``max_duration`` cuts it (only
        ``max_duration`` bounds a stream, not ``request_timeout``); a stream still running is
        cancelled, and the slot is freed once the instance has ended it."""
        limit = self.config.max_duration_s
        if sink is not None:
            deadline = max(0.0, begun + limit - self.clock.monotonic()) if limit > 0 else None
            try:
                async with timeout(self.clock, deadline):
                    await sink(body)
            except TimeoutError:
                pass  # cut at max_duration: the relay has ended the client's response
        if body.ended.is_set() or member.state == DEAD:
            return
        body.cancel()
        try:
            async with timeout(self.clock, STREAM_END_TIMEOUT_S):
                await body.ended.wait()
        except TimeoutError:
            self.life.kill(member, f"killed: stream not ended {STREAM_END_TIMEOUT_S} s after "
                                   "cancel")

    async def _release_when_done(self, member: Member, held: asyncio.Event) -> None:
        """``wait_until``: the slot is freed (and the instance maybe frozen) once the work
        after the response is done, within ``max_duration`` (else ``request_timeout``)."""
        limit = self.config.max_duration_s or self.config.request_timeout_s
        try:
            async with timeout(self.clock, limit):
                await held.wait()
        except TimeoutError:
            self.life.kill(member, f"killed: work after the response still running after "
                                   f"{limit} s")
        self.life.release(member)

    # ---- reporting ------------------------------------------------------------------------

    def snapshot(self, since: int = 0, exceptions_since: int = 0) -> PlatformStats:
        members = self.life.members.values()
        return self.stats.snapshot(
            self.clock.time(), [m.phase for m in members], self.router.waiting(),
            sum(m.background for m in members), since, exceptions_since)

    def describe(self) -> list[dict[str, object]]:
        now = self.clock.monotonic()
        return [m.describe(now) for m in self.life.members.values()]


_LIMITS = {
    "max_duration": "the platform's limit on a request's run time, as a function's timeout: "
                    "its instance is discarded",
    "timeout": "the client's request_timeout, queueing included",
}
"""Why an instance was killed for a request it ran too long, for the gateway's log."""


def _settle(waiter: Waiter, reply: Reply) -> None:
    if not waiter.done():
        waiter.set_result(reply)


def _gone(member: Member, reason: str) -> Reply:
    return Reply(502, error_body("http_5xx", f"platform: instance {member.id} {reason}"))
