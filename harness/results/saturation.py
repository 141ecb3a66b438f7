"""The saturation rule: when was the load generator, or the machine, too busy for the
figures measured through it to be trusted. Written once, applied by the analysis (a local
Locust: ``load.saturated``; load workers: ``load.workers.saturated``; the machine:
``host.saturated``) and by the distributed load (``workers.json``'s ``saturated``).

A sample is *busy* when what it measures ran above :data:`BUSY_PERCENT` of one core — for a
load-generating process, the CPU it used plus the time it waited for a CPU (run-queue wait,
where recorded), per load-generating process: a Locust held back by other processes on its
core is as saturated as one using it all. A series of samples is *saturated* when more than
:data:`SAMPLE_SHARE` of them are busy. The machine is busy when all its cores are above
:data:`BUSY_PERCENT` on average, or when its tasks waited for a CPU more than
:data:`MACHINE_WAIT_PERCENT` of the time.
"""

from __future__ import annotations

from collections.abc import Iterable

BUSY_PERCENT = 90.0
SAMPLE_SHARE = 0.10
MACHINE_WAIT_PERCENT = 50.0


def busy_percent(cpu_percent: float, wait_percent: float = 0.0, processes: int = 1) -> float:
    """What one sample counts as busy: CPU used plus run-queue wait, per process."""
    return (cpu_percent + wait_percent) / max(processes, 1)


def busy_share(busy: Iterable[float]) -> float | None:
    """The share of samples above :data:`BUSY_PERCENT` (None: no sample)."""
    values = list(busy)
    if not values:
        return None
    return sum(1 for b in values if b > BUSY_PERCENT) / len(values)


def saturated(busy: Iterable[float]) -> bool | None:
    """True when more than :data:`SAMPLE_SHARE` of the samples are busy (None: no sample)."""
    share = busy_share(busy)
    return None if share is None else share > SAMPLE_SHARE
