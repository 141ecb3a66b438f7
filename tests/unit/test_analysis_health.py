"""Measurement health: coverage of the database collector and the server log, from the
records and files of a run folder; what it does to the metrics and the summary."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pandas as pd

from harness.analysis.run import load_run
from harness.analysis.summary import summarise
from harness.results.check_spec import CheckSpec
from harness.results.folder import RunFolder
from harness.results.records import FaultEvent
from tests.synthetic import RunShape, SyntheticVariant, write_run

SHAPE = RunShape(requests_per_variant=300, duration_s=10.0)
ONE = (SyntheticVariant("p", "persistent", "none"),)


def rewrite(run_dir: Path, change_db: bool = False, log_read: bool = True) -> None:
    """Record a db collector that sampled the first 40% of the load only, and/or a server
    log that was not read to its end (as the run would have recorded them)."""
    folder = RunFolder(run_dir)
    manifest = folder.read_manifest()
    record = manifest.variants[0]
    frames = list(record.frames)
    if change_db:
        path = folder.variant_dir(record) / "db.parquet"
        db = pd.read_parquet(path)
        early = db[db["t"] < record.load_start + 0.4 * SHAPE.duration_s]  # type: ignore[operator]
        frames = [f for f in frames if f.name != "db"]
        frames.append(folder.write_frame(record.dir, "db", early))
    health = tuple(dataclasses.replace(h, read_to_end=log_read) if h.name == "pg_log" else h
                   for h in record.health)
    record = dataclasses.replace(record, frames=tuple(frames), health=health)
    folder.write_manifest(dataclasses.replace(manifest, variants=(record,)))


def test_a_healthy_run_has_no_problem(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path / "r", SHAPE, ONE))
    assert run.problems == ()
    assert summarise(run).status == "complete"


def test_low_database_coverage_makes_the_run_incomplete_and_nulls_db_metrics(
        tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "r", SHAPE, ONE)
    rewrite(run_dir, change_db=True)
    run = load_run(run_dir)
    [problem] = run.problems
    assert problem.startswith("p/1: pg_activity: covered 4") and "at least 90% needed" in problem
    summary = summarise(run)
    assert summary.status == "incomplete" and summary.variants["p"].status == "incomplete"
    assert summary.variants["p"].metrics["db.connections.peak"] is None
    assert summary.variants["p"].nulls["db.connections.peak"].kind == "not measured"
    assert summary.variants["p"].metrics["http.requests"] == 300  # the rest stays measured


def test_min_coverage_comes_from_the_check_spec(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "r", SHAPE, ONE, check=CheckSpec(min_coverage=0.3))
    rewrite(run_dir, change_db=True)
    assert load_run(run_dir).problems == ()


def test_a_server_log_not_read_to_its_end_nulls_the_refusals(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "r", SHAPE, ONE)
    rewrite(run_dir, log_read=False)
    summary = summarise(load_run(run_dir))
    assert summary.problems == ("p/1: pg_log: the server log was not read to its end",)
    assert summary.variants["p"].metrics["db.refused"] is None
    assert summary.variants["p"].nulls["db.refused"].why == (
        "pg_log: the server log was not read to its end")


def test_an_injected_fault_excuses_its_window(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "r", SHAPE, ONE)
    folder = RunFolder(run_dir)
    manifest = folder.read_manifest()
    record = manifest.variants[0]
    assert record.load_start is not None
    outage = (record.load_start + 2.0, record.load_start + 4.0)  # PostgreSQL down 2 s
    path = folder.variant_dir(record) / "db.parquet"
    db = pd.read_parquet(path)
    kept = db[(db["t"] < outage[0]) | (db["t"] >= outage[1] + 1.0)]  # back 1 s after
    frames = [f for f in record.frames if f.name != "db"]
    frames.append(folder.write_frame(record.dir, "db", kept))
    record = dataclasses.replace(record, frames=tuple(frames))
    folder.write_manifest(dataclasses.replace(manifest, variants=(record,)))
    [problem] = load_run(run_dir).problems  # a 3 s hole less its 1 s allowance: 80% covered
    assert re.search(r"pg_activity: covered (79|80|81)% of the load window", problem)
    fault = FaultEvent(kind="restart_postgres", at_s=2.0, duration_s=2.0, count=1,
                       start=outage[0], end=outage[1], detail="restarted", ok=True)
    record = dataclasses.replace(record, faults=(fault,))
    folder.write_manifest(dataclasses.replace(manifest, variants=(record,)))
    assert load_run(run_dir).problems == ()


def test_a_late_sampler_still_covers_the_window(tmp_path: Path) -> None:
    """A busy machine makes the sampler late (every third tick taken): not a hole."""
    run_dir = write_run(tmp_path / "r", SHAPE, ONE)
    folder = RunFolder(run_dir)
    manifest = folder.read_manifest()
    record = manifest.variants[0]
    db = pd.read_parquet(folder.variant_dir(record) / "db.parquet")
    sparse = db.iloc[::3]
    assert sparse["t"].diff().max() > 2 * record.collect_interval_s
    frames = [f for f in record.frames if f.name != "db"]
    frames.append(folder.write_frame(record.dir, "db", sparse))
    folder.write_manifest(dataclasses.replace(
        manifest, variants=(dataclasses.replace(record, frames=tuple(frames)),)))
    assert load_run(run_dir).problems == ()
