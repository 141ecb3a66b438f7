"""Vercel-style function files (``[app] node``) run by the real CLI, with the unmodified
@vercel/functions and node-postgres (tests/apps/node_functions, installed by ``npm ci``):

- two routes are two functions on serverless: each its own instances (cold starts named by
  route) and its own connections (``application_name`` = the route), which add up; on
  persistent one Node process serves both, with one pool;
- ``attachDatabasePool`` closes the pool's idle connection before each freeze: the idle
  connections' mean is measurably lower than without it;
- on a Fluid-like preset, the email written after the response is never lost when
  ``waitUntil`` keeps it alive, and lost (frozen with instances reaped at the end) without;
- a WebSocket reaches a function's ``upgradeWebSocket`` through the emulator.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from websockets.sync.client import connect

from harness.app.node import function_commands
from harness.platform.config import PlatformConfig
from harness.runtime.managed import ManagedProcess
from harness.runtime.ports import free_port
from harness.scenario.records import AppSpec
from tests.integration.apps.scenarios import table
from tests.integration.pipeline_helpers import (
    marked_processes,
    metrics,
    new_mark,
    read_json,
    run_cli,
)
from tests.nodehost import npm_app

pytestmark = pytest.mark.integration

SRC = Path(__file__).parents[1] / "apps" / "node_functions"
REPO = Path(__file__).parents[2]

SETTINGS = """
[collect]
interval = "200ms"

[check]
min_coverage = 0.5

[database]
max_connections = 60

[target.serverless]
preset = "aws-lambda"
idle_timeout = "60s"
max_duration = "30s"

"""


def run(app_dir: Path, tmp_path: Path, name: str, text: str) -> Path:
    """``pgstampede run`` of a scenario written into the app's folder (its paths relative to
    it); the run folder, complete, nothing left running."""
    scenario = app_dir / f"{name}-{tmp_path.name}.toml"
    scenario.write_text(f'name = "{name}"\n' + SETTINGS + text)
    mark = new_mark()
    out = tmp_path / name
    try:
        done = run_cli("run", str(scenario), "--out", str(out), "--quiet", mark=mark)
    finally:
        scenario.unlink()
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_json(out / "manifest.json")["status"] == "complete"
    assert marked_processes(mark) == set()
    return out


def frame(out: Path, variant: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / variant / "1" / f"{name}.parquet")


def app_section(routes: dict[str, str], **env: str) -> str:
    return (table("app", {"node": routes, "schema": "schema.sql", "dsn_env": "DATABASE_URL"})
            + table("app.env", {"DB_POOL_MAX": "3", **env}))


def test_two_routes_are_two_functions_whose_connections_add_up(tmp_path: Path) -> None:
    app_dir = npm_app(SRC)
    routes = {"/api/items": "api/items.mjs", "/api/orders": "api/orders.js"}
    text = app_section(routes, EMAIL_DELAY_MS="10") + """
[load]
think_time = "0s"
stages = [{ duration = "10s", users = 6, spawn_rate = 6 }]

[load.paths]
"GET /api/items" = 0.5
"POST /api/orders" = { weight = 0.5, json = { customer = "ann" } }

[[variants]]
name = "persistent"
target = "persistent"

[[variants]]
name = "functions"
target = "serverless"
"""
    out = run(app_dir, tmp_path, "two-functions", text)

    served = metrics(out, "persistent")
    assert served["http.error_rate"] == 0 and served["http.requests"] > 0
    assert 0 < served["db.connections.peak"] <= 3  # one process, one pool of 3

    m = metrics(out, "functions")
    assert m["http.error_rate"] == 0 and m["http.requests"] > 0
    starts = frame(out, "functions", "cold_starts")
    per_function = starts["instance"].str.partition("#")[0].value_counts().to_dict()
    assert set(per_function) == set(routes)  # each route its own instances
    assert sum(per_function.values()) == m["platform.cold_starts"]
    groups = frame(out, "functions", "db_groups")
    peaks = groups[groups["usename"] == "app"].groupby(["t", "application_name"])["count"] \
        .sum().unstack(fill_value=0)
    assert {"/api/items", "/api/orders"} <= set(peaks.columns)  # each function's connections
    both = peaks["/api/items"] + peaks["/api/orders"]
    assert both.max() > max(peaks["/api/items"].max(), peaks["/api/orders"].max())  # add up
    assert m["db.connections.peak"] >= both.max()


def idle_mean(out: Path, variant: str) -> Any:
    return metrics(out, variant)["db.connections.idle.mean"]


def test_attach_database_pool_lowers_the_idle_connections(tmp_path: Path) -> None:
    app_dir = npm_app(SRC)
    runs = {}
    for file in ("api/items.mjs", "api/items-attached.mjs"):
        # think times well beyond the pool's idle timeout: an attached instance spends most
        # of each pause without its connection, a plain one keeps it all the pause long
        text = app_section({"/api/items": file}, DB_IDLE_TIMEOUT_MS="200") + """
[load]
think_time = ["1s", "2s"]
stages = [{ duration = "12s", users = 6, spawn_rate = 6 }]

[load.paths]
"GET /api/items" = 1

[[variants]]
name = "functions"
target = "serverless"
target_overrides = { preset = "vercel-fluid", instance_concurrency = 1, idle_timeout = "60s" }
"""
        runs[file] = run(app_dir, tmp_path, Path(file).stem, text)
    plain = idle_mean(runs["api/items.mjs"], "functions")
    attached = idle_mean(runs["api/items-attached.mjs"], "functions")
    busy = metrics(runs["api/items-attached.mjs"], "functions")["platform.busy_ms"]
    assert busy > 0  # kept awake by waitUntil until the pool's idle timeout
    assert plain > 1.0  # each frozen instance keeps its idle connection
    assert attached < plain / 2  # measured here: 0.53 against 2.62, 0.63 against 1.87


def test_wait_until_loses_nothing_where_the_same_work_without_it_is_lost(tmp_path: Path
                                                                         ) -> None:
    app_dir = npm_app(SRC)
    missing = {}
    for file in ("api/orders-wait-until.js", "api/orders.js"):
        text = app_section({"/api/orders": file}, EMAIL_DELAY_MS="300") + """
[app.expect]
"POST /api/orders" = "SELECT count(*) FROM emails"

[load]
think_time = ["200ms", "400ms"]
stages = [{ duration = "10s", users = 6, spawn_rate = 6 }]

[load.paths]
"POST /api/orders" = { weight = 1, json = { customer = "ann" } }

[[variants]]
name = "fluid"
target = "serverless"
target_overrides = { preset = "vercel-fluid", idle_timeout = "60s" }
"""
        out = run(app_dir, tmp_path, Path(file).stem, text)
        m = metrics(out, "fluid")
        assert m["app.work.expected"] > 0 and m["http.error_rate"] == 0
        missing[file] = m["app.work.missing"]
    assert missing["api/orders-wait-until.js"] == 0
    assert missing["api/orders.js"] > 0


def test_upgrade_websocket_through_the_gateway_on_a_function(tmp_path: Path) -> None:
    """A WebSocket through the emulator to a function that calls @vercel/functions'
    upgradeWebSocket: the gateway passes the upgrade to the route's instance, which echoes;
    the instance holds its slot while the socket is open."""
    app_dir = npm_app(SRC)
    commands = function_commands(AppSpec(kind="node", entry="node", root=str(app_dir),
                                         node_routes=(("/api/socket", "api/socket.mjs"),)))
    config = PlatformConfig(dsn="postgresql://app@127.0.0.1:1/app", app_kind="command",
                            app_entry="node", app_root=str(app_dir),
                            app_command=commands["/api/socket"], app_functions=commands,
                            max_duration_s=30.0)
    (tmp_path / "platform.json").write_text(config.to_json())
    port = free_port()
    argv = [sys.executable, "-m", "harness.platform.gateway", "--config",
            str(tmp_path / "platform.json"), "--port", str(port), "--workdir",
            str(tmp_path / "gw")]
    gateway = ManagedProcess(name="gateway", argv=argv, log_path=tmp_path / "gateway.log",
                             cwd=REPO, ready_url=f"http://127.0.0.1:{port}/__platform/health")
    with gateway, connect(f"ws://127.0.0.1:{port}/api/socket", open_timeout=30) as ws:
        ws.send("ping")
        assert ws.recv(timeout=30) == "echo: ping"
        instances = json.loads(urllib.request.urlopen(
            f"http://127.0.0.1:{port}/__platform/instances", timeout=10).read())
        assert [(i["function"], i["in_flight"]) for i in instances] == [("/api/socket", 1)]
