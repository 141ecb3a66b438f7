"""The lifecycle of instances: cold start, freeze and thaw, reap, recycle, kill.

    starting --ready--> busy <--> warm/frozen --idle_timeout--> reaped
                                                                ├─ reap = "kill": SIGKILL, gone
                                                                └─ reap = "abandon": zombie
                                                                   (frozen, connection open)
                                                                   until max_lifetime

A cold start waits ``init_delay_s``, then starts an instance of the pool's kind
(harness.platform.kind) until it is ready; its duration is recorded as a cold start, with
the instance's own CPU time until then (harness.platform.task_cpu). An init
that fails answers the request it was started for 502 with the first error's text
(``init_failures``); a start that fails otherwise counts in ``failed_starts``. An instance
the platform itself stopped while it started (the gateway stopping, the end of the run) is
neither: its end is the platform's, not the app's. With
``freeze``, an instance with nothing in flight and nothing pending is frozen at once, and
thawed for its next request. ``tick`` reaps instances idle past ``idle_timeout_s`` and
recycles those past ``max_lifetime_s`` (killed once idle). Whatever background work is still
pending when an instance is killed or abandoned is ``background_lost``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine

from harness.apphost.loader import InitError
from harness.clock import Clock
from harness.platform.config import PlatformConfig
from harness.platform.kind import AppException, InstanceKind, Reply
from harness.platform.members import DEAD, READY, STARTING, ZOMBIE, Member
from harness.platform.routing import Router
from harness.platform.stats import StatsBook
from harness.platform.task_cpu import group_cpu_ms
from harness.results.endpoints import error_body
from harness.results.platform_stats import RaisedException


class Lifecycle:
    """The pool's members and every change of their state."""

    def __init__(self, config: PlatformConfig, kind: InstanceKind, clock: Clock,
                 stats: StatsBook, router: Router, pids_changed: Callable[[], None]) -> None:
        self.config = config
        self.kind = kind
        self.clock = clock
        self.stats = stats
        self.router = router
        self.pids_changed = pids_changed
        self.on_gone: Callable[[], None] = lambda: None  # an instance left: scale again
        self.members: dict[str, Member] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.seq = 0
        self.starting = 0
        self.zombies = 0
        self.cpu_of: Callable[[list[int]], float | None] = group_cpu_ms  # a cold start's CPU

    def live(self) -> int:
        return len(self.members) - self.zombies

    def track(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # ---- cold starts ----------------------------------------------------------------------

    def start_member(self) -> None:
        self.seq += 1
        member = Member(f"i{self.seq}", self.clock.time(), self.clock.monotonic())
        member.instance = self.kind.new(member.id, MemberEvents(self, member))
        self.members[member.id] = member
        self.starting += 1
        self.track(self._boot(member))

    async def _boot(self, member: Member) -> None:
        assert member.instance is not None
        try:
            if self.config.init_delay_s > 0:
                await self.clock.sleep(self.config.init_delay_s)
            await member.instance.start()
        except Exception as exc:
            if member.state == DEAD:
                return
            if member.end_reason:  # the platform stopped it while it started: not a failure
                self.kill(member, member.end_reason)
            elif isinstance(exc, InitError):
                self._init_failed(member, str(exc))
            else:
                self._failed_start(member, exc)
            return
        if member.state == DEAD:
            return
        self.starting -= 1
        member.state = READY
        duration_ms = (self.clock.monotonic() - member.started_mono) * 1000.0
        cpu_ms = self.cpu_of(member.instance.pids())
        self.stats.cold_start(member.started_wall, member.id, duration_ms, cpu_ms)
        self.router.dispatch(member)
        self.settle(member)

    def _init_failed(self, member: Member, error: str) -> None:
        """Count the failed init, keep its text, answer one waiting request 502 with it."""
        self.stats.init_failed(member.started_wall, member.id, error)
        print(f"platform: instance {member.id} init failed: {error}", file=sys.stderr)
        # answered first, so that the kill starts no instance for it
        self.router.answer_first(
            Reply(502, error_body("http_5xx", f"platform: instance init failed: {error}")))
        self.kill(member, f"init failed: {error}")

    def _failed_start(self, member: Member, exc: Exception) -> None:
        self.stats.counters.failed_starts += 1
        print(f"platform: instance {member.id} failed to start: {exc!r}", file=sys.stderr)
        self.kill(member, f"failed to start: {exc!r}")
        self.router.answer_first(Reply(502, error_body("http_5xx", f"platform: {exc}")))

    # ---- slots, freeze and thaw -----------------------------------------------------------

    def assign(self, member: Member) -> None:
        """One slot of ``member`` taken by a request (thawed if frozen)."""
        member.in_flight += 1
        self.thaw(member)

    def release(self, member: Member) -> None:
        member.in_flight -= 1
        if member.state != READY:
            return
        if member.draining and member.idle:
            self.stats.counters.recycled += 1
            self.kill(member, "recycled: max_lifetime reached")
            return
        self.router.dispatch(member)
        self.settle(member)

    def settle(self, member: Member) -> None:
        """After a change: an idle member is frozen (its idle time starts); re-indexed."""
        if member.idle:
            member.idle_since = self.clock.monotonic()
            self.freeze(member)
        self.router.place(member)

    def freeze(self, member: Member) -> None:
        if self.config.freeze and not member.frozen and member.instance is not None:
            member.instance.freeze()
            member.frozen = True

    def thaw(self, member: Member) -> None:
        if member.frozen and member.instance is not None:
            member.instance.thaw()
            member.frozen = False

    # ---- what instances report ------------------------------------------------------------

    def exited(self, member: Member) -> None:
        if member.state != DEAD:
            self.stats.counters.crashed += 1
            self.kill(member, "exited")

    def background_ended(self, member: Member, late: bool) -> None:
        if member.background <= 0:
            return
        member.background -= 1
        self.stats.counters.background_completed += 1
        if late:
            self.stats.counters.background_delayed += 1

    def pending_changed(self, member: Member, count: int) -> None:
        """The instance's own count of pending work: busy (never frozen) while > 0."""
        busy_before = member.pending > 0
        member.pending = max(0, count)
        if member.state != READY or busy_before == (member.pending > 0):
            return
        if member.pending > 0:
            self.thaw(member)  # reported while being frozen: it is not idle after all
        elif member.draining and member.idle:
            self.stats.counters.recycled += 1
            self.kill(member, "recycled: max_lifetime reached")
            return
        self.settle(member)

    def exception(self, member: Member, error: AppException) -> None:
        self.stats.raised(RaisedException(self.clock.time(), member.id, error.type,
                                          error.message, error.where))
        print(f"platform: instance {member.id} unhandled exception: {error.type}: "
              f"{error.message} ({error.where})", file=sys.stderr)

    # ---- the end of an instance -----------------------------------------------------------

    def kill(self, member: Member, reason: str) -> None:
        if member.state == DEAD:
            return
        if member.state == STARTING:
            self.starting -= 1
        if member.state == ZOMBIE:
            self.zombies -= 1
        member.state = DEAD
        member.end_reason = member.end_reason or reason
        self._lose_background(member)
        if member.instance is not None:
            member.instance.kill()
        self.members.pop(member.id, None)
        self.router.remove(member)
        self.pids_changed()
        self.on_gone()

    def reap(self, member: Member) -> None:
        self.stats.counters.reaped += 1
        if self.config.reap == "kill":
            self.kill(member, "reaped")
            return
        member.state = ZOMBIE
        self._lose_background(member)  # frozen for good: its pending work never ends
        self.zombies += 1
        self.router.remove(member)
        if not member.frozen and member.instance is not None:
            member.instance.abandon()
            member.frozen = True
        self.on_gone()

    def _lose_background(self, member: Member) -> None:
        self.stats.counters.background_lost += member.background
        member.background = 0

    def tick(self) -> None:
        """Reap idle instances past idle_timeout; recycle instances past max_lifetime."""
        now = self.clock.monotonic()
        for member in self.router.idle_members():
            if now - member.idle_since >= self.config.idle_timeout_s:
                self.reap(member)
        lifetime = self.config.max_lifetime_s
        if lifetime <= 0:
            return
        for member in list(self.members.values()):
            if member.state == STARTING or now - member.started_mono < lifetime:
                continue
            if member.state == ZOMBIE or member.idle:
                self.stats.counters.recycled += 1
                self.kill(member, "recycled: max_lifetime reached")
            elif not member.draining:
                member.draining = True
                self.router.place(member)

    async def housekeeping(self) -> None:
        period = min(0.1, max(0.01, self.config.idle_timeout_s / 10.0))
        while True:
            await self.clock.sleep(period)
            self.tick()

    def kill_all_now(self, reason: str) -> None:
        """Every instance SIGKILLed at once (also from a signal handler); the bookkeeping
        follows in ``kill``."""
        for member in list(self.members.values()):
            if member.state != DEAD and member.instance is not None:
                member.end_reason = member.end_reason or reason
                member.instance.kill()


class MemberEvents:
    """What one member's instance reports, handed on to the lifecycle."""

    def __init__(self, lifecycle: Lifecycle, member: Member) -> None:
        self.lifecycle = lifecycle
        self.member = member

    def started(self) -> None:
        self.lifecycle.pids_changed()

    def exited(self) -> None:
        self.lifecycle.exited(self.member)

    def background_started(self, units: int) -> None:
        self.member.background += units

    def background_ended(self, late: bool) -> None:
        self.lifecycle.background_ended(self.member, late)

    def pending(self, count: int) -> None:
        self.lifecycle.pending_changed(self.member, count)

    def exception(self, error: AppException) -> None:
        self.lifecycle.exception(self.member, error)
