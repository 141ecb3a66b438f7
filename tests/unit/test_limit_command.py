"""``pgstampede limit`` as a whole, with fakes behind the run's seams: a simulated system
whose break is known (one instance per user, 3 connections per instance, 7 usable
connections: the 3rd instance is refused) stands for PostgreSQL, the platform and Locust.
The search, the live judge, ``limit.json``, the ``limit.*`` metrics, the advice, ``--verify``
(held, and withdrawn when the capped platform throttles) and ``check`` on them."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.check.command import check_run
from harness.collect.base import Collector
from harness.limit.command import LimitOptions, limit
from harness.load.progress import PROGRESS_FILE, ProgressWriter, ShapeEvent
from harness.load.request_frame import read_request_logs
from harness.load.request_log import COLUMNS
from harness.load.runner import LocustProgress
from harness.load.shape import stop_requested
from harness.results import metric_names as M
from harness.results.folder import RunFolder
from harness.results.frames import coerce_frame, empty_frame
from harness.results.limit import read_limit
from harness.run.progress import Progress
from harness.run.seams import Seams
from harness.scenario import LoadSpec, ServerlessSpec, Stage
from harness.scenario.loader import parse_scenario
from harness.services.bring_up import Services
from harness.services.target import RunningTarget, TargetContext

PER_INSTANCE = 3
POOL = 5  # the persistent target's bounded pool
TICK_S = 0.1


@dataclass
class System:
    """The simulated system: what the current probe's variant does at each moment."""

    usable: int = 7
    variant: Any = None
    stages: tuple[Stage, ...] = ()
    start: float = math.nan
    refused: int = 0

    def users(self, t: float) -> int:
        users, at = 0.0, self.start
        for stage in self.stages:
            if t < at:
                break
            users = min(float(stage.users), users + (t - at) * stage.spawn_rate) \
                if stage.users >= users else float(stage.users)
            at += stage.duration_s
        return int(users)

    @property
    def serverless(self) -> bool:
        return isinstance(self.variant.target, ServerlessSpec)

    def outcome(self, user: int) -> tuple[int, str]:
        """The answer to one request of the ``user``-th user (0-based)."""
        cap = self.variant.target.max_instances if self.serverless else 10**6
        if user >= cap:  # beyond max instances: rejected, or queued (answered)
            return (429, "http_429") if self.variant.target.when_full == "reject" else (200, "")
        if self.serverless and (user + 1) * PER_INSTANCE > self.usable:
            return 503, "db_too_many_connections"
        return 200, ""

    def gauges(self, t: float) -> tuple[float, float, bool]:
        """Instances, connections, and whether an instance is refused right now."""
        users = self.users(t) if math.isfinite(self.start) else 0
        if not self.serverless:
            return math.nan, float(min(users, POOL)), False
        cap = self.variant.target.max_instances
        instances = min(users, cap)
        fits = self.usable // PER_INSTANCE
        return float(instances), float(min(instances, fits) * PER_INSTANCE), instances > fits


class Gauges:
    """The database, platform and server-log collectors of the simulated system."""

    name = "pg_activity"
    interval_s: float | None = None

    def __init__(self, system: System) -> None:
        self.system = system
        self.rows: list[tuple[float, float, float, bool]] = []
        self.refused: list[float] = []

    async def start(self) -> None:
        return None

    async def sample(self, t: float) -> None:
        instances, connections, refusing = self.system.gauges(t)
        if refusing:
            self.refused.append(t)
        self.rows.append((t, instances, connections, refusing))

    async def stop(self) -> None:
        return None

    def frames(self) -> dict[str, pd.DataFrame]:
        rows = pd.DataFrame(self.rows, columns=["t", "instances", "total", "refusing"])
        out = {"db": coerce_frame("db", rows[["t", "total"]].assign(
            active=0, idle=0, idle_in_transaction=0, other=0))}
        out["pglog"] = coerce_frame("pglog", pd.DataFrame({
            "t": self.refused, "event": "refused", "pid": 1, "user": "app",
            "message": "sorry, too many clients already"})) if self.refused \
            else empty_frame("pglog")
        if self.system.serverless:
            out["platform"] = coerce_frame("platform", rows[["t"]].assign(
                starting=0, busy=rows["instances"].astype("int64"), warm=0, frozen=0, zombie=0,
                queue=0, cold_starts=0, reaped=0, throttled=0, init_failures=0,
                background_pending=0, background_completed=0, background_delayed=0,
                background_lost=0, init_error=""))
        return out

    def latest(self) -> dict[str, float]:
        if not self.rows:
            return {}
        _, instances, connections, _ = self.rows[-1]
        out = {"db.total": connections, "pglog.refused": float(len(self.refused))}
        if self.system.serverless:
            out["platform.instances"] = instances
        return out


@dataclass(frozen=True)
class Window:
    load_start: float
    load_end: float
    problems: tuple[str, ...] = ()


class Load:
    """Stands for Locust: every tick, one request per user, answered by the system."""

    def __init__(self, system: System) -> None:
        self.system = system

    async def run(self, load: LoadSpec, *, host: str, out_dir: Path, log_path: Path,
                  on_progress: Any) -> Window:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "stop").unlink(missing_ok=True)
        system = self.system
        system.stages, system.start = load.stages, time.time()
        progress = ProgressWriter(out_dir / PROGRESS_FILE)
        progress.write(ShapeEvent("start", system.start))
        end = system.start + sum(s.duration_s for s in load.stages)
        with (out_dir / "requests-1.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            while time.time() < end and not stop_requested(out_dir):
                now = time.time()
                for user in range(system.users(now)):
                    status, kind = system.outcome(user)
                    writer.writerow([now - 0.004, "/read", 4.0, status, kind, "i", -1])
                f.flush()
                on_progress(LocustProgress(t=now, users=system.users(now), requests=0,
                                           failures=0))
                await asyncio.sleep(TICK_S)
        load_end = time.time()
        progress.write(ShapeEvent("end", load_end))
        return Window(system.start, load_end)

    def requests(self, out_dir: Path) -> pd.DataFrame:
        return read_request_logs(out_dir)

    def frames(self, out_dir: Path) -> dict[str, pd.DataFrame]:
        return {}


@dataclass
class FakeDatabase:
    port: int = 5432
    version: str = "15.0 (fake)"
    log_path: Path = Path("postgres.log")
    app_dsn: str = "postgresql://app@127.0.0.1:5432/app"
    monitor_dsn: str = "postgresql://monitor@127.0.0.1:5432/app"

    def pids(self) -> list[int]:
        return []


@dataclass
class Runtime:
    system: System
    name: str = "fake"
    up: list[str] = field(default_factory=list)

    @contextlib.contextmanager
    def postgres(self, **_: Any) -> Iterator[FakeDatabase]:
        self.up.append("postgres")
        try:
            yield FakeDatabase()
        finally:
            self.up.remove("postgres")

    @contextlib.contextmanager
    def target(self, ctx: TargetContext) -> Iterator[RunningTarget]:
        self.system.variant = ctx.variant
        self.system.start = math.nan
        yield RunningTarget(url="http://127.0.0.1:1")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def close(self) -> None:
        return None


def seams(system: System) -> Seams:
    def collectors(services: Services) -> Sequence[Collector]:
        return [Gauges(system)]

    return Seams(runtime=Runtime(system), load=Load(system), collectors=collectors,
                 background=lambda dsn: empty_frame("background"))


SCENARIO = {
    "name": "fake", "collect": {"interval": "100ms"},
    "database": {"max_connections": 10},  # 7 usable: two instances of 3 connections fit
    "load": {"endpoints": {"read": 1}, "stages": [{"duration": "1s", "users": 1}]},
    "target": {"serverless": {"preset": "aws-lambda"}},
    "limit": {"max_users": 4, "step": 2, "step_duration": "1s", "verify": True},
    "variants": [{"name": "lambda", "target": "serverless"},
                 {"name": "throttled", "target": "serverless",
                  "target_overrides": {"when_full": "reject"}},
                 {"name": "persistent", "target": "persistent"}],
    "thresholds": {"lambda.limit.users": ">= 3", "persistent.limit.users": ">= 100",
                   "*.db.refused": "== 0"},
}


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("limit") / "run"
    system = System()
    outcome = limit(parse_scenario(SCENARIO, "fake.toml"), LimitOptions(out=out),
                    seams(system), Progress(quiet=True))
    return outcome, out


def test_the_search_finds_the_break_and_records_it(searched: Any) -> None:
    outcome, out = searched
    assert outcome.status == "complete" and outcome.exit_code == 0, outcome.error
    record = read_limit(out)
    assert record is not None and [v.name for v in record.variants] == \
        ["lambda", "throttled", "persistent"]
    found = record.variant("lambda")
    assert found is not None
    assert (found.held_users, found.broke_users, found.reserved) == (2, 3, 3)
    assert [p.kind for p in found.probes] == ["ramp", "bisect", "verify"]
    assert [s.users for s in found.probes[0].steps] == [2, 4]
    assert [s.verdict for s in found.probes[0].steps] == ["held", "broke"]
    assert [s.users for s in found.probes[1].steps] == [3]
    assert found.probes[2].max_instances == 2 and found.stopped == "resolved to one user"
    runs = RunFolder(out).read_manifest().variants
    assert [(r.name, r.repeat) for r in runs if r.name == "lambda"] == \
        [("lambda", 1), ("lambda", 2), ("lambda", 3)]
    assert all(r.status == "complete" for r in runs)


def test_the_limit_metrics_and_the_advice(searched: Any) -> None:
    outcome, _ = searched
    m = outcome.summary.variants["lambda"].metrics
    assert (m[M.LIMIT_REACHED], m[M.LIMIT_USERS], m[M.LIMIT_INSTANCES]) == (True, 3, 3)
    assert m[M.LIMIT_DB_CONNECTIONS] == 6 and m[M.LIMIT_IN_FLIGHT] is not None
    assert m[M.LIMIT_CONNECTIONS_PER_INSTANCE] == pytest.approx(3.0)
    assert m[M.LIMIT_RECOMMENDED_MAX_INSTANCES] == 2  # 2 × 3 ≤ 7 usable − 1 headroom
    assert m[M.LIMIT_RECOMMENDED_POOL_SIZE] == 2  # 3 instances × 2 ≤ 6
    assert m[M.LIMIT_VERIFIED] is True and m[M.LIMIT_RPS] > 0
    findings = outcome.summary.findings
    assert "lambda: breaking point at 3 users" in findings[0]
    assert any(f.startswith("lambda: recommended Lambda reserved concurrency 2") for f in findings)
    assert any(f.startswith("lambda: verified: at 3 users with max instances 2 it held")
               for f in findings)


def test_a_recommendation_that_does_not_hold_is_withdrawn(searched: Any) -> None:
    outcome, _ = searched
    throttled = outcome.summary.variants["throttled"]
    assert throttled.metrics[M.LIMIT_VERIFIED] is False
    assert throttled.metrics[M.LIMIT_RECOMMENDED_MAX_INSTANCES] is None
    why = throttled.nulls[M.LIMIT_RECOMMENDED_MAX_INSTANCES]
    assert why.why.startswith("withdrawn: at 3 users with max instances 2 it broke: errors — "
                              "error rate")
    assert any(f.startswith("throttled: recommendation withdrawn: at 3 users")
               for f in outcome.summary.findings)


def test_a_bounded_pool_holds_to_max_users(searched: Any) -> None:
    outcome, _ = searched
    persistent = outcome.summary.variants["persistent"]
    m = persistent.metrics
    assert (m[M.LIMIT_REACHED], m[M.LIMIT_USERS], m[M.LIMIT_DB_CONNECTIONS]) == (False, 4, 4)
    assert m[M.LIMIT_INSTANCES] is None
    assert persistent.nulls[M.LIMIT_INSTANCES].kind == "not applicable"
    assert persistent.nulls[M.LIMIT_VERIFIED].kind == "not applicable"


def test_check_gates_on_limit_metrics_only(searched: Any) -> None:
    outcome, out = searched
    judged = {t.expr: t.status for t in outcome.summary.thresholds}
    # *.db.refused is a threshold for `run`: a limit run breaks the variants on purpose
    assert judged == {"lambda.limit.users >= 3": "pass", "persistent.limit.users >= 100": "fail"}
    result = check_run(out)
    assert int(result.exit_code) == 1
    assert {t.expr: t.status for t in result.thresholds} == judged
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Breaking point" in html and "What if (computed, not measured)" in html
    assert "Recommendation withdrawn" in html and (out / "charts" / "breaking_point.svg").exists()
