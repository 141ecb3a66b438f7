"""Load against a user's app: ``[load] paths`` with headers and JSON bodies, and the user's
own unchanged Locust file (two tasks, no pgstampede imports) with pgstampede's request log
attached. Real PostgreSQL, the tiny ASGI app under uvicorn, real Locust."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from harness.load.runner import read_request_logs, run_locust
from harness.runtime.process import PostgresCluster
from harness.scenario import Scenario, load_scenario
from harness.services.persistent import persistent_target
from harness.services.target import RunningTarget, TargetContext

pytestmark = pytest.mark.integration

APPS = Path(__file__).parents[1] / "apps"
TINY = APPS / "tiny"
USER_LOCUSTFILE = TINY / "locustfile.py"


def scenario(tmp_path: Path, load: str) -> Scenario:
    text = f"""
name = "t"
[load]
stages = [{{ duration = "3s", users = 2, spawn_rate = 4 }}]
{load}
[app]
asgi = "tiny.asgi_app:app"
root = "{APPS}"
python = "{sys.executable}"
schema = "{TINY / 'schema.sql'}"
env = {{ POOL_SIZE = "2" }}
[[variants]]
name = "p"
"""
    (tmp_path / "s.toml").write_text(text)
    return load_scenario(tmp_path / "s.toml")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    tmp = tmp_path_factory.mktemp("pg")
    with PostgresCluster(workdir=tmp, max_connections=20, log_path=tmp / "postgres.log") as pg:
        yield pg


@pytest.fixture(autouse=True)
def fresh_orders(cluster: PostgresCluster) -> None:
    with psycopg.connect(cluster.app_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS orders")


def run(tmp_path: Path, cluster: PostgresCluster, s: Scenario) -> tuple[RunningTarget, Path]:
    v = s.variants[0]
    ctx = TargetContext(variant=v, dsn=cluster.app_dsn, logs=tmp_path / "logs",
                        workdir=tmp_path, direct_dsn=cluster.app_dsn,
                        monitor_dsn=cluster.monitor_dsn, say=lambda _: None)
    out = tmp_path / "locust"
    with persistent_target(ctx) as target:
        load = dataclasses.replace(s.load, requests=v.requests)
        result = asyncio.run(run_locust(load, host=target.url, out_dir=out,
                                        log_path=tmp_path / "logs" / "locust.log"))
    assert result.returncode == 0
    return target, out


def orders(cluster: PostgresCluster) -> list[tuple[int, str]]:
    with psycopg.connect(cluster.app_dsn) as conn:
        return [(int(r[0]), str(r[1])) for r in
                conn.execute("SELECT item, token FROM orders").fetchall()]


def test_paths_send_headers_and_json_bodies(tmp_path: Path, cluster: PostgresCluster) -> None:
    s = scenario(tmp_path, '[load.paths]\n"GET /items" = 1\n"POST /orders" = { weight = 1, '
                 'json = { item = 42 }, headers = { X-Token = "from-paths" } }')
    _, out = run(tmp_path, cluster, s)
    frame = read_request_logs(out)
    posts = frame[frame["endpoint"] == "POST /orders"]
    assert set(frame["endpoint"]) == {"GET /items", "POST /orders"}
    assert (frame["status"] == 200).all()
    rows = orders(cluster)
    assert set(rows) == {(42, "from-paths")}
    # a request in flight when the load stops is served but not logged: at most one per user
    assert len(posts) <= len(rows) <= len(posts) + 2


def test_users_own_locustfile_runs_unchanged(tmp_path: Path, cluster: PostgresCluster) -> None:
    text = USER_LOCUSTFILE.read_text()
    assert "pgstampede" not in text and "harness" not in text and text.count("@task") == 2
    s = scenario(tmp_path, f'locustfile = "{USER_LOCUSTFILE}"')
    assert s.variants[0].requests == ()
    _, out = run(tmp_path, cluster, s)
    frame = read_request_logs(out)
    assert set(frame["endpoint"]) == {"/items", "/orders"}
    assert (frame["status"] == 200).all() and (frame["kind"] == "").all()
    posted = int((frame["endpoint"] == "/orders").sum())
    assert posted > 0
    rows = orders(cluster)
    assert set(rows) == {(7, "plain")}
    # a request in flight when the load stops is served but not logged: at most one per user
    assert posted <= len(rows) <= posted + 2
    # the scenario's stages drove the user count, and Locust's totals match the log
    stats = (out / "locust_stats.csv").read_text().splitlines()
    aggregated = next(line for line in stats if ",Aggregated," in line)
    assert int(aggregated.split(",")[2]) == len(frame)


def test_pgstampede_run_puts_the_users_requests_in_requests_parquet(tmp_path: Path) -> None:
    """The whole pipeline (``pgstampede run``): the user's unchanged Locust file against the
    app on the persistent target; requests.parquet holds its two tasks' requests."""
    s = tmp_path / "s.toml"
    s.write_text(f"""
name = "user-locustfile"
description = "a plain Locust file, unchanged"
[load]
locustfile = "{USER_LOCUSTFILE}"
stages = [{{ duration = "3s", users = 2, spawn_rate = 4 }}]
[app]
asgi = "tiny.asgi_app:app"
root = "{APPS}"
schema = "{TINY / 'schema.sql'}"
[[variants]]
name = "app"
""")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(s), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    frame = pd.read_parquet(next(out.glob("app/*/requests.parquet")))
    assert set(frame["endpoint"]) == {"/items", "/orders"}
    assert (frame["status"] == 200).all()
