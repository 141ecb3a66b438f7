"""Time as a dependency: the monotonic clock, the wall clock, sleeps and timers.

Code that waits — the platform's instance pool, the collectors' ``Sampler`` — takes a
``Clock`` instead of calling ``time.monotonic()``, ``time.time()``, ``asyncio.sleep()`` or
``asyncio.timeout()`` itself, so that its unit tests run on a fake clock that moves only when
the test moves it (no sleeps, exact counts). ``SYSTEM_CLOCK`` is the real one: the event
loop's timers (``loop.call_later``, on the monotonic clock).

``timeout(clock, seconds)`` is ``asyncio.timeout`` on any clock: the block is cancelled when
the clock passes the deadline, and ``TimeoutError`` is raised in its place.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol


class Timer(Protocol):
    """A scheduled callback (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (durations, deadlines)."""
        ...

    def time(self) -> float:
        """Wall-clock epoch seconds (what is recorded: docs/internals.md, "Time")."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Call ``callback`` once ``delay`` seconds have passed on this clock."""
        ...


class SystemClock:
    """The real clock: ``time`` and the running event loop's timers."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback)


SYSTEM_CLOCK: Clock = SystemClock()


class timeout:  # noqa: N801 - used like asyncio.timeout
    """``async with timeout(clock, seconds):`` cancels the block at the deadline (None: no
    deadline) and raises ``TimeoutError`` instead of its cancellation; a cancellation from
    elsewhere passes through unchanged."""

    def __init__(self, clock: Clock, seconds: float | None) -> None:
        self.clock = clock
        self.seconds = seconds
        self.expired = False
        self._task: asyncio.Task[object] | None = None
        self._timer: Timer | None = None
        self._cancelling = 0

    async def __aenter__(self) -> timeout:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("timeout() must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        if self.seconds is not None:
            self._timer = self.clock.call_later(max(0.0, self.seconds), self._expire)
        return self

    def _expire(self) -> None:
        if self._task is not None and not self._task.done():
            self.expired = True
            self._task.cancel()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if not self.expired or self._task is None:
            return
        if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc
