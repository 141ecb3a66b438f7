"""Judging a probe's steps while its load runs, and stopping the load at the break.

:class:`Watch` plugs into a variant run through its seams (:mod:`harness.run.seams`): it
wraps the collectors factory to read the collectors' live gauges, and the load runner
(:class:`WatchedLoad`) to follow the load. Every quarter second it samples the gauges
(connections, instances, the app's connections, refusals so far). Each step is judged once
its end has passed and the request logs have been flushed (Locust flushes them every
second), with the same functions the analysis uses (:mod:`harness.analysis.breaking`); a
refusal (``until = "refused"``) is noted at once, and the load is stopped at the end of its
step. At the first step that breaks it asks the load shape to end
(:func:`harness.load.shape.request_stop`): the variant run then ends normally and its
folder holds what the steps ran. One line per step says what it measured and what was
decided.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from harness.analysis.breaking import (
    GAUGE_COLUMNS,
    Judgement,
    StepMeasures,
    StepWindow,
    judge_step,
    measure_step,
)
from harness.collect.base import Collector
from harness.limit.search import PlannedStep
from harness.load.progress import PROGRESS_FILE, ProgressReader, ShapeEvent
from harness.load.request_frame import read_request_logs
from harness.load.runner import LocustProgress
from harness.load.shape import request_stop
from harness.results import metric_names as M
from harness.results.limit import LimitSettings, StepRecord
from harness.run.seams import CollectorsFactory, LoadRunner, LoadWindow
from harness.scenario import LoadSpec
from harness.services.bring_up import Services

TICK_S = 0.25
FLUSH_LAG_S = 1.5  # Locust flushes its request logs every second


def step_line(label: str, index: int, total: int, m: StepMeasures, judged: Judgement,
              max_connections: int) -> str:
    """The live line of one judged step."""
    parts = [f"  {label} step {index}/{total}", f"users {m.users}",
             f"rps {m.rps:,.0f}" if m.rps is not None else "rps —"]
    if m.db_connections is not None:
        parts.append(f"db conns {m.db_connections:.0f}/{max_connections}")
    if m.instances is not None:
        parts.append(f"instances {m.instances:.0f}")
    verdict = judged.verdict if judged.clear else f"{judged.verdict} (too close to call)"
    return "  ".join(parts) + f"  → {verdict}: {judged.detail}"


class Watch:
    """The live judge of one probe (see the module docstring)."""

    def __init__(self, steps: Sequence[PlannedStep], settings: LimitSettings, *,
                 pooler: bool, max_connections: int, label: str,
                 say: Callable[[str], None]) -> None:
        self.planned = tuple(steps)
        self.settings = settings
        self.pooler = pooler
        self.max_connections = max_connections
        self.label = label
        self.say = say
        self.collectors: Sequence[Collector] = ()
        self.origin: float | None = None
        self.rows: list[tuple[float, float, float, float, float]] = []
        self.records: list[StepRecord] = []
        self.broken = False
        self.refused_at: dict[int, float] = {}  # step index -> when it saw its first refusal
        self.seen_refused = 0.0  # refusals counted so far (server log and pooler)

    def collectors_factory(self, inner: CollectorsFactory) -> CollectorsFactory:
        def make(services: Services) -> Sequence[Collector]:
            self.collectors = tuple(inner(services))
            return self.collectors
        return make

    def sample(self, now: float) -> None:
        """One row of gauges from the collectors' latest values."""
        latest: dict[str, float] = {}
        for c in self.collectors:
            try:
                latest.update(c.latest())
            except Exception:  # noqa: BLE001 - a collector's failure is its own health's
                continue
        db = latest.get("db.total", math.nan)
        clients = latest.get("pooler.cl_active", math.nan) + latest.get("pooler.cl_waiting", 0)
        refused = latest.get("pglog.refused", 0.0) + latest.get(M.POOLER_REFUSED, 0.0)
        self.rows.append((now, db, latest.get("platform.instances", math.nan),
                          clients if self.pooler else db, refused))

    def gauges(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=list(GAUGE_COLUMNS), dtype="float64")

    def _window(self, index: int, end: float | None = None) -> StepWindow:
        assert self.origin is not None
        step = self.planned[index]
        stop = self.origin + step.end_s if end is None else end
        return StepWindow(step.users, self.origin + step.start_s,
                          min(self.origin + step.settled_s, stop), stop)

    def _judge(self, index: int, requests: pd.DataFrame, end: float | None = None) -> None:
        window = self._window(index, end)
        measures = measure_step(requests, self.gauges(), window)
        judged = judge_step(measures, self.settings)
        broke_at = None
        if judged.verdict == "broke":
            broke_at = self.refused_at.get(index, window.end) if judged.reason == "refused" \
                else window.end
        self.records.append(StepRecord(
            users=window.users, start=window.start, settled=window.settled, end=window.end,
            verdict=judged.verdict, reason=judged.reason, detail=judged.detail,
            clear=judged.clear, broke_at=broke_at))
        self.say(step_line(self.label, index + 1, len(self.planned), measures, judged,
                           self.max_connections))
        self.broken = judged.verdict == "broke"

    def _step_at(self, t: float) -> int | None:
        """The index of the step running at ``t`` (epoch s)."""
        assert self.origin is not None
        for index, step in enumerate(self.planned):
            if self.origin + step.start_s <= t < self.origin + step.end_s:
                return index
        return None

    def _note_refusal(self, now: float) -> None:
        """A refusal since the last sample: the step running now broke (until refused)."""
        count = self.rows[-1][4] if self.rows else 0.0
        refused, self.seen_refused = count > self.seen_refused, count
        index = self._step_at(now) if refused else None
        if index is None or index in self.refused_at or index < len(self.records):
            return
        self.refused_at[index] = now
        self.say(f"  {self.label} step {index + 1}/{len(self.planned)}: a connection was "
                 f"refused at {self.planned[index].users} users; the step runs to its end")

    def check(self, out_dir: Path, now: float) -> None:
        """Judge what is due at ``now``; stop the load at the end of a step that broke.

        A refusal decides its step at once (``until = "refused"``) but the step still runs
        to its end, so that what it measured (requests per second, in flight) is the load
        at the break, not a fraction of a second of it."""
        if self.origin is None or self.broken:
            return
        if self.settings.until == "refused":
            self._note_refusal(now)
        if any(now >= self._window(i).end for i in self.refused_at):
            request_stop(out_dir)
        index = len(self.records)
        if index < len(self.planned) and now >= self._window(index).end + FLUSH_LAG_S:
            self._judge(index, read_request_logs(out_dir))
            if self.broken:
                request_stop(out_dir)

    async def follow(self, out_dir: Path) -> None:
        """Sample and judge until cancelled."""
        reader = ProgressReader(out_dir / PROGRESS_FILE)
        while True:
            if self.origin is None:
                for record in reader.read_new():
                    if isinstance(record, ShapeEvent) and record.event == "start":
                        self.origin = record.t
            now = time.time()
            self.sample(now)
            self.check(out_dir, now)
            await asyncio.sleep(TICK_S)

    def finish(self, out_dir: Path, load_start: float, load_end: float) -> None:
        """After the load: judge the steps it ran that are still pending."""
        if self.origin is None and math.isfinite(load_start):
            self.origin = load_start
        if self.origin is None or not math.isfinite(load_end):
            return
        self.sample(time.time())
        requests = read_request_logs(out_dir)
        while not self.broken and len(self.records) < len(self.planned):
            window = self._window(len(self.records))
            if window.start >= load_end:
                break
            self._judge(len(self.records), requests, end=min(window.end, load_end))


class WatchedLoad:
    """A load runner that runs ``inner`` under a :class:`Watch`."""

    def __init__(self, inner: LoadRunner, watch: Watch) -> None:
        self.inner = inner
        self.watch = watch

    async def run(self, load: LoadSpec, *, host: str, out_dir: Path, log_path: Path,
                  on_progress: Callable[[LocustProgress], None]) -> LoadWindow:
        follower = asyncio.create_task(self.watch.follow(out_dir))
        try:
            window = await self.inner.run(load, host=host, out_dir=out_dir,
                                          log_path=log_path, on_progress=on_progress)
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        error = None if follower.cancelled() else follower.exception()
        if error is not None:  # a bug in the judge: never a silent "no verdict"
            raise error
        self.watch.finish(out_dir, window.load_start, window.load_end)
        return window

    def requests(self, out_dir: Path) -> pd.DataFrame:
        return self.inner.requests(out_dir)

    def frames(self, out_dir: Path) -> dict[str, pd.DataFrame]:
        return self.inner.frames(out_dir)
