"""The run pipeline end to end: real PostgreSQL, PgBouncer, persistent target, Locust.

One scenario with four variants answers the issue's questions in one run:
- a pool that fits: no errors, peak connections <= pool_max;
- a pool larger than max_connections - 3: refusals, counted equal to the server log;
- PgBouncer with a small pool under more users: clients queue, no refusals;
- PgBouncer transaction mode without the prepared-statement fix: db_other errors.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.pipeline_helpers import (
    marked_processes,
    metrics,
    new_mark,
    read_json,
    run_cli,
    temp_dirs,
    write_scenario,
)

pytestmark = [pytest.mark.integration, pytest.mark.fast]  # in make test-fast: end to end

SCENARIO = """
name = "pipeline"
description = "integration test of the run pipeline"
[database]
max_connections = 20
[load]
endpoints = { read = 0.6, slow = 0.4 }
slow_ms = 60
stages = [{ duration = "3s", users = 8, spawn_rate = 20 },
          { duration = "6s", users = 40, spawn_rate = 40 }]
[target.persistent]
pool_min = 1
pool_max = 5
acquire_timeout = "20s"
[pooler.pgbouncer]
pool_size = 3
[[variants]]
name = "fits"
[[variants]]
name = "too-big"
target_overrides = { pool_max = 40 }
[[variants]]
name = "pooled"
pooler = "pgbouncer"
target_overrides = { pool_max = 30 }
[[variants]]
name = "no-fix"
pooler = "pgbouncer"
target_overrides = { pool_max = 10, prepared_statement_fix = false }
[thresholds]
"fits.http.error_rate" = "== 0"
"pooled.db.refused" = "== 0"
"""

REQUIRED_METRICS = [
    "http.requests", "http.failures", "http.error_rate", "http.rps", "latency.p50_ms",
    "latency.p95_ms", "latency.p99_ms", "latency.max_ms", "errors.db_too_many_connections",
    "errors.db_pool_timeout", "errors.db_other", "errors.http_5xx", "errors.http_429",
    "errors.timeout", "errors.connection_error", "db.connections.peak", "db.connections.mean",
    "db.connections.idle.peak", "db.connections.idle.mean",
    "db.connects", "db.refused", "time_to_first_refusal_s",
    "pooler.cl_waiting.peak", "pooler.maxwait_ms.peak", "pooler.sv_active.peak",
    "host.cpu.postgres.mean",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pipeline")
    mark = new_mark()
    scenario = write_scenario(folder, SCENARIO)
    out = folder / "run"
    result = run_cli("run", str(scenario), "--out", str(out), "--quiet", mark=mark)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()
    return out


def test_run_folder_layout(run_dir: Path) -> None:
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["status"] == "complete"
    assert manifest["versions"]["python"] and manifest["machine"]["cores"] >= 1
    assert [v["name"] for v in manifest["variants"]] == ["fits", "too-big", "pooled", "no-fix"]
    for entry in manifest["variants"]:
        vdir = run_dir / entry["dir"]
        for name in ("requests", "db", "pglog", "host"):
            assert (vdir / f"{name}.parquet").exists(), name
        assert (vdir / "logs" / "postgres.log").stat().st_size > 0
        assert (vdir / "logs" / "target.log").exists()
        assert list((vdir / "locust").glob("*_stats.csv"))
        assert re.match(r"\d+\.\d+", entry["versions"]["postgresql"])
    assert (run_dir / "pooled" / "1" / "pooler.parquet").exists()
    assert (run_dir / "pooled" / "1" / "logs" / "pgbouncer.log").exists()
    summary = read_json(run_dir / "summary.json")
    assert summary["schema_version"] == 2 and summary["scenario"] == "pipeline"
    assert summary["status"] == "complete" and summary["problems"] == []
    for entry in manifest["variants"]:  # every collector's health and every file recorded
        health = {h["name"]: h for h in entry["health"]}
        assert health["pg_activity"]["samples"] > 0 and health["pg_activity"]["failures"] == 0
        assert health["pg_log"]["read_to_end"] is True
        files = {f["name"]: f for f in entry["frames"]}
        assert files["requests"]["rows"] == len(pd.read_parquet(run_dir / entry["dir"] /
                                                                "requests.parquet"))
    for variant in ("fits", "too-big", "pooled", "no-fix"):
        for name in REQUIRED_METRICS:
            assert name in summary["variants"][variant]["metrics"], (variant, name)


def test_pool_that_fits_has_no_errors(run_dir: Path) -> None:
    m = metrics(run_dir, "fits")
    assert m["http.requests"] > 100
    assert m["http.error_rate"] == 0
    assert 1 <= m["db.connections.peak"] <= 5
    assert m["db.refused"] == 0 and m["time_to_first_refusal_s"] is None
    assert m["pooler.cl_waiting.peak"] is None
    requests = pd.read_parquet(run_dir / "fits" / "1" / "requests.parquet")
    assert len(requests) == m["http.requests"]
    assert (requests["latency_ms"] % 1 != 0).any()  # sub-millisecond precision


def test_pool_larger_than_the_server_is_refused(run_dir: Path) -> None:
    m = metrics(run_dir, "too-big")
    assert m["errors.db_too_many_connections"] > 0
    assert m["db.refused"] > 0
    assert m["time_to_first_refusal_s"] is not None
    log = (run_dir / "too-big" / "1" / "logs" / "postgres.log").read_text()
    refusals = len(re.findall(r"FATAL:  (sorry, too many clients already|remaining connection "
                              r"slots are reserved)", log))
    assert m["db.refused"] == refusals
    assert m["db.connections.peak"] <= 20


def test_pgbouncer_queues_clients_instead_of_refusing(run_dir: Path) -> None:
    m = metrics(run_dir, "pooled")
    assert m["pooler.cl_waiting.peak"] > 0
    assert m["pooler.sv_active.peak"] <= 3
    assert m["db.refused"] == 0
    assert m["errors.db_too_many_connections"] == 0
    assert m["db.connections.peak"] <= 3 + 1  # pool_size plus PgBouncer's own


def test_prepared_statements_behind_transaction_pooling_fail(run_dir: Path) -> None:
    m = metrics(run_dir, "no-fix")
    assert m["errors.db_other"] > 0
    requests = pd.read_parquet(run_dir / "no-fix" / "1" / "requests.parquet")
    assert (requests["kind"] == "db_other").sum() == m["errors.db_other"]


def test_thresholds_were_evaluated(run_dir: Path) -> None:
    summary = read_json(run_dir / "summary.json")
    by_expr = {t["expr"]: t for t in summary["thresholds"]}
    assert len(by_expr) == 2
    assert all(t["status"] == "pass" for t in by_expr.values())
