"""Run a scenario: for each variant bring up the services, collect, load, tear down, persist.

Everything a variant run measured is written to its folder in a ``finally``: an error, a
Locust crash, Ctrl-C or SIGTERM still leave readable parquet files and a manifest whose
status says what happened. Services are context managers on an ExitStack, so they stop in
reverse order whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import psycopg

from harness.collect.base import Sampler
from harness.collect.host import HostCollector
from harness.collect.pg_activity import PgActivityCollector
from harness.collect.pg_log import PgLogCollector
from harness.collect.pgbouncer import PgBouncerCollector
from harness.errors import HarnessError, RunError, ServiceError
from harness.faults import FaultTargets, inject
from harness.load.progress import PROGRESS_FILE, ProgressReader, ShapeEvent
from harness.load.runner import LocustProgress, read_request_logs, run_locust
from harness.plan import RunItem, make_plan
from harness.progress import Progress, Snapshot
from harness.results import store
from harness.results.environment import machine, package_versions
from harness.results.redact import redact_text
from harness.runtime.base import Runtime
from harness.runtime.postgres import DURABILITY_OFF
from harness.runtime.registry import get_runtime
from harness.runtime.targets import RunningTarget, TargetContext
from harness.scenario import Scenario, Variant

BACKGROUND_SQL = """
SELECT id, coalesce(instance, '') AS instance, extract(epoch FROM scheduled_at)::float8,
       extract(epoch FROM due_at)::float8, extract(epoch FROM completed_at)::float8
FROM background_jobs ORDER BY id
"""


@dataclass(frozen=True)
class RunOptions:
    """How to run: from the CLI, passed down unchanged."""

    out: Path
    only: tuple[str, ...] | None = None
    runtime: str = "process"
    keep: bool = False
    repeats: int | None = None


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    status: str
    summary: dict[str, Any]
    error: str | None = None


class _Stopper:
    """Turns SIGINT/SIGTERM into a cancellation of the run task, once."""

    def __init__(self, task: asyncio.Task[Any], progress: Progress) -> None:
        self.task = task
        self.progress = progress
        self.signal: str | None = None

    def __call__(self, sig: signal.Signals) -> None:
        if self.signal is None:
            self.signal = sig.name
            self.progress.message(f"{sig.name}: stopping, saving what was measured…")
            self.task.cancel()


def stage_windows(variant_start: float, scenario: Scenario) -> list[dict[str, float]]:
    out, t = [], variant_start
    for stage in scenario.load.stages:
        out.append({"start": t, "end": t + stage.duration_s, "users": stage.users,
                    "spawn_rate": stage.spawn_rate})
        t += stage.duration_s
    return out


def _snapshot(scenario: Scenario, start: float, locust: LocustProgress | None, rps: float,
              latest: dict[str, float]) -> Snapshot:
    elapsed = time.time() - start
    bounds, stage = 0.0, len(scenario.load.stages)
    for i, st in enumerate(scenario.load.stages, 1):
        bounds += st.duration_s
        if elapsed < bounds:
            stage = i
            break
    return Snapshot(
        elapsed_s=elapsed, duration_s=scenario.load.duration_s, stage=stage,
        stages=len(scenario.load.stages), users=locust.users if locust else 0,
        rps=rps, requests=locust.requests if locust else 0,
        failures=locust.failures if locust else 0, db_connections=latest.get("db.total"),
        instances=latest.get("platform.instances"), cl_waiting=latest.get("pooler.cl_waiting"),
    )


def _read_background(dsn: str) -> pd.DataFrame:
    cols = ["id", "instance", "scheduled_at", "due_at", "completed_at"]
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = conn.execute(BACKGROUND_SQL).fetchall()
    frame = pd.DataFrame(rows, columns=cols)
    return frame.astype({"id": "int64", "instance": "str", "scheduled_at": "float64",
                         "due_at": "float64", "completed_at": "float64"})


@dataclass
class Services:
    """What is running for a variant: where to watch it and which processes are whose."""

    monitor_dsn: str
    roles: dict[str, Callable[[], list[int]]]
    pg_log: Path | None
    owns_database: bool
    pooler_admin_dsn: str | None = None
    target: RunningTarget = dataclasses.field(default_factory=lambda: RunningTarget(url=""))
    faults: FaultTargets | None = None


async def shape_start(locust_dir: Path, fallback: float, timeout_s: float = 60.0) -> float:
    """When Locust's load shape started (its progress file says), so that fault times
    count from the same origin as the analysis; ``fallback`` if it never says."""
    reader = ProgressReader(locust_dir / PROGRESS_FILE)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for record in reader.read_new():
            if isinstance(record, ShapeEvent) and record.event == "start":
                return record.t
        await asyncio.sleep(0.05)
    return fallback


def is_locust(cmdline: list[str]) -> bool:
    """``python -m locust ...`` (how harness.load.runner starts it) or the ``locust`` script.

    Exact words, not substrings: a run folder or temp path containing "locust" in another
    service's command line (postgres -D, a target's log path) must not count as Locust.
    """
    if cmdline[1:3] == ["-m", "locust"]:
        return True
    return any(Path(part).name == "locust" for part in cmdline[:2])


def locust_pids() -> list[int]:
    """The Locust processes this harness started: its direct children running Locust.

    ``--processes`` workers are forked by that process; the host collector adds every
    descendant of a root, so the workers are counted without listing them here (and the
    serverless instances, grandchildren, are not scanned every sample).
    """
    found = []
    for child in psutil.Process().children(recursive=False):
        try:
            if is_locust(child.cmdline()):
                found.append(child.pid)
        except psutil.Error:
            continue
    return found


def external_max_connections(dsn: str) -> int:
    """``max_connections`` of a watched server (exit 3 with the cause when unreachable)."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            row = conn.execute("SHOW max_connections").fetchone()
    except psycopg.Error as exc:
        raise ServiceError("watch_dsn", f"cannot connect: {redact_text(str(exc).strip())}"
                           ) from None
    return int(row[0]) if row else 0


class VariantRun:
    """One variant run: services up, collectors and Locust, everything persisted."""

    def __init__(self, scenario: Scenario, item: RunItem, run_dir: Path, options: RunOptions,
                 progress: Progress, runtime: Runtime) -> None:
        self.scenario = scenario
        self.runtime = runtime
        self.item = item
        self.variant: Variant = item.variant
        self.run_dir = run_dir
        self.dir = run_dir / item.dirname
        self.options = options
        self.progress = progress
        self.entry: dict[str, Any] = {
            "name": self.variant.name, "repeat": item.repeat, "dir": item.dirname,
            "status": "running", "target": self.variant.target, "pooler": self.variant.pooler,
            "max_connections": self.variant.database.max_connections,
            "config": self.variant.target_config(), "load_start": None, "load_end": None,
            "stages": [], "error": None, "versions": {}, "faults": [],
        }
        self._locust: LocustProgress | None = None
        self._rps = 0.0

    async def execute(self) -> dict[str, Any]:
        with contextlib.ExitStack() as stack:
            if self.variant.target == "external":
                services = self._watch_external()
            else:
                services = self._bring_up(stack)
            await self._load_and_collect(services)
            if services.owns_database:
                self._persist_background(services.monitor_dsn)
        return self.entry

    def _bring_up(self, stack: contextlib.ExitStack) -> Services:
        """PostgreSQL, PgBouncer (when the variant has it) and the target, on the stack."""
        logs, pid_dir = self.dir / "logs", self.run_dir / ".pids"
        runtime = self.runtime
        pg = stack.enter_context(runtime.postgres(
            max_connections=self.variant.database.max_connections,
            log_path=logs / "postgres.log", keep=self.options.keep, pid_dir=pid_dir,
            settings=dict(self.variant.database.settings)))
        self.entry["versions"]["postgresql"] = pg.version
        self.entry["durability"] = dict(DURABILITY_OFF)
        services = Services(monitor_dsn=pg.monitor_dsn, roles={"postgres": pg.pids},
                            pg_log=pg.log_path, owns_database=True)
        faults = FaultTargets(monitor_dsn=pg.monitor_dsn, postgres=pg)
        dsn = pg.app_dsn
        if self.variant.pooler == "pgbouncer":
            spec = self.variant.pgbouncer
            pooler = stack.enter_context(runtime.pgbouncer(
                upstream_port=pg.port, log_path=logs / "pgbouncer.log",
                pool_mode=spec.pool_mode, pool_size=spec.pool_size,
                max_client_conn=spec.max_client_conn,
                query_wait_timeout_s=spec.query_wait_timeout_s, pid_dir=pid_dir))
            self.entry["versions"]["pgbouncer"] = pooler.version
            services.roles["pgbouncer"] = pooler.pids
            services.pooler_admin_dsn = pooler.admin_dsn
            faults.pgbouncer = pooler
            dsn = pooler.app_dsn
        target = stack.enter_context(runtime.target(TargetContext(
            variant=self.variant, dsn=dsn, logs=logs, workdir=self.dir, pid_dir=pid_dir,
            direct_dsn=pg.app_dsn, monitor_dsn=pg.monitor_dsn)))
        self.entry["target_info"] = target.info
        services.target = target
        services.roles.update(target.roles)
        faults.target_pids = target.roles.get("target")
        faults.instance_pids = target.roles.get("instances")
        services.faults = faults
        return services

    def _watch_external(self) -> Services:
        """An application the harness did not start: only watch its database."""
        ext = self.variant.external
        max_conn = external_max_connections(ext.watch_dsn)
        self.entry["max_connections"] = max_conn
        self.entry["observes_server_log"] = False
        return Services(monitor_dsn=ext.watch_dsn, roles={}, pg_log=None, owns_database=False,
                        pooler_admin_dsn=ext.pgbouncer_admin_dsn or None,
                        target=RunningTarget(url=ext.url.rstrip("/")),
                        faults=FaultTargets(monitor_dsn=ext.watch_dsn))

    def _collectors(self, services: Services) -> list[Any]:
        roles = {**services.roles, "locust": locust_pids}
        collectors: list[Any] = [PgActivityCollector(services.monitor_dsn), HostCollector(roles)]
        if services.pg_log is not None:
            collectors.append(PgLogCollector(services.pg_log, since_t=time.time()))
        if services.pooler_admin_dsn:
            collectors.append(PgBouncerCollector(services.pooler_admin_dsn))
        collectors.extend(services.target.collectors)
        return collectors

    async def _load_and_collect(self, services: Services) -> None:
        sampler = Sampler(self._collectors(services),
                          interval_s=self.scenario.collect_interval_s)
        locust_dir = self.dir / "locust"
        try:
            async with sampler:
                start = time.time()
                self._set_window(start, None)
                ticker = asyncio.create_task(self._tick(sampler, start))
                chaos = asyncio.create_task(self._inject_faults(services, start))
                try:
                    result = await run_locust(
                        self._load_spec(), host=services.target.url, out_dir=locust_dir,
                        log_path=self.dir / "logs" / "locust.log", on_progress=self._on_locust)
                    self._set_window(result.load_start, result.load_end)
                finally:
                    if self.entry["load_end"] is None:
                        self.entry["load_end"] = time.time()
                    for task in (ticker, chaos):
                        task.cancel()
                    await asyncio.gather(ticker, chaos, return_exceptions=True)
                    await self._drain_background()
        finally:
            (self.run_dir / ".pids" / "locust.pid").unlink(missing_ok=True)
            self._persist(sampler, locust_dir)

    async def _inject_faults(self, services: Services, start: float) -> None:
        faults = [f for f in self.scenario.faults if f.applies_to(self.variant)]
        if not faults or services.faults is None:
            return

        def record(entry: dict[str, Any]) -> None:
            self.entry["faults"].append(entry)
            self.progress.message(f"  fault {entry['kind']} at {entry['at_s']:g}s: "
                                  f"{entry.get('detail', '')}")

        origin = await shape_start(self.dir / "locust", fallback=start)
        await inject(faults, services.faults, origin, record)

    def _set_window(self, start: float, end: float | None) -> None:
        """The load window: Locust's own shape start/end when it reported them."""
        if math.isfinite(start):
            self.entry["load_start"] = start
            self.entry["stages"] = stage_windows(start, self.scenario)
        if end is not None and math.isfinite(end):
            self.entry["load_end"] = end

    def _load_spec(self) -> Any:
        return dataclasses.replace(self.scenario.load, requests=self.variant.requests)

    def _on_locust(self, progress: LocustProgress) -> None:
        last = self._locust
        if last is not None and progress.t > last.t:
            self._rps = (progress.requests - last.requests) / (progress.t - last.t)
        self._locust = progress

    async def _tick(self, sampler: Sampler, start: float) -> None:
        locust_pid_file = self.run_dir / ".pids" / "locust.pid"
        while True:
            if not locust_pid_file.exists() and (pids := locust_pids()):
                locust_pid_file.write_text(f"{pids[0]}\n")  # its process group, for `clean`
            self.progress.update(
                _snapshot(self.scenario, start, self._locust, self._rps, sampler.latest()))
            await asyncio.sleep(0.25)

    async def _drain_background(self) -> None:
        """Give scheduled background work its delay (+1 s) to finish before reading it."""
        if any(r.name == "background" for r in self.variant.requests):
            delay = max(self.variant.persistent.background_delay_s,
                        self.variant.serverless.background_delay_s)
            await asyncio.sleep(delay + 1.0)

    def _persist(self, sampler: Sampler, locust_dir: Path) -> None:
        for name, frame in sampler.frames().items():
            store.write_frame(self.dir / f"{name}.parquet", frame)
        store.write_frame(self.dir / "requests.parquet", read_request_logs(locust_dir))

    def _persist_background(self, monitor_dsn: str) -> None:
        try:
            frame = _read_background(monitor_dsn)
        except psycopg.Error as exc:
            self.progress.message(f"  could not read background jobs: {exc}")
            return
        store.write_frame(self.dir / "background.parquet", frame)


def new_manifest(scenario: Scenario, options: RunOptions) -> dict[str, Any]:
    return {
        "schema_version": store.SCHEMA_VERSION, "tool": "pgstampede",
        "scenario": {**scenario.raw, "name": scenario.name, "path": scenario.path,
                     "description": scenario.description, "repeats": scenario.repeats},
        "status": "running", "runtime": options.runtime,
        "versions": package_versions(), "machine": machine(),
        "started": time.time(), "ended": None, "variants": [],
        "durability": dict(DURABILITY_OFF), "error": None,
    }


async def _run_items(scenario: Scenario, options: RunOptions, manifest: dict[str, Any],
                     progress: Progress) -> None:
    run_dir = options.out
    runtime = get_runtime(options.runtime)
    manifest["runtime_info"] = runtime.describe()
    for item in make_plan(scenario, options.only, options.repeats):
        label = f"[{item.index}/{item.total}] {item.variant.name}"
        if item.total > len(scenario.variants) or scenario.repeats > 1:
            label += f" (repeat {item.repeat})"
        progress.variant_started(label)
        run = VariantRun(scenario, item, run_dir, options, progress, runtime)
        manifest["variants"].append(run.entry)
        try:
            await run.execute()
            run.entry["status"] = "complete"
        except asyncio.CancelledError:
            run.entry["status"] = "interrupted"
            raise
        except HarnessError as exc:
            run.entry["status"] = "failed"
            run.entry["error"] = str(exc)
            raise
        finally:
            store.write_json(run_dir / store.MANIFEST, manifest)
            progress.variant_finished(f"{item.variant.name}: {run.entry['status']}")


async def run_scenario(scenario: Scenario, options: RunOptions,
                       progress: Progress) -> RunOutcome:
    """Run every planned variant; always leaves a manifest with the final status."""
    options = dataclasses.replace(options, out=options.out.absolute())
    manifest = new_manifest(scenario, options)
    options.out.mkdir(parents=True, exist_ok=True)
    store.write_json(options.out / store.MANIFEST, manifest)
    task = asyncio.current_task()
    assert task is not None
    stopper = _Stopper(task, progress)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopper, sig)
    error: str | None = None
    try:
        await _run_items(scenario, options, manifest, progress)
        manifest["status"] = "complete"
    except asyncio.CancelledError:
        manifest["status"] = "interrupted"
        error = f"interrupted by {stopper.signal or 'cancellation'}"
    except RunError as exc:
        manifest["status"] = "failed"
        error = str(exc)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        manifest["ended"] = time.time()
        manifest["error"] = error
        store.write_json(options.out / store.MANIFEST, manifest)
    return RunOutcome(run_dir=options.out, status=manifest["status"], summary={}, error=error)


def run(scenario: Scenario, options: RunOptions, progress: Progress) -> RunOutcome:
    """Synchronous entry point: run the scenario in a fresh event loop, then summarise."""
    outcome = asyncio.run(run_scenario(scenario, options, progress))
    summary = finalize(outcome.run_dir, progress)
    return dataclasses.replace(outcome, summary=summary)


def finalize(run_dir: Path, progress: Progress) -> dict[str, Any]:
    """summary.json (with thresholds) and the report, from the run folder alone."""
    from harness.analysis.summary import build_summary
    from harness.check.thresholds import evaluate_thresholds, parse_threshold
    from harness.report.html import build_report

    manifest = store.read_manifest(run_dir)
    summary = build_summary(run_dir)
    thresholds = [parse_threshold(k, v)
                  for k, v in manifest["scenario"].get("thresholds", {}).items()]
    summary["thresholds"] = [r.as_dict() for r in evaluate_thresholds(thresholds, summary)]
    store.write_json(run_dir / store.SUMMARY, summary)
    try:
        index = build_report(run_dir)
        progress.message(f"report: {index}")
    except HarnessError as exc:
        progress.message(f"report not built: {exc}")
    return summary
