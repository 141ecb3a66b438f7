"""One variant run: services up, collectors and load, everything persisted, a record made.

Everything a variant run measured is written to its folder in a ``finally``: an error, a
Locust crash, Ctrl-C or SIGTERM still leave readable parquet files, and :meth:`VariantRunner.record`
says what happened (status, error, load window, frame files, collector health, problems).
Services are context managers on an ExitStack, so they stop in reverse order whatever
happens. What the run talks to comes in through :class:`harness.run.seams.Seams`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
from pathlib import Path
from typing import Any

from harness.collect.base import Sampler
from harness.errors import MeasurementError, ServiceError
from harness.load.progress import PROGRESS_FILE, ProgressReader, ShapeEvent
from harness.load.realtime_frame import read_realtime_logs
from harness.results.folder import RunFolder
from harness.results.records import (
    FaultEvent,
    FrameFile,
    Problem,
    RunStatus,
    StageWindow,
    VariantRecord,
)
from harness.run.app_work import count_expected_work
from harness.run.broken_app import failure_text, no_instance_ready
from harness.run.live import Live
from harness.run.plan import RunItem
from harness.run.progress import Progress
from harness.run.realtime import read_published
from harness.run.seams import Seams
from harness.scenario import ExternalSpec, LoadSpec, Scenario, Variant
from harness.services.bring_up import Services, Where, bring_up, durability, watch_external
from harness.services.faults import inject

BACKGROUND_MARGIN_S = 1.0


def stage_windows(load_start: float, scenario: Scenario) -> tuple[StageWindow, ...]:
    """The scenario's stages laid out from ``load_start`` (epoch seconds)."""
    out, t = [], load_start
    for stage in scenario.load.stages:
        out.append(StageWindow(start=t, end=t + stage.duration_s, users=stage.users,
                         spawn_rate=stage.spawn_rate))
        t += stage.duration_s
    return tuple(out)


def stages_run(stages: tuple[StageWindow, ...], load_end: float) -> tuple[StageWindow, ...]:
    """The stages the load ran when its shape ended at ``load_end``: those after it left
    out, the last one cut there (``pgstampede limit`` ends a ramp early)."""
    return tuple(dataclasses.replace(s, end=min(s.end, load_end)) for s in stages
                 if s.start < load_end)


async def shape_start(locust_dir: Path, fallback: float, timeout_s: float = 60.0) -> float:
    """When the load shape started (Locust's progress file says), so that fault times
    count from the same origin as the analysis; ``fallback`` if it never says."""
    reader = ProgressReader(locust_dir / PROGRESS_FILE)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for record in reader.read_new():
            if isinstance(record, ShapeEvent) and record.event == "start":
                return record.t
        await asyncio.sleep(0.05)
    return fallback


@dataclasses.dataclass
class _Draft:
    """The record being filled in while the variant runs (private to VariantRunner)."""

    status: RunStatus = "running"
    error: str | None = None
    max_connections: int = 0
    observes_server_log: bool = True
    load_start: float | None = None
    load_end: float | None = None
    stages: tuple[StageWindow, ...] = ()
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    durability: dict[str, str] = dataclasses.field(default_factory=dict)
    target_info: dict[str, Any] = dataclasses.field(default_factory=dict)
    faults: list[FaultEvent] = dataclasses.field(default_factory=list)
    frames: list[FrameFile] = dataclasses.field(default_factory=list)
    sampler: Sampler | None = None
    problems: list[Problem] = dataclasses.field(default_factory=list)
    app_failure: str | None = None  # no instance completed its init (harness.run.broken_app)


class VariantRunner:
    """One variant run: services up, collectors and load, everything persisted."""

    def __init__(self, scenario: Scenario, item: RunItem, folder: RunFolder, seams: Seams,
                 progress: Progress, *, keep: bool = False) -> None:
        self.scenario = scenario
        self.item = item
        self.variant: Variant = item.variant
        self.folder = folder
        self.seams = seams
        self.progress = progress
        self.dir = folder.path / item.dirname
        self.where = Where(workdir=self.dir, pid_dir=folder.pid_dir, keep=keep)
        self.draft = _Draft(max_connections=self.variant.database.max_connections,
                            observes_server_log=not isinstance(self.variant.target, ExternalSpec))
        self.live = Live(scenario, progress)

    def record(self) -> VariantRecord:
        """The variant run as it stands (a frozen record for the manifest)."""
        d = self.draft
        health = d.sampler.health_records() if d.sampler is not None else ()
        return VariantRecord(
            name=self.variant.name, repeat=self.item.repeat, dir=self.item.dirname,
            status=d.status, error=d.error, target=self.variant.target.kind,
            pooler=self.variant.pooler.kind, max_connections=d.max_connections,
            background_delay_s=self.variant.background_delay_s,
            observes_server_log=d.observes_server_log,
            collect_interval_s=self.scenario.collect_interval_s, load_start=d.load_start,
            load_end=d.load_end, stages=d.stages, config=self.variant.target_config(),
            versions=dict(d.versions), durability=dict(d.durability),
            target_info=dict(d.target_info), faults=tuple(d.faults), frames=tuple(d.frames),
            health=health, problems=tuple(d.problems))

    def finish(self, status: RunStatus, error: str | None = None) -> None:
        """How the variant run ended; ``complete`` becomes ``incomplete`` with problems."""
        if status == "complete" and self.draft.app_failure:
            status, error = "failed", self.draft.app_failure
        if status == "complete" and self.draft.problems:
            status = "incomplete"
        self.draft.status, self.draft.error = status, error

    async def execute(self) -> None:
        try:
            with contextlib.ExitStack() as stack:
                if isinstance(self.variant.target, ExternalSpec):
                    services = watch_external(self.variant.target)
                    self.draft.observes_server_log = False
                else:
                    services = bring_up(self.seams.runtime, self.variant, self.where, stack)
                self.draft.max_connections = services.max_connections
                self.draft.versions.update(services.versions)
                self.draft.durability = durability(services)
                self.draft.target_info = dict(services.target.info)
                await self._load_and_collect(services)
                if services.owns_database:
                    await self._persist_app_work(services)
                    self._persist_background(services.monitor_dsn)
                    self._persist_published(services.monitor_dsn)
        finally:
            (self.folder.pid_dir / "locust.pid").unlink(missing_ok=True)
            if self.draft.sampler is not None:  # services stopped: their last words, then save
                await self.draft.sampler.after_services()
                self._persist(self.draft.sampler, self.dir / "locust")

    async def _load_and_collect(self, services: Services) -> None:
        sampler = Sampler(self.seams.collectors(services),
                          interval_s=self.scenario.collect_interval_s)
        self.draft.sampler = sampler
        locust_dir = self.dir / "locust"
        async with sampler:
            start = time.time()
            self._set_window(start, None)
            ticker = asyncio.create_task(self.live.tick(sampler, start, self.folder.pid_dir))
            chaos = asyncio.create_task(self._inject_faults(services, start))
            try:
                result = await self.seams.load.run(
                    self._load_spec(), host=services.target.url, out_dir=locust_dir,
                    log_path=self.dir / "logs" / "locust.log",
                    on_progress=self.live.on_load)
                self._set_window(result.load_start, result.load_end)
                self._load_problems(result.problems)
            finally:
                if self.draft.load_end is None:
                    self.draft.load_end = time.time()
                for task in (ticker, chaos):
                    task.cancel()
                await asyncio.gather(ticker, chaos, return_exceptions=True)
                await self._drain_background()

    async def _inject_faults(self, services: Services, start: float) -> None:
        faults = [f for f in self.scenario.faults if f.applies_to(self.variant)]
        if not faults or services.faults is None:
            return

        def record(event: FaultEvent) -> None:
            self.draft.faults.append(event)
            self.progress.message(f"  fault {event.kind} at {event.at_s:g}s: {event.detail}")

        origin = await shape_start(self.dir / "locust", fallback=start)
        await inject(faults, services.faults, origin, record)

    def _set_window(self, start: float, end: float | None) -> None:
        """The load window: the load shape's own start/end when it reported them."""
        if math.isfinite(start):
            self.draft.load_start = start
            self.draft.stages = stage_windows(start, self.scenario)
        if end is not None and math.isfinite(end):
            self.draft.load_end = end
            self.draft.stages = stages_run(self.draft.stages, end)

    def _load_problems(self, reasons: tuple[str, ...]) -> None:
        """The load fell short of its plan (a worker lost): the variant run is incomplete."""
        for reason in reasons:
            self.draft.problems.append(Problem(source="load", reason=reason, t=time.time()))
            self.progress.message(f"  incomplete: load: {reason}")

    def _load_spec(self) -> LoadSpec:
        return dataclasses.replace(self.scenario.load, requests=self.variant.requests)

    async def _drain_background(self) -> None:
        """Give scheduled background work its delay (+1 s) to finish before reading it."""
        if any(r.name == "background" for r in self.variant.requests):
            await asyncio.sleep(self.variant.background_delay_s + BACKGROUND_MARGIN_S)

    def _persist(self, sampler: Sampler, locust_dir: Path) -> None:
        frames = dict(sampler.frames())
        frames["requests"] = self.seams.load.requests(locust_dir)
        frames.update(self.seams.load.frames(locust_dir))
        if self._realtime():
            frames["realtime"] = read_realtime_logs(locust_dir)
        for name, frame in frames.items():
            self.draft.frames.append(self.folder.write_frame(self.item.dirname, name, frame))
        broken = no_instance_ready(frames.get("platform"))
        if broken is not None and self.variant.app is not None:
            log = self.dir / "logs" / "gateway.log"
            self.draft.app_failure = failure_text(self.variant.app.entry, *broken, str(log))

    def _realtime(self) -> bool:
        return any(r.name in ("events", "publish") for r in self.variant.requests)

    def _persist_published(self, monitor_dsn: str) -> None:
        """The table of published messages, against which realtime loss is counted."""
        if not self._realtime():
            return
        try:
            frame = read_published(monitor_dsn)
        except MeasurementError as exc:
            self.draft.problems.append(Problem(source="realtime", reason=str(exc),
                                               t=time.time()))
            self.progress.message(f"  incomplete: realtime: {exc}")
            return
        self.draft.frames.append(self.folder.write_frame(self.item.dirname,
                                                         "realtime_published", frame))

    async def _persist_app_work(self, services: Services) -> None:
        """``[app.expect]``: count the work once the platform would have done it or lost it
        (persistent: ``expect_grace`` later; serverless: after the end-of-run reap)."""
        app = self.variant.app
        if app is None or not app.expect:
            return
        try:
            if services.target.end_of_run is not None:
                await asyncio.to_thread(services.target.end_of_run)
            else:
                await asyncio.sleep(app.expect_grace_s)
            frame = await asyncio.to_thread(count_expected_work, services.monitor_dsn,
                                            app.expect)
        except (MeasurementError, ServiceError) as exc:
            self.draft.problems.append(Problem(source="app_work", reason=str(exc),
                                               t=time.time()))
            self.progress.message(f"  incomplete: app.expect: {exc}")
            return
        self.draft.frames.append(self.folder.write_frame(self.item.dirname, "app_work", frame))

    def _persist_background(self, monitor_dsn: str) -> None:
        """The built-in target's background_jobs table (an app's own tables may hold one of
        that name: its work after responses is counted by the platform and [app.expect])."""
        if self.variant.app is not None:
            return
        try:
            frame = self.seams.background(monitor_dsn)
        except MeasurementError as exc:
            self.draft.problems.append(Problem(source="background", reason=str(exc),
                                               t=time.time()))
            self.progress.message(f"  incomplete: background: {exc}")
            return
        self.draft.frames.append(self.folder.write_frame(self.item.dirname, "background",
                                                         frame))
