"""The live display of a variant run: a snapshot every quarter second while the load runs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from harness.collect.base import Sampler
from harness.load.runner import LocustProgress
from harness.run.progress import Progress, Snapshot
from harness.scenario import Scenario
from harness.services.collectors import locust_pids

TICK_S = 0.25


def snapshot(scenario: Scenario, start: float, load: LocustProgress | None, rps: float,
             latest: dict[str, float], now: float) -> Snapshot:
    """What the live display shows ``now`` (epoch seconds) of a load started at ``start``."""
    elapsed = now - start
    bounds, stage = 0.0, len(scenario.load.stages)
    for i, st in enumerate(scenario.load.stages, 1):
        bounds += st.duration_s
        if elapsed < bounds:
            stage = i
            break
    return Snapshot(
        elapsed_s=elapsed, duration_s=scenario.load.duration_s, stage=stage,
        stages=len(scenario.load.stages), users=load.users if load else 0,
        rps=rps, requests=load.requests if load else 0,
        failures=load.failures if load else 0, db_connections=latest.get("db.total"),
        instances=latest.get("platform.instances"), cl_waiting=latest.get("pooler.cl_waiting"),
    )


class Live:
    """Feeds the progress display from the load's progress and the collectors' gauges."""

    def __init__(self, scenario: Scenario, progress: Progress) -> None:
        self.scenario = scenario
        self.progress = progress
        self._load: LocustProgress | None = None
        self._rps = 0.0

    def on_load(self, progress: LocustProgress) -> None:
        last = self._load
        if last is not None and progress.t > last.t:
            self._rps = (progress.requests - last.requests) / (progress.t - last.t)
        self._load = progress

    async def tick(self, sampler: Sampler, start: float, pid_dir: Path) -> None:
        """Update the display until cancelled; record Locust's pid for ``clean``."""
        locust_pid_file = pid_dir / "locust.pid"
        while True:
            if not locust_pid_file.exists() and (pids := locust_pids()):
                locust_pid_file.parent.mkdir(parents=True, exist_ok=True)
                locust_pid_file.write_text(f"{pids[0]}\n")  # its process group, for `clean`
            self.progress.update(snapshot(self.scenario, start, self._load, self._rps,
                                          sampler.latest(), time.time()))
            await asyncio.sleep(TICK_S)
