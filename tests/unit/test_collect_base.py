"""Unit tests of the Sampler with fake collectors (no services) on a fake clock: no real time
passes (tests.fake_clock), so the counts are exact."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from harness.collect.base import Collector, Sampler
from tests.fake_clock import FakeClock


class Fake:
    """A collector that records its calls; ``fail`` decides which sample calls raise."""

    def __init__(
        self,
        name: str,
        interval_s: float | None = None,
        *,
        fail_start: int = 0,
        fail_every: int = 0,
        hang_s: float = 0.0,
        fail_stop: bool = False,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self.fail_start = fail_start
        self.fail_every = fail_every
        self.hang_s = hang_s
        self.fail_stop = fail_stop
        self.starts = 0
        self.calls = 0
        self.stopped = False
        self.ts: list[float] = []
        self.clock = FakeClock()  # the sampler's, set by run()

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.fail_start:
            raise ConnectionRefusedError("not up yet")

    async def sample(self, t: float) -> None:
        self.calls += 1
        if self.hang_s:
            await self.clock.sleep(self.hang_s)
        if self.fail_every and self.calls % self.fail_every == 0:
            raise RuntimeError(f"boom {self.calls}\nsecond line")
        self.ts.append(t)

    async def stop(self) -> None:
        self.stopped = True
        if self.fail_stop:
            raise OSError("cannot close")

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"ticks": pd.DataFrame({"t": self.ts, "who": [self.name] * len(self.ts)})}

    def latest(self) -> dict[str, float]:
        return {f"{self.name}.n": float(len(self.ts))}


def run(collectors: list[Fake], seconds: float, clock: FakeClock | None = None,
        **kw: float) -> Sampler:
    """Sample for ``seconds`` of fake time (on ``clock``, else a new one)."""
    clock = clock or collectors[0].clock
    for c in collectors:
        c.clock = clock

    async def go() -> Sampler:
        fakes: list[Collector] = list(collectors)
        async with Sampler(fakes, clock=clock, **kw) as sampler:  # type: ignore[arg-type]
            await clock.sleep(seconds)
        return sampler

    return asyncio.run(clock.run(go()))


def test_samples_at_the_interval_and_stops_everything() -> None:
    a, b = Fake("a"), Fake("b", interval_s=0.2)
    sampler = run([a, b], 1.0, interval_s=0.05)
    assert a.stopped and b.stopped
    assert len(a.ts) == 20  # t = 0, 0.05, ..., 0.95 (the block ends at 1.0)
    assert len(b.ts) == 5  # its own slower interval: 0, 0.2, ..., 0.8
    assert a.ts == pytest.approx([a.clock.wall_offset + 0.05 * k for k in range(20)])
    health = sampler.health()
    assert health["a"].samples == len(a.ts) and health["a"].failures == 0
    assert health["a"].rate_hz == pytest.approx(20.0)
    assert health["b"].interval_s == 0.2
    assert sampler.failures == []


def test_a_failing_collector_does_not_stop_the_others() -> None:
    good, flaky = Fake("good"), Fake("flaky", fail_every=2)
    sampler = run([good, flaky], 1.0, interval_s=0.05, max_backoff_s=0.05)
    assert len(good.ts) == 20
    health = sampler.health()["flaky"]
    assert (flaky.calls, health.samples, health.failures) == (18, 9, 9)
    assert health.gaps == 11  # each failure, and two ticks its backoff skipped
    assert health.last_error == "sample: RuntimeError: boom 18"
    assert {f.collector for f in sampler.failures} == {"flaky"}
    assert all(f.step == "sample" for f in sampler.failures)


def test_failures_back_off() -> None:
    always = Fake("always", fail_every=1)
    sampler = run([always], 1.0, interval_s=0.02, max_backoff_s=0.4)
    # without backoff 50 attempts; with it at 0, 0.02, 0.06, 0.14, 0.30, 0.62 (then 1.02)
    assert always.calls == 6
    assert sampler.health()["always"].samples == 0
    assert sampler.health()["always"].gaps == 52


def test_start_is_retried_until_it_succeeds() -> None:
    late = Fake("late", fail_start=3)
    sampler = run([late], 1.0, interval_s=0.02, max_backoff_s=0.05)
    assert late.starts == 4
    assert len(late.ts) == 47
    assert [f.step for f in sampler.failures] == ["start"] * 3
    assert sampler.failures[0].error == "ConnectionRefusedError: not up yet"


def test_a_hanging_sample_times_out() -> None:
    hung = Fake("hung", hang_s=10.0)
    sampler = run([hung], 0.6, interval_s=0.05, call_timeout_s=0.2, max_backoff_s=0.1)
    assert hung.clock.now == pytest.approx(0.6)  # not 10 s: each call was cut at 0.2 s
    assert hung.ts == []
    assert sampler.health()["hung"].failures == 2  # at 0 and 0.3, each cut 0.2 s later
    assert "TimeoutError" in sampler.health()["hung"].last_error


def test_stop_failure_is_recorded_not_raised() -> None:
    bad = Fake("bad", fail_stop=True)
    sampler = run([bad], 0.1, interval_s=0.05)
    assert bad.stopped
    assert sampler.failures[-1].step == "stop"


def test_frames_and_latest_merge_all_collectors() -> None:
    a, b = Fake("a"), Fake("b")
    sampler = run([a, b], 0.3, interval_s=0.05)
    ticks = sampler.frames()["ticks"]
    assert len(ticks) == len(a.ts) + len(b.ts) == 12
    assert ticks["t"].is_monotonic_increasing
    assert sampler.latest() == {"a.n": float(len(a.ts)), "b.n": float(len(b.ts))}


def test_injected_clock_stamps_the_samples() -> None:
    a = Fake("a")
    run([a], 0.3, clock=FakeClock(wall_offset=5000.0), interval_s=0.05)
    assert a.ts == pytest.approx([5000.0, 5000.05, 5000.1, 5000.15, 5000.2, 5000.25])


def test_cancelled_while_sampling_still_stops_collectors() -> None:
    a = Fake("a", hang_s=0.01)
    clock = a.clock

    async def go() -> None:
        async with Sampler([a], interval_s=0.01, clock=clock):
            await clock.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(go())
        await clock.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(clock.run(main()))
    assert a.stopped
    assert clock.now == pytest.approx(0.3)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        Sampler([], interval_s=0)
    with pytest.raises(ValueError, match="unique"):
        Sampler([Fake("x"), Fake("x")], interval_s=0.1)


def test_health_records_keep_the_first_error_the_longest_gap_and_read_to_end() -> None:
    always, fine = Fake("always", fail_every=1), Fake("fine")
    fine.read_to_end = True  # type: ignore[attr-defined]
    sampler = run([always, fine], 0.5, clock=FakeClock(wall_offset=1000.0), interval_s=0.05,
                  max_backoff_s=0.05)
    records = {h.name: h for h in sampler.health_records()}
    broken = records["always"]
    assert broken.samples == 0 and broken.failures == always.calls
    assert broken.first_error == "sample: RuntimeError: boom 1"
    assert broken.first_error_t == 1000.0
    assert broken.longest_gap_s == 0.5  # no sample at all: the whole time the sampler ran
    assert broken.expected == 10 and broken.read_to_end is None  # 0.5 // 0.05 + 1 in floats
    good = records["fine"]
    assert good.failures == 0 and good.first_error == "" and good.first_error_t is None
    assert good.samples == len(fine.ts) == 10 and good.read_to_end is True
    assert good.longest_gap_s == 0.05
