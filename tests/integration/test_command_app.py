"""A command app run by the real CLI on both targets: a Python program serving HTTP with
the standard library's http.server and psycopg (tests/fixtures/apps/command_shop), started
as ``[app] command`` — "any language" tested, not claimed. Persistent: one process with
``WEB_CONCURRENCY`` = workers; serverless: one process (group) per instance, each with its own
connection; behind PgBouncer the server keeps to the pool. ``[app.expect]``: the email each
order sends after its response reaches the database on persistent, and is missing on
serverless (frozen with its instance, lost at the end-of-run reap)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.apps.scenarios import table
from tests.integration.pipeline_helpers import metrics, read_json, run_complete

pytestmark = pytest.mark.integration

SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "apps" / "command_shop"
VARIANTS = ("persistent", "serverless", "serverless+pgbouncer")

SETTINGS = """
[collect]
interval = "200ms"

[check]
min_coverage = 0.5

[database]
max_connections = 30

[load]
think_time = "100ms"
stages = [{ duration = "6s", users = 4, spawn_rate = 4 }]

[load.paths]
"POST /orders" = { weight = 1, json = { item = 3 } }
"GET /items" = 1

[target.persistent]
workers = 2

[target.serverless]
preset = "aws-lambda"
idle_timeout = "30s"

[pooler.pgbouncer]
pool_mode = "transaction"
pool_size = 3

[[variants]]
name = "persistent"
target = "persistent"
pooler = "none"

[[variants]]
name = "serverless"
target = "serverless"
pooler = "none"

[[variants]]
name = "serverless+pgbouncer"
target = "serverless"
pooler = "pgbouncer"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("command-shop")
    app = {"command": [sys.executable, "shop.py"], "root": str(SHOP), "ready": "GET /health",
           "schema": str(SHOP / "schema.sql"), "env": {"EMAIL_DELAY_MS": "100"}}
    expect = table("app.expect", {"POST /orders": "SELECT count(*) FROM emails"})
    return run_complete(tmp, 'name = "command-shop"\n' + table("app", app) + expect
                        + SETTINGS)


def test_the_program_serves_every_variant_without_errors(run: Path) -> None:
    for variant in VARIANTS:
        m = metrics(run, variant)
        assert m["http.requests"] > 20 and m["http.error_rate"] == 0, variant
        assert m["db.refused"] == 0, variant


def test_persistent_is_one_process_told_its_workers(run: Path) -> None:
    log = (run / "persistent" / "1" / "logs" / "target.log").read_text()
    assert log.count("shop listening on") == 1 and "(WEB_CONCURRENCY=2)" in log
    m = metrics(run, "persistent")
    assert m["db.connections.peak"] == 1  # one process, one connection


def test_serverless_instances_are_processes_of_their_own(run: Path) -> None:
    m = metrics(run, "serverless")
    assert m["platform.cold_starts"] >= 2
    assert m["db.connections.peak"] <= m["platform.instances.peak"]
    log = (run / "serverless" / "1" / "logs" / "gateway.log").read_text()
    assert log.count("shop listening on") == m["platform.cold_starts"]
    assert "(WEB_CONCURRENCY=1)" in log
    requests = pd.read_parquet(run / "serverless" / "1" / "requests.parquet")
    assert set(requests["status"]) == {200, 201}
    manifest = read_json(run / "manifest.json")
    info = {v["name"]: v["target_info"] for v in manifest["variants"]}
    platform = info["serverless"]["platform"]
    assert platform["app_kind"] == "command" and platform["app_ready"] == "GET /health"
    assert json.dumps(platform["app_command"]).endswith('"shop.py"]')


def test_pgbouncer_keeps_the_server_to_its_pool(run: Path) -> None:
    m = metrics(run, "serverless+pgbouncer")
    assert m["db.connections.peak"] <= 3 + 1  # the pool, and PgBouncer's own check


def test_the_work_after_the_response_is_in_the_database_only_on_persistent(run: Path) -> None:
    persistent = metrics(run, "persistent")
    orders = persistent["app.work.expected"]
    assert orders > 5 and persistent["app.work.missing"] == 0
    for variant in ("serverless", "serverless+pgbouncer"):
        m = metrics(run, variant)
        assert m["app.work.expected"] > 5, variant
        # emails frozen with their instance (one or more each: a thawed instance may be frozen
        # again before its earlier email finished) are lost when it is reaped; most arrive
        assert 1 <= m["app.work.missing"] < m["app.work.expected"], variant
    frame = pd.read_parquet(run / "serverless" / "1" / "app_work.parquet")
    assert list(frame["request"]) == ["POST /orders"]
    findings = read_json(run / "summary.json")["findings"]
    assert any(f.startswith("serverless: ") and "waitUntil" in f for f in findings)
    assert any(f.startswith("persistent: the database shows all") for f in findings)
