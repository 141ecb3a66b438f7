"""Unit tests of the Sampler with fake collectors (no services)."""

from __future__ import annotations

import asyncio
import time

import pandas as pd
import pytest

from harness.collect.base import Collector, Sampler


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

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.fail_start:
            raise ConnectionRefusedError("not up yet")

    async def sample(self, t: float) -> None:
        self.calls += 1
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
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


def run(collectors: list[Collector], seconds: float, **kw: float) -> Sampler:
    async def go() -> Sampler:
        async with Sampler(collectors, **kw) as sampler:  # type: ignore[arg-type]
            await asyncio.sleep(seconds)
        return sampler

    return asyncio.run(go())


def test_samples_at_the_interval_and_stops_everything() -> None:
    a, b = Fake("a"), Fake("b", interval_s=0.2)
    sampler = run([a, b], 1.0, interval_s=0.05)
    assert a.stopped and b.stopped
    assert 8 <= len(a.ts) <= 22  # ~20 on an idle machine
    assert 2 <= len(b.ts) <= 6  # its own slower interval
    assert all(y > x for x, y in zip(a.ts, a.ts[1:], strict=False))
    health = sampler.health()
    assert health["a"].samples == len(a.ts) and health["a"].failures == 0
    assert health["b"].interval_s == 0.2
    assert sampler.failures == []


def test_a_failing_collector_does_not_stop_the_others() -> None:
    good, flaky = Fake("good"), Fake("flaky", fail_every=2)
    sampler = run([good, flaky], 1.0, interval_s=0.05, max_backoff_s=0.05)
    assert len(good.ts) >= 8
    health = sampler.health()["flaky"]
    assert health.failures >= 3
    assert health.gaps >= health.failures
    assert health.last_error == f"sample: RuntimeError: boom {flaky.calls - flaky.calls % 2}"
    assert {f.collector for f in sampler.failures} == {"flaky"}
    assert all(f.step == "sample" for f in sampler.failures)


def test_failures_back_off() -> None:
    always = Fake("always", fail_every=1)
    sampler = run([always], 1.0, interval_s=0.02, max_backoff_s=0.4)
    # without backoff ~50 attempts; with it 0.02, 0.04, 0.08, 0.16, 0.32, 0.4 ... ≈ 7
    assert 3 <= always.calls <= 12
    assert sampler.health()["always"].samples == 0
    assert sampler.health()["always"].gaps >= 40


def test_start_is_retried_until_it_succeeds() -> None:
    late = Fake("late", fail_start=3)
    sampler = run([late], 1.0, interval_s=0.02, max_backoff_s=0.05)
    assert late.starts == 4
    assert len(late.ts) >= 5
    assert [f.step for f in sampler.failures] == ["start"] * 3
    assert sampler.failures[0].error == "ConnectionRefusedError: not up yet"


def test_a_hanging_sample_times_out() -> None:
    hung = Fake("hung", hang_s=10.0)
    began = time.monotonic()
    sampler = run([hung], 0.6, interval_s=0.05, call_timeout_s=0.2, max_backoff_s=0.1)
    assert time.monotonic() - began < 5.0
    assert hung.ts == []
    assert sampler.health()["hung"].failures >= 1
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
    assert len(ticks) == len(a.ts) + len(b.ts)
    assert ticks["t"].is_monotonic_increasing
    assert sampler.latest() == {"a.n": float(len(a.ts)), "b.n": float(len(b.ts))}


def test_injected_clock_stamps_the_samples() -> None:
    counter = iter(range(1_000_000))
    a = Fake("a")
    run([a], 0.3, interval_s=0.05, clock=lambda: float(next(counter)))  # type: ignore[arg-type]
    assert a.ts == sorted(a.ts) and all(t == int(t) for t in a.ts)


def test_cancelled_while_sampling_still_stops_collectors() -> None:
    a = Fake("a", hang_s=0.01)

    async def go() -> None:
        async with Sampler([a], interval_s=0.01):
            await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(go())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(main(), 10))
    assert a.stopped


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        Sampler([], interval_s=0)
    with pytest.raises(ValueError, match="unique"):
        Sampler([Fake("x"), Fake("x")], interval_s=0.1)


def test_health_records_keep_the_first_error_the_longest_gap_and_read_to_end() -> None:
    counter = iter(range(1_000_000))
    always, fine = Fake("always", fail_every=1), Fake("fine")
    fine.read_to_end = True  # type: ignore[attr-defined]
    sampler = run([always, fine], 0.5, interval_s=0.05, max_backoff_s=0.05,
                  clock=lambda: 1000.0 + next(counter))  # type: ignore[arg-type]
    records = {h.name: h for h in sampler.health_records()}
    broken = records["always"]
    assert broken.samples == 0 and broken.failures == always.calls
    assert broken.first_error == "sample: RuntimeError: boom 1"
    assert broken.first_error_t is not None and broken.first_error_t >= 1000.0
    assert broken.longest_gap_s >= 0.4  # no sample at all: the whole time the sampler ran
    assert broken.expected >= 2 and broken.read_to_end is None
    good = records["fine"]
    assert good.failures == 0 and good.first_error == "" and good.first_error_t is None
    assert good.samples == len(fine.ts) and good.read_to_end is True
    assert good.longest_gap_s < broken.longest_gap_s
