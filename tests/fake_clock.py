"""A fake ``harness.clock.Clock`` for unit tests: time moves only when the test moves it.

``FakeClock.run(coro)`` runs a coroutine to its end with time "jumping": whenever every task
has done what it can (the event loop turned ``SETTLE_TURNS`` times), the clock advances to
the next timer and fires it. A test therefore sleeps no real time, and its counts are exact:
what happens at t = 0.3 s happens at exactly 0.3 s whatever the machine's load. Inside
``run``, ``await clock.settle()`` lets everything run that can at the current time (time does
not jump meanwhile), so that the test can look at the state at that time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
SETTLE_TURNS = 200  # event-loop turns that let every ready task run (sockets included)


class FakeTimer:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    def __init__(self, start: float = 0.0, wall_offset: float = 1_700_000_000.0) -> None:
        self.now = start
        self.wall_offset = wall_offset
        self._timers: list[tuple[float, int, FakeTimer]] = []
        self._seq = itertools.count()
        self._holds = 0  # settle() calls in progress: no jump meanwhile

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self.wall_offset

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(self.now + max(0.0, delay), callback)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        done = asyncio.get_running_loop().create_future()
        timer = self.call_later(seconds, lambda: done.done() or done.set_result(None))
        try:
            await done
        finally:
            timer.cancel()

    def next_deadline(self) -> float | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on, firing every timer due on the way, in order."""
        self.advance_to(self.now + seconds)

    def advance_to(self, when: float) -> None:
        while (deadline := self.next_deadline()) is not None and deadline <= when:
            _, _, timer = heapq.heappop(self._timers)
            self.now = max(self.now, timer.when)
            timer.callback()
        self.now = max(self.now, when)

    async def run(self, aw: Awaitable[T], limit_s: float = 3600.0) -> T:
        """Await ``aw``, jumping the clock to the next timer whenever nothing else can run;
        an ``AssertionError`` if it is still waiting with no timer left, or past ``limit_s``."""
        task = asyncio.ensure_future(aw)
        try:
            while not task.done():
                await settle()
                if task.done() or self._holds:
                    continue
                deadline = self.next_deadline()
                if deadline is None or deadline > limit_s:
                    raise AssertionError(f"stuck at t={self.now}: nothing left to wait for")
                self.advance_to(deadline)
            return task.result()
        finally:
            if not task.done():
                task.cancel()


    async def settle(self) -> None:
        """Let every task run that can at the current time (no jump meanwhile)."""
        self._holds += 1
        try:
            await settle()
        finally:
            self._holds -= 1


async def settle() -> None:
    """Let every task that can run, run (and sockets deliver what was written)."""
    for _ in range(SETTLE_TURNS):
        await asyncio.sleep(0)
