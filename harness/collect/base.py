"""The collector protocol and the sampler that drives collectors on a fixed rate.

A collector reads one source (``pg_stat_activity``, the server log, PgBouncer's admin
console, the host's processes) and keeps its rows in memory; ``frames()`` hands them over
as the frames of docs/internals.md, ``latest()`` gives a few gauges for the live display.

``Sampler`` is an async context manager: on entry it starts every collector, then calls
each one at its interval (the sampler's, or the collector's own ``interval_s`` when set)
in its own task; on exit it stops them. A failing ``start``/``sample``/``stop`` never
reaches the caller: it is recorded (``failures``), retried with exponential backoff, and
the ticks that got no sample are counted as gaps (``health()``). Time is the injected
``Clock`` (harness.clock): sample times are its wall clock, ticks, backoff and call timeouts
its monotonic clock and timers, so that the unit tests run on a fake one. ``health_records()`` is
what the run folder keeps of it: samples expected and taken, failures with the first one's
text and time, the longest gap between samples, and for a collector with a ``read_to_end``
attribute (the server log) whether it read its source to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import pandas as pd

from harness.clock import SYSTEM_CLOCK, Clock, timeout
from harness.results.records import CollectorHealth


class Collector(Protocol):
    """One source of samples. ``interval_s`` None means the sampler's interval."""

    name: str
    interval_s: float | None

    async def start(self) -> None: ...
    async def sample(self, t: float) -> None: ...
    async def stop(self) -> None: ...
    def frames(self) -> dict[str, pd.DataFrame]: ...
    def latest(self) -> dict[str, float]: ...


@dataclass(frozen=True)
class SampleFailure:
    """One failed call: when (wall clock), which collector, which step, what happened."""

    t: float
    collector: str
    step: str  # "start" | "sample" | "stop"
    error: str


@dataclass(frozen=True)
class LiveHealth:
    """How the sampler sees one collector while it runs (the run folder keeps CollectorHealth)."""

    name: str
    interval_s: float
    samples: int  # successful samples
    failures: int  # failed start/sample/stop calls
    gaps: int  # scheduled ticks without a successful sample
    rate_hz: float  # successful samples per second while the sampler ran
    last_error: str


@dataclass
class _Track:
    """The sampler's bookkeeping for one collector (private, owned by one task)."""

    interval_s: float
    started: bool = False
    samples: int = 0
    failures: int = 0
    gaps: int = 0
    last_error: str = ""
    first_error: str = ""
    first_error_t: float | None = None
    last_ok: float | None = None  # monotonic time of the last successful sample
    longest_gap_s: float = 0.0

    def gap_until(self, now: float, began: float) -> float:
        return now - (self.last_ok if self.last_ok is not None else began)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class Sampler:
    """Calls ``collectors`` every ``interval_s`` seconds while the ``async with`` block runs."""

    def __init__(
        self,
        collectors: Sequence[Collector],
        interval_s: float,
        clock: Clock = SYSTEM_CLOCK,
        *,
        call_timeout_s: float = 5.0,
        max_backoff_s: float = 5.0,
        max_failures_kept: int = 1000,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.collectors = tuple(collectors)
        self.interval_s = interval_s
        self.clock = clock
        self.call_timeout_s = call_timeout_s
        self.max_backoff_s = max_backoff_s
        self.max_failures_kept = max_failures_kept
        self.failures: list[SampleFailure] = []
        if len({c.name for c in self.collectors}) != len(self.collectors):
            raise ValueError("collector names must be unique")
        self._tracks = {c.name: _Track(c.interval_s or interval_s) for c in self.collectors}
        self._tasks: list[asyncio.Task[None]] = []
        self._began = 0.0
        self._ended: float | None = None
        self._stopping = False

    async def __aenter__(self) -> Sampler:
        self._began = self.clock.monotonic()
        try:
            for c in self.collectors:
                self._tracks[c.name].started = await self._call(c, "start", c.start)
        except BaseException:  # cancelled while starting: release what was opened
            for c in self.collectors:
                await self._call(c, "stop", c.stop)
            raise
        for c in self.collectors:
            self._tasks.append(asyncio.create_task(self._run(c), name=f"collect-{c.name}"))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._ended = self.clock.monotonic()
        for c in self.collectors:
            await self._call(c, "stop", c.stop)

    async def after_services(self) -> None:
        """Once the services have stopped: collectors that read what a service writes (the
        server log) read its last lines (``read_rest``), so that what happened while the
        services wound down — an instance refused on its way in — is not lost."""
        for c in self.collectors:
            read_rest = getattr(c, "read_rest", None)
            if read_rest is not None:
                await self._call(c, "read_rest", read_rest)

    async def _call(self, c: Collector, step: str, fn: Callable[[], Awaitable[None]]) -> bool:
        """Run one step with a timeout; record a failure instead of raising it."""
        track = self._tracks[c.name]
        try:
            # a timeout block, not wait_for: in 3.11 wait_for may swallow a cancellation
            async with timeout(self.clock, self.call_timeout_s):
                await fn()
        except Exception as exc:  # noqa: BLE001 - a collector must never stop the run
            track.failures += 1
            track.last_error = f"{step}: {_describe(exc)}"
            if track.first_error_t is None:
                track.first_error, track.first_error_t = track.last_error, self.clock.time()
            if len(self.failures) < self.max_failures_kept:
                self.failures.append(SampleFailure(self.clock.time(), c.name, step,
                                                   _describe(exc)))
            return False
        return True

    async def _attempt(self, c: Collector) -> bool:
        track = self._tracks[c.name]
        if not track.started:
            track.started = await self._call(c, "start", c.start)
            if not track.started:
                return False
        t = self.clock.time()
        ok = await self._call(c, "sample", lambda: c.sample(t))
        if ok:
            now = self.clock.monotonic()
            track.longest_gap_s = max(track.longest_gap_s, track.gap_until(now, self._began))
            track.samples += 1
            track.last_ok = now
        return ok

    async def _run(self, c: Collector) -> None:
        """Sample on ticks ``origin + k * interval``; back off after failures."""
        track = self._tracks[c.name]
        interval = track.interval_s
        origin = self.clock.monotonic()
        tick = 0
        backoff = 0.0
        while not self._stopping:
            delay = origin + tick * interval - self.clock.monotonic()
            if delay > 0:
                await self.clock.sleep(delay)
            ok = await self._attempt(c)
            backoff = 0.0 if ok else min(self.max_backoff_s, max(interval, backoff * 2))
            resume = self.clock.monotonic() + backoff
            next_tick = max(tick + 1, math.ceil((resume - origin) / interval))
            track.gaps += (next_tick - tick - 1) + (0 if ok else 1)
            tick = next_tick

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every frame of every collector (frames of the same name are concatenated)."""
        out: dict[str, pd.DataFrame] = {}
        for c in self.collectors:
            for name, frame in c.frames().items():
                if name in out:
                    merged = pd.concat([out[name], frame], ignore_index=True)
                    out[name] = merged.sort_values("t", kind="stable").reset_index(drop=True)
                else:
                    out[name] = frame
        return out

    def latest(self) -> dict[str, float]:
        """The latest gauges of every collector, for the live display."""
        out: dict[str, float] = {}
        for c in self.collectors:
            with contextlib.suppress(Exception):
                out.update(c.latest())
        return out

    def health_records(self) -> tuple[CollectorHealth, ...]:
        """Each collector's health as the run folder records it (see results.records)."""
        ended = self._ended if self._ended is not None else self.clock.monotonic()
        elapsed = max(ended - self._began, 0.0)
        out = []
        for c in self.collectors:
            tr = self._tracks[c.name]
            read_to_end = getattr(c, "read_to_end", None)
            out.append(CollectorHealth(
                name=c.name, interval_s=tr.interval_s,
                expected=int(elapsed // tr.interval_s) + 1, samples=tr.samples,
                failures=tr.failures, first_error=tr.first_error,
                first_error_t=tr.first_error_t,
                longest_gap_s=round(max(tr.longest_gap_s, tr.gap_until(ended, self._began)), 3),
                read_to_end=read_to_end if isinstance(read_to_end, bool) else None))
        return tuple(out)

    def health(self) -> dict[str, LiveHealth]:
        ended = self._ended if self._ended is not None else self.clock.monotonic()
        elapsed = max(ended - self._began, 1e-9)
        return {
            name: LiveHealth(
                name=name,
                interval_s=tr.interval_s,
                samples=tr.samples,
                failures=tr.failures,
                gaps=tr.gaps,
                rate_hz=tr.samples / elapsed,
                last_error=tr.last_error,
            )
            for name, tr in self._tracks.items()
        }
