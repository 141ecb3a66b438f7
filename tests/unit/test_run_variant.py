"""A whole run with fakes behind its seams (runtime, load runner, collectors, background
reader): no process is started. The run's record, its folder, its verdict and its exit code."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.check.command import check_run
from harness.collect.base import Collector
from harness.errors import IncompleteRunError, InputError, MeasurementError
from harness.load.runner import LocustProgress
from harness.results.folder import RunFolder
from harness.results.frames import coerce_frame, empty_frame
from harness.run import RunOptions, Seams, run
from harness.run.progress import Progress
from harness.scenario import LoadSpec, Scenario
from harness.scenario.loader import parse_scenario
from harness.services.bring_up import Services
from harness.services.target import RunningTarget, TargetContext

INTERVAL_S = 0.1
TICKS = 6


def scenario(thresholds: Mapping[str, str] | None = None) -> Scenario:
    return parse_scenario({
        "name": "fake", "collect": {"interval": "100ms"},
        "load": {"endpoints": {"read": 1}, "stages": [{"duration": "1s", "users": 1}]},
        "variants": [{"name": "a"}, {"name": "b"}],
        "thresholds": dict(thresholds or {}),
    }, "fake.toml")


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
class FakeRuntime:
    """Hands out fake services and remembers what is up; ``fail_target`` raises on start."""

    fail_target: Exception | None = None
    name: str = "fake"
    up: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    closed: bool = False

    @contextlib.contextmanager
    def _service(self, name: str) -> Iterator[None]:
        self.up.append(name)
        self.started.append(name)
        try:
            yield
        finally:
            self.up.remove(name)

    @contextlib.contextmanager
    def postgres(self, **_: Any) -> Iterator[FakeDatabase]:
        with self._service("postgres"):
            yield FakeDatabase()

    def pgbouncer(self, **_: Any) -> contextlib.AbstractContextManager[Any]:
        raise AssertionError("no variant of the fake scenario has a pooler")

    def pgpool(self, **_: Any) -> contextlib.AbstractContextManager[Any]:
        raise AssertionError("no variant of the fake scenario has a pooler")

    @contextlib.contextmanager
    def target(self, ctx: TargetContext) -> Iterator[RunningTarget]:
        with self._service(f"target {ctx.variant.name}"):
            if self.fail_target is not None:
                raise self.fail_target
            yield RunningTarget(url="http://127.0.0.1:1", info={"fake": True})

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def close(self) -> None:
        self.closed = True


class Ticker:
    """A collector that only counts its samples: the fake load ends after TICKS of them."""

    name = "ticker"
    interval_s: float | None = None

    def __init__(self) -> None:
        self.ts: list[float] = []
        self.done = asyncio.Event()

    async def start(self) -> None:
        return None

    async def sample(self, t: float) -> None:
        self.ts.append(t)
        if len(self.ts) >= TICKS:
            self.done.set()

    async def stop(self) -> None:
        return None

    def frames(self) -> dict[str, pd.DataFrame]:
        return {}

    def latest(self) -> dict[str, float]:
        return {}


class LateLog:
    """Stands for the server-log collector: what it reads after the services stopped."""

    name = "pg_log"
    interval_s: float | None = None

    def __init__(self, runtime: FakeRuntime) -> None:
        self.runtime = runtime
        self.rest_read_with_up: list[list[str]] = []

    async def start(self) -> None:
        return None

    async def sample(self, t: float) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def read_rest(self) -> None:
        self.rest_read_with_up.append(list(self.runtime.up))

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"pglog": empty_frame("pglog")}

    def latest(self) -> dict[str, float]:
        return {}


class FakeDb:
    """Stands for the database collector: one ``db`` row per sample, or an error each time."""

    name = "pg_activity"
    interval_s: float | None = None

    def __init__(self, broken: bool) -> None:
        self.broken = broken
        self.rows: list[tuple[float, int]] = []

    async def start(self) -> None:
        return None

    async def sample(self, t: float) -> None:
        if self.broken:
            raise PermissionError("permission denied for view pg_stat_activity")
        self.rows.append((t, 3))

    async def stop(self) -> None:
        return None

    def frames(self) -> dict[str, pd.DataFrame]:
        db = pd.DataFrame(self.rows, columns=["t", "total"]).assign(
            active=1, idle=2, idle_in_transaction=0, other=0)
        return {"db": coerce_frame("db", db) if self.rows else empty_frame("db")}

    def latest(self) -> dict[str, float]:
        return {}


class FakeLoad:
    """A load runner that 'sends' one request per tick of the Ticker, inside its window."""

    def __init__(self, tickers: list[Ticker], problems: tuple[str, ...] = ()) -> None:
        self.tickers = tickers
        self.problems = problems

    async def run(self, load: LoadSpec, *, host: str, out_dir: Path, log_path: Path,
                  on_progress: Callable[[LocustProgress], None]) -> Any:
        ticker = self.tickers[-1]
        await ticker.done.wait()

        @dataclass(frozen=True)
        class Window:
            load_start: float
            load_end: float
            problems: tuple[str, ...] = ()

        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "ticks.json").write_text(json.dumps(ticker.ts))
        return Window(ticker.ts[0], ticker.ts[-1], self.problems)

    def requests(self, out_dir: Path) -> pd.DataFrame:
        ts = json.loads((out_dir / "ticks.json").read_text()) if out_dir.is_dir() else []
        return coerce_frame("requests", pd.DataFrame({
            "t": ts, "endpoint": "read", "latency_ms": 2.0, "status": 200, "kind": "",
            "instance": "1", "counter": -1}))

    def frames(self, out_dir: Path) -> dict[str, pd.DataFrame]:
        return {}


@dataclass
class Fakes:
    runtime: FakeRuntime
    broken_db: bool = False
    background_error: str | None = None
    load_problems: tuple[str, ...] = ()
    tickers: list[Ticker] = field(default_factory=list)
    logs: list[LateLog] = field(default_factory=list)

    def collectors(self, services: Services) -> Sequence[Collector]:
        self.tickers.append(Ticker())
        self.logs.append(LateLog(self.runtime))
        return [FakeDb(self.broken_db), self.tickers[-1], self.logs[-1]]

    def background(self, dsn: str) -> pd.DataFrame:
        if self.background_error is not None:
            raise MeasurementError(self.background_error)
        return empty_frame("background")

    def seams(self) -> Seams:
        return Seams(runtime=self.runtime, load=FakeLoad(self.tickers, self.load_problems),
                     collectors=self.collectors, background=self.background)


def run_fake(tmp_path: Path, fakes: Fakes, *, only: tuple[str, ...] | None = None,
             thresholds: Mapping[str, str] | None = None) -> tuple[Any, Path]:
    out = tmp_path / "run"
    with contextlib.closing(fakes.runtime):
        outcome = run(scenario(thresholds), RunOptions(out=out, only=only), fakes.seams(),
                      Progress(quiet=True))
    assert fakes.runtime.closed and fakes.runtime.up == []  # nothing left running
    return outcome, out


def test_a_whole_run_with_fakes_is_complete_recorded_and_judged(tmp_path: Path) -> None:
    fakes = Fakes(FakeRuntime())
    outcome, out = run_fake(tmp_path, fakes, thresholds={"*.http.error_rate": "== 0"})
    assert (outcome.status, outcome.exit_code) == ("complete", 0)
    assert fakes.runtime.started == ["postgres", "target a", "postgres", "target b"]
    manifest = RunFolder(out).read_manifest()
    assert manifest.status == "complete" and manifest.planned == ("a", "b")
    record = manifest.variants[0]
    assert record.status == "complete" and record.versions == {"postgresql": "15.0 (fake)"}
    assert record.target_info == {"fake": True}
    assert record.load_start is not None and record.load_end is not None
    assert {f.name: f.rows for f in record.frames} == {"db": pytest.approx(TICKS, abs=2),
                                                         "requests": TICKS, "background": 0,
                                                         "pglog": 0}
    health = {h.name: h for h in record.health}
    assert health["pg_activity"].failures == 0 and health["pg_activity"].samples >= TICKS - 1
    assert health["ticker"].samples >= TICKS and health["ticker"].interval_s == INTERVAL_S
    assert [t.status for t in outcome.summary.thresholds] == ["pass", "pass"]
    assert check_run(out).exit_code == 0  # run and check agree


def test_a_collector_that_fails_all_run_long_makes_the_run_incomplete(tmp_path: Path) -> None:
    outcome, out = run_fake(tmp_path, Fakes(FakeRuntime(), broken_db=True),
                            thresholds={"*.db.connections.peak": "< 50"})
    assert (outcome.status, outcome.exit_code) == ("incomplete", 3)
    record = RunFolder(out).read_manifest().variants[0]
    health = {h.name: h for h in record.health}["pg_activity"]
    assert health.samples == 0 and health.failures >= 1  # retried with backoff
    assert health.first_error == ("sample: PermissionError: permission denied for view "
                                  "pg_stat_activity")
    assert health.first_error_t is not None
    problem = outcome.summary.problems[0]
    assert problem.startswith("a/1: pg_activity at ") and "covered 0% of the load window" in \
        problem and "permission denied" in problem
    assert [t.status for t in outcome.summary.thresholds] == ["fail", "fail"]
    assert outcome.summary.thresholds[0].reason.startswith("not measured: pg_activity")
    html = (out / "index.html").read_text(encoding="utf-8")
    banner = html.split("This run is incomplete", 1)[1].split("</", 1)[0]
    assert "pg_activity" in banner and "permission denied" in banner
    with pytest.raises(IncompleteRunError, match="pg_activity"):
        check_run(out)


def test_an_unreadable_background_table_makes_the_run_incomplete(tmp_path: Path) -> None:
    fakes = Fakes(FakeRuntime(), background_error="cannot read background_jobs: denied")
    outcome, out = run_fake(tmp_path, fakes, only=("a",))
    assert (outcome.status, outcome.exit_code) == ("incomplete", 3)
    record = RunFolder(out).read_manifest().variants[0]
    assert record.status == "incomplete"
    assert [(p.source, p.reason) for p in record.problems] == [
        ("background", "cannot read background_jobs: denied")]
    assert "background" not in {f.name for f in record.frames}
    with pytest.raises(IncompleteRunError,
                       match=r"a/1: background at \+[0-9.]+s: cannot read background_jobs"):
        check_run(out)


def test_a_load_short_of_its_plan_makes_the_run_incomplete(tmp_path: Path) -> None:
    lost = "worker w2 (10.0.0.2) lost at 12.000 after 40 requests (Locust's count)"
    outcome, out = run_fake(tmp_path, Fakes(FakeRuntime(), load_problems=(lost,)), only=("a",))
    assert (outcome.status, outcome.exit_code) == ("incomplete", 3)
    record = RunFolder(out).read_manifest().variants[0]
    assert record.status == "incomplete"
    assert [(p.source, p.reason) for p in record.problems] == [("load", lost)]
    assert {f.name: f.rows for f in record.frames}["requests"] == TICKS  # what was sent, kept


def test_an_error_mid_run_ends_it_failed_with_everything_written(tmp_path: Path) -> None:
    error = InputError("no free TCP port on 127.0.0.1 between 20000 and 32767")
    outcome, out = run_fake(tmp_path, Fakes(FakeRuntime(fail_target=error)))
    assert (outcome.status, outcome.exit_code) == ("failed", 3)
    assert outcome.error == str(error)
    manifest = RunFolder(out).read_manifest()
    assert manifest.status == "failed" and manifest.error == str(error)
    assert [(v.name, v.status) for v in manifest.variants] == [("a", "failed")]
    summary = RunFolder(out).read_summary()
    assert summary.status == "failed" and summary.variants["a"].error == str(error)
    with pytest.raises(IncompleteRunError, match="status is 'failed'"):
        check_run(out)


def test_a_bug_mid_run_is_failed_with_its_traceback_kept(tmp_path: Path) -> None:
    outcome, out = run_fake(tmp_path, Fakes(FakeRuntime(fail_target=KeyError("oops"))))
    assert (outcome.status, outcome.exit_code) == ("failed", 3)
    assert outcome.error is not None and "internal error: KeyError" in outcome.error
    assert "KeyError" in (out / "error.log").read_text()


def test_a_threshold_on_a_variant_left_out_is_na_in_run_and_check(tmp_path: Path) -> None:
    outcome, out = run_fake(tmp_path, Fakes(FakeRuntime()), only=("a",),
                            thresholds={"b.http.error_rate": "== 0"})
    assert (outcome.status, outcome.exit_code) == ("complete", 0)
    assert [t.status for t in outcome.summary.thresholds] == ["n/a"]
    checked = check_run(out)
    assert checked.exit_code == 0 and [t.status for t in checked.thresholds] == ["n/a"]


def test_the_server_log_is_read_to_its_end_after_the_services_stopped(tmp_path: Path) -> None:
    """What the server logs while the target winds down (an instance refused on its way
    in) still reaches the run folder: the log's last lines are read once nothing is up."""
    fakes = Fakes(FakeRuntime())
    outcome, out = run_fake(tmp_path, fakes, only=("a",))
    assert outcome.status == "complete"
    assert [log.rest_read_with_up for log in fakes.logs] == [[[]]]
    assert "pglog" in {f.name for f in RunFolder(out).read_manifest().variants[0].frames}
