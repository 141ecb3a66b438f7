"""The instance pool: routing, cold starts, freeze/thaw, reaping, scale-out and throttling.

Lifecycle of an instance (docs: issue 3, harness/platform/config.py for the knobs):

    starting --ready--> busy <--> warm/frozen --idle_timeout--> reaped
                                                                ├─ reap = "kill": SIGKILL, gone
                                                                └─ reap = "abandon": zombie
                                                                   (frozen, connection open)
                                                                   until max_lifetime
A request takes a free slot (``in_flight < instance_concurrency``) of a busy instance, else
the most recently used idle one (thawed with SIGCONT if frozen). With none free it waits in
the queue while a cold start is made for it, if ``max_instances`` (zombies not counted) and
the ``scale_rate`` token bucket (burst = one second's worth) allow; with ``when_full =
"reject"`` and ``max_instances`` reached it is answered 429 at once. Whatever frees a slot
first (a new instance, a finished request) serves the queue head. The whole request (queue
and execution) is bounded by ``request_timeout_s``, its execution by ``max_duration_s`` (when
> 0): 504, and an instance that overran either is killed, as Lambda does. With ``freeze``,
an instance with nothing in flight is SIGSTOPped at once. ``max_lifetime_s`` recycles
instances (killed when idle). Signals go to the instance's process group. A streamed answer
(``/events``, harness.platform.stream) holds its slot until it ends; only ``max_duration_s``
bounds it, and a cut stream is cancelled on the instance, which stays alive.

App instances (``config.is_app``, harness.apphost) get HTTP requests with headers and answer
with headers; an init that fails answers the request it was started for 502 with the first
error's text (``init_failures``); each response says how many units of work are still running
(``background``), each unit's end is reported (``background_completed``/``_delayed``), and
whatever is still pending when an instance is killed or abandoned is ``background_lost``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Protocol

from harness.apphost.wire import (
    BACKGROUND_DONE,
    CANCEL,
    CONTROL_ID,
    HOLD,
    INIT_FAILED,
    RELEASE,
    STREAM_CHUNK,
    STREAM_END,
    STREAM_START,
    Frame,
    HttpRequest,
    decode_app_response,
    encode_app_request,
)
from harness.platform.bucket import TokenBucket
from harness.platform.config import PlatformConfig
from harness.platform.instances import DEAD, READY, STARTING, ZOMBIE, Instance, Reply
from harness.platform.pidfile import PidFile
from harness.platform.protocol import encode, encode_request, error_body, read_frame
from harness.platform.stats import (
    MAX_INIT_ERRORS,
    PHASES,
    ColdStart,
    Counters,
    InitError,
    Snapshot,
)
from harness.platform.stream import StreamBody, StreamSink

STREAM_END_TIMEOUT_S = 5.0  # a cancelled stream's instance must end it within this, or is killed


class Spawner(Protocol):
    """Starts instance processes (harness.platform.spawner.TemplateSpawner)."""

    @property
    def pid(self) -> int: ...

    async def spawn(self, instance_id: str) -> tuple[int, socket.socket]: ...

    def close(self) -> None: ...


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


Waiter = asyncio.Future[Instance | Reply]


class InitFailed(Exception):
    """An app instance reported that its init failed; the message is the first error."""


class InstancePool:
    def __init__(
        self,
        config: PlatformConfig,
        spawner: Spawner,
        pidfile_path: os.PathLike[str] | None = None,
        send_signal: Callable[[int, int], None] = signal_group,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.spawner = spawner
        self.send_signal = send_signal
        self.clock = clock
        self.wall = wall
        self.instances: dict[str, Instance] = {}
        self.idle: collections.OrderedDict[str, Instance] = collections.OrderedDict()
        self.partial: dict[str, Instance] = {}
        self.waiters: collections.deque[Waiter] = collections.deque()
        self.bucket = TokenBucket(config.scale_rate, max(1.0, config.scale_rate), clock())
        self.counters = Counters()
        self.cold_starts: list[ColdStart] = []
        self.init_errors: list[InitError] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.seq = 0
        self.starting = 0
        self.zombies = 0
        self.scale_timer: asyncio.TimerHandle | None = None
        self.ticker: asyncio.Task[None] | None = None
        self.closed = False
        self.pidfile = None if pidfile_path is None else PidFile(Path(pidfile_path), self.pids)

    # ---- lifecycle of the pool ------------------------------------------------------------

    def start(self) -> None:
        self.ticker = asyncio.create_task(self._housekeeping())
        if self.pidfile is not None:
            self.pidfile.write()

    def pids(self) -> list[int]:
        """The template's and every live instance's pid (none once the pool is closed)."""
        if self.closed:
            return []
        return [self.spawner.pid] + [i.pid for i in self.instances.values() if i.pid]

    def kill_all_now(self) -> None:
        """Synchronously SIGKILL every instance and the template (safe to call twice)."""
        self.closed = True
        for inst in list(self.instances.values()):
            if inst.pid:
                self.send_signal(inst.pid, signal.SIGKILL)
        self.spawner.close()
        if self.pidfile is not None:
            self.pidfile.write()

    async def close(self) -> None:
        self.kill_all_now()
        if self.scale_timer is not None:
            self.scale_timer.cancel()
        for inst in list(self.instances.values()):
            self._kill(inst, "stopped with the gateway")
        stopping = Reply(503, error_body("http_5xx", "platform: stopping"))
        while self.waiters:
            self._settle(self.waiters.popleft(), stopping)
        tasks = [t for t in (*self.tasks, self.ticker) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.pidfile is not None:
            self.pidfile.write()

    # ---- requests ---------------------------------------------------------------------------

    async def invoke(self, req: HttpRequest, sink: StreamSink | None = None) -> Reply:
        """Run ``req`` on an instance; a streamed answer is relayed through ``sink`` (the
        gateway's, harness.platform.stream) while the request holds its slot."""
        deadline = self.clock() + self.config.request_timeout_s
        got: Instance | Reply | None = self._acquire_now()
        if got is None:
            got = await self._wait_for_instance(deadline)
        if isinstance(got, Reply):
            return got
        inst = got
        reply: Reply | None = None
        try:
            reply = await self._call(inst, req, deadline - self.clock(), sink)
            return reply
        finally:
            if reply is not None and reply.held is not None and inst.state != DEAD:
                self._track(self._release_when_done(inst, reply.held))
            else:
                self._release(inst)

    async def _release_when_done(self, inst: Instance, held: asyncio.Event) -> None:
        """``wait_until``: the slot is freed (and the instance maybe frozen) once the work
        after the response is done, within ``max_duration`` (else ``request_timeout``)."""
        limit = self.config.max_duration_s or self.config.request_timeout_s
        try:
            await asyncio.wait_for(held.wait(), limit)
        except TimeoutError:
            self._kill(inst, f"killed: work after the response still running after {limit} s")
        self._release(inst)

    def _acquire_now(self) -> Instance | None:
        if self.closed or self.waiters:
            return None
        if self.partial:
            inst = next(iter(self.partial.values()))
        elif self.idle:
            _, inst = self.idle.popitem(last=True)
        else:
            return None
        self._assign(inst)
        return inst

    async def _wait_for_instance(self, deadline: float) -> Instance | Reply:
        if self.closed:
            return Reply(503, error_body("http_5xx", "platform: stopping"))
        spare = self.starting * self.config.instance_concurrency - len(self.waiters)
        if spare <= 0 and not self._can_grow() and self.config.when_full == "reject":
            self.counters.throttled += 1
            msg = f"platform: max_instances={self.config.max_instances} reached (when_full=reject)"
            return Reply(429, error_body("http_429", msg))
        waiter: Waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        self._scale()
        try:
            return await asyncio.wait_for(waiter, max(0.0, deadline - self.clock()))
        except TimeoutError:
            msg = f"platform: no instance within request_timeout={self.config.request_timeout_s} s"
            return Reply(504, error_body("timeout", msg))
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                result = waiter.result()
                if isinstance(result, Instance):
                    self._release(result)
            raise

    async def _call(
        self, inst: Instance, req: HttpRequest, timeout: float, sink: StreamSink | None = None
    ) -> Reply:
        if inst.writer is None or inst.state == DEAD:
            return Reply(502, error_body("http_5xx", f"platform: instance {inst.id} is gone"))
        msg_id = inst.next_id
        inst.next_id += 1
        inst.requests += 1
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        inst.pending[msg_id] = future
        begun = self.clock()
        inst.writer.write(self._encode(msg_id, req))
        limit, name = timeout, f"request_timeout={self.config.request_timeout_s}"
        if 0 < self.config.max_duration_s < timeout:
            limit, name = self.config.max_duration_s, f"max_duration={self.config.max_duration_s}"
        try:
            reply = await asyncio.wait_for(future, max(0.0, limit))
        except TimeoutError:
            self.counters.timeouts += 1
            self._kill(inst, f"killed: {name} s exceeded")
            return Reply(504, error_body("timeout", f"platform: {name} s exceeded"))
        finally:
            inst.pending.pop(msg_id, None)
        if reply.stream is not None:
            await self._relay(inst, msg_id, reply.stream, sink, begun)
        held = inst.holds.get(msg_id)
        return reply if held is None else dataclasses.replace(reply, held=held)

    async def _relay(self, inst: Instance, msg_id: int, body: StreamBody,
                     sink: StreamSink | None, begun: float) -> None:
        """Relay a stream until it ends, the client goes or ``max_duration`` cuts it (only
        ``max_duration`` bounds a stream, not ``request_timeout``); a stream still running is
        cancelled, and the slot is freed once the instance has ended it."""
        limit = self.config.max_duration_s
        try:
            if sink is not None and limit > 0:
                await asyncio.wait_for(sink(body), max(0.0, begun + limit - self.clock()))
            elif sink is not None:
                await sink(body)
        except TimeoutError:
            pass  # cut at max_duration: the relay has ended the client's response
        if body.ended.is_set() or inst.writer is None or inst.state == DEAD:
            return
        inst.writer.write(encode(msg_id, CANCEL, b""))
        try:
            await asyncio.wait_for(body.ended.wait(), STREAM_END_TIMEOUT_S)
        except TimeoutError:
            self._kill(inst, f"killed: stream not ended {STREAM_END_TIMEOUT_S} s after cancel")

    def _encode(self, msg_id: int, req: HttpRequest) -> bytes:
        if self.config.is_app:
            return encode_app_request(msg_id, req)
        return encode_request(msg_id, req.method, req.path, req.query, req.body)

    # ---- slots ------------------------------------------------------------------------------

    def _assign(self, inst: Instance) -> None:
        inst.in_flight += 1
        if inst.frozen:
            self.send_signal(inst.pid, signal.SIGCONT)
            inst.frozen = False
        self._reindex(inst)

    def _release(self, inst: Instance) -> None:
        inst.in_flight -= 1
        if inst.state != READY:
            return
        if inst.draining and inst.in_flight == 0:
            self.counters.recycled += 1
            self._kill(inst, "recycled: max_lifetime reached")
            return
        self._dispatch(inst)
        if inst.in_flight == 0:
            inst.idle_since = self.clock()
            self._freeze(inst)
        self._reindex(inst)

    def _reindex(self, inst: Instance) -> None:
        self.idle.pop(inst.id, None)
        self.partial.pop(inst.id, None)
        if inst.state != READY or inst.draining:
            return
        if inst.in_flight == 0:
            self.idle[inst.id] = inst
        elif inst.in_flight < self.config.instance_concurrency:
            self.partial[inst.id] = inst

    def _dispatch(self, inst: Instance) -> None:
        """Give the queue's head requests to ``inst`` while it has free slots."""
        while self.waiters and inst.state == READY and not inst.draining \
                and inst.in_flight < self.config.instance_concurrency:
            waiter = self.waiters.popleft()
            if waiter.done():
                continue
            self._assign(inst)
            waiter.set_result(inst)

    def _freeze(self, inst: Instance) -> None:
        if self.config.freeze and not inst.frozen and inst.pid:
            self.send_signal(inst.pid, signal.SIGSTOP)
            inst.frozen = True

    @staticmethod
    def _settle(waiter: Waiter, reply: Reply) -> None:
        if not waiter.done():
            waiter.set_result(reply)

    # ---- scale-out and cold starts ----------------------------------------------------------

    def _live(self) -> int:
        return len(self.instances) - self.zombies

    def _can_grow(self) -> bool:
        return self._live() < self.config.max_instances

    def _scale(self) -> None:
        """Start as many instances as the queue needs, within max_instances and scale_rate."""
        if self.closed:
            return
        waiting = sum(1 for w in self.waiters if not w.done())
        need = waiting - self.starting * self.config.instance_concurrency
        while need > 0 and self._can_grow():
            now = self.clock()
            if not self.bucket.take(now):
                if self.scale_timer is None:
                    delay = max(0.001, self.bucket.wait_s(now))
                    self.scale_timer = asyncio.get_running_loop().call_later(delay, self._rescale)
                return
            self._start_instance()
            need -= self.config.instance_concurrency

    def _rescale(self) -> None:
        self.scale_timer = None
        self._scale()

    def _start_instance(self) -> None:
        self.seq += 1
        inst = Instance(f"i{self.seq}", self.wall(), self.clock())
        self.instances[inst.id] = inst
        self.starting += 1
        self._track(self._boot(inst))

    def _track(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _boot(self, inst: Instance) -> None:
        try:
            reader = await self._spawn(inst)
        except InitFailed as exc:
            self._init_failed(inst, str(exc))
            return
        except Exception as exc:
            if inst.state == DEAD:
                return
            self.counters.failed_starts += 1
            print(f"platform: instance {inst.id} failed to start: {exc!r}", file=sys.stderr)
            self._kill(inst, f"failed to start: {exc!r}")
            for waiter in self.waiters:
                if not waiter.done():
                    self._settle(waiter, Reply(502, error_body("http_5xx", f"platform: {exc}")))
                    break
            return
        if inst.state == DEAD:
            return
        self.starting -= 1
        inst.state = READY
        duration_ms = (self.clock() - inst.started_mono) * 1000.0
        self.cold_starts.append(ColdStart(inst.started_wall, inst.id, duration_ms))
        self.counters.cold_starts += 1
        self._track(self._read_replies(inst, reader))
        self._dispatch(inst)
        if inst.in_flight == 0:
            inst.idle_since = self.clock()
            self._freeze(inst)
        self._reindex(inst)

    def _init_failed(self, inst: Instance, error: str) -> None:
        """Count the failed init, keep its text, answer one waiting request 502 with it."""
        if inst.state == DEAD:
            return
        self.counters.init_failures += 1
        known = {e.error for e in self.init_errors}
        if error not in known and len(self.init_errors) < MAX_INIT_ERRORS:
            self.init_errors.append(InitError(inst.started_wall, inst.id, error))
        print(f"platform: instance {inst.id} init failed: {error}", file=sys.stderr)
        reply = Reply(502, error_body("http_5xx", f"platform: instance init failed: {error}"))
        for waiter in self.waiters:  # answered first, so that the kill starts no instance for it
            if not waiter.done():
                self._settle(waiter, reply)
                break
        self._kill(inst, f"init failed: {error}")

    async def _spawn(self, inst: Instance) -> asyncio.StreamReader:
        if self.config.init_delay_s > 0:
            await asyncio.sleep(self.config.init_delay_s)
        if inst.state == DEAD:
            raise ConnectionError("stopped while starting")
        pid, sock = await self.spawner.spawn(inst.id)
        inst.pid = pid
        if inst.state == DEAD:  # killed while the template forked it
            self.send_signal(pid, signal.SIGKILL)
            sock.close()
            raise ConnectionError("stopped while starting")
        if self.pidfile is not None:
            self.pidfile.changed()
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        inst.writer = writer
        try:
            frame = await asyncio.wait_for(read_frame(reader), self.config.startup_timeout_s)
        except TimeoutError:
            if self.config.is_app:
                limit = self.config.startup_timeout_s
                raise InitFailed(f"init not done within {limit} s") from None
            raise
        if frame is None and self.config.is_app:
            raise InitFailed("the instance exited during its init without a message "
                             "(see gateway.log)")
        if frame is None:
            raise ConnectionError(f"instance {inst.id} (pid {pid}) exited while starting")
        if frame.id == CONTROL_ID and frame.code == INIT_FAILED:
            raise InitFailed(str(json.loads(frame.payload).get("error", "init failed")))
        return reader

    async def _read_replies(self, inst: Instance, reader: asyncio.StreamReader) -> None:
        while True:
            frame = await read_frame(reader)
            if frame is None:
                break
            if frame.id == CONTROL_ID:
                self._control(inst, frame)
                continue
            if frame.code in (STREAM_CHUNK, STREAM_END):
                self._stream_frame(inst, frame)
                continue
            reply = self._reply(inst, frame)
            future = inst.pending.pop(frame.id, None)
            if future is not None and not future.done():
                future.set_result(reply)
        if inst.state != DEAD:
            self.counters.crashed += 1
            self._kill(inst, "exited")

    @staticmethod
    def _stream_frame(inst: Instance, frame: Frame) -> None:
        body = inst.streams.get(frame.id)
        if body is None:
            return
        if frame.code == STREAM_CHUNK:
            body.put(frame.payload)
        else:
            inst.streams.pop(frame.id, None)
            body.end()

    def _reply(self, inst: Instance, frame: Frame) -> Reply:
        if frame.code == STREAM_START:
            body = StreamBody(int(json.loads(frame.payload).get("status", 200)))
            inst.streams[frame.id] = body
            return Reply(body.status, b"", stream=body)
        if not self.config.is_app:
            return Reply(frame.code, frame.payload)
        response = decode_app_response(frame.code, frame.payload)
        inst.background += response.pending
        return Reply(response.status, response.body, response.headers)

    def _control(self, inst: Instance, frame: Frame) -> None:
        """A control frame from a running instance: one unit of background work ended, or a
        request's slot held after its answer (``HOLD``) or released (``RELEASE``)."""
        if frame.code in (HOLD, RELEASE):
            msg_id = int(json.loads(frame.payload)["r"])
            held = inst.holds.setdefault(msg_id, asyncio.Event())
            if frame.code == RELEASE:
                held.set()
                inst.holds.pop(msg_id, None)
            return
        if frame.code != BACKGROUND_DONE or inst.background <= 0:
            return
        inst.background -= 1
        self.counters.background_completed += 1
        if json.loads(frame.payload).get("late"):
            self.counters.background_delayed += 1

    def _lose_background(self, inst: Instance) -> None:
        self.counters.background_lost += inst.background
        inst.background = 0

    # ---- reaping ----------------------------------------------------------------------------

    def _kill(self, inst: Instance, reason: str) -> None:
        if inst.state == DEAD:
            return
        if inst.state == STARTING:
            self.starting -= 1
        if inst.state == ZOMBIE:
            self.zombies -= 1
        inst.state = DEAD
        self._lose_background(inst)
        if inst.pid:
            self.send_signal(inst.pid, signal.SIGKILL)
        self.instances.pop(inst.id, None)
        self.idle.pop(inst.id, None)
        self.partial.pop(inst.id, None)
        if inst.writer is not None:
            inst.writer.close()
        for future in inst.pending.values():
            if not future.done():
                msg = f"platform: instance {inst.id} {reason}"
                future.set_result(Reply(502, error_body("http_5xx", msg)))
        inst.pending.clear()
        for body in inst.streams.values():
            body.end()
        inst.streams.clear()
        for held in inst.holds.values():
            held.set()
        inst.holds.clear()
        if self.pidfile is not None:
            self.pidfile.changed()
        self._scale()

    def _reap(self, inst: Instance) -> None:
        self.counters.reaped += 1
        if self.config.reap == "kill":
            self._kill(inst, "reaped")
            return
        inst.state = ZOMBIE
        self._lose_background(inst)  # frozen for good: its pending work never ends
        self.zombies += 1
        self.idle.pop(inst.id, None)
        self.partial.pop(inst.id, None)
        if not inst.frozen and inst.pid:
            self.send_signal(inst.pid, signal.SIGSTOP)
            inst.frozen = True
        self._scale()

    def tick(self) -> None:
        """Reap idle instances past idle_timeout; recycle instances past max_lifetime."""
        now = self.clock()
        for inst in list(self.idle.values()):
            if now - inst.idle_since < self.config.idle_timeout_s:
                break
            self._reap(inst)
        lifetime = self.config.max_lifetime_s
        if lifetime <= 0:
            return
        for inst in list(self.instances.values()):
            if inst.state == STARTING or now - inst.started_mono < lifetime:
                continue
            if inst.state == ZOMBIE or inst.in_flight == 0:
                self.counters.recycled += 1
                self._kill(inst, "recycled: max_lifetime reached")
            elif not inst.draining:
                inst.draining = True
                self._reindex(inst)

    async def _housekeeping(self) -> None:
        period = min(0.1, max(0.01, self.config.idle_timeout_s / 10.0))
        while True:
            await asyncio.sleep(period)
            self.tick()

    # ---- reporting --------------------------------------------------------------------------

    def snapshot(self, since: int = 0) -> Snapshot:
        phases = dict.fromkeys(PHASES, 0)
        for inst in self.instances.values():
            phases[inst.phase] += 1
        since = max(0, min(since, len(self.cold_starts)))
        return Snapshot(
            t=self.wall(),
            phases=phases,
            queue=sum(1 for w in self.waiters if not w.done()),
            counters=Counters(**vars(self.counters)),
            cursor=len(self.cold_starts),
            events=self.cold_starts[since:],
            background_pending=sum(i.background for i in self.instances.values()),
            init_errors=list(self.init_errors),
        )

    def describe(self) -> list[dict[str, object]]:
        now = self.clock()
        return [inst.describe(now) for inst in self.instances.values()]
