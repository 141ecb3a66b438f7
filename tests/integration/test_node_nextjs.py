"""The Next.js example (examples/nextjs-postgres), unchanged, both ways, by the real CLI:

- built once (``next build``, shared by the session and kept with the cached copy:
  tests/nodehost.py ``built_next_app``) and run as ``next start``, a command app: one server,
  and Lambda-style instances, each a ``next start`` process;
- its route files as Vercel-style functions (``[app] node``, no build): one Node process on
  persistent, one function per route on serverless.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.integration.apps.scenarios import table
from tests.integration.pipeline_helpers import (
    marked_processes,
    metrics,
    new_mark,
    read_json,
    run_cli,
)
from tests.nodehost import built_next_app

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "examples" / "nextjs-postgres"

SETTINGS = """
[collect]
interval = "200ms"

[check]
min_coverage = 0.5

[database]
max_connections = 40

[load]
think_time = ["100ms", "200ms"]
stages = [{ duration = "12s", users = 3, spawn_rate = 3 }]

[target.serverless]
preset = "aws-lambda"
idle_timeout = "60s"
max_duration = "30s"

[[variants]]
name = "persistent"
target = "persistent"

[[variants]]
name = "serverless"
target = "serverless"
"""


@pytest.fixture(scope="session")
def nextjs_app() -> Path:
    return built_next_app(EXAMPLE)


def run_shipped(app_dir: Path, tmp_path: Path, shipped: str) -> Path:
    """The shipped scenario's [app] and [load.paths], with the settings above."""
    data = tomllib.loads((app_dir / shipped).read_text())
    app = {k: v for k, v in data["app"].items() if k not in ("env", "expect")}
    text = (f'name = "{Path(shipped).stem}"\n' + SETTINGS + table("app", app)
            + table("app.env", {**data["app"]["env"], "DB_POOL_MAX": "2"})
            + table("load.paths", data["load"]["paths"]))
    scenario = app_dir / f"e2e-{tmp_path.name}-{shipped}"
    scenario.write_text(text)
    mark = new_mark()
    out = tmp_path / Path(shipped).stem
    try:
        done = run_cli("run", str(scenario), "--out", str(out), "--quiet", mark=mark)
    finally:
        scenario.unlink()
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_json(out / "manifest.json")["status"] == "complete"
    assert marked_processes(mark) == set()
    return out


def test_next_start_on_both_targets(nextjs_app: Path, tmp_path: Path) -> None:
    out = run_shipped(nextjs_app, tmp_path, "scenario.toml")
    persistent = metrics(out, "persistent")
    assert persistent["http.error_rate"] == 0 and persistent["http.requests"] > 0
    assert 0 < persistent["db.connections.peak"] <= 2  # one next start, postgres.js max 2
    serverless = metrics(out, "serverless")
    assert serverless["http.error_rate"] == 0 and serverless["http.requests"] > 0
    assert serverless["platform.cold_starts"] >= 1
    assert serverless["platform.init_failures"] == 0


def test_route_files_as_functions_on_both_targets(nextjs_app: Path, tmp_path: Path) -> None:
    out = run_shipped(nextjs_app, tmp_path, "scenario-functions.toml")
    persistent = metrics(out, "persistent")
    assert persistent["http.error_rate"] == 0 and persistent["http.requests"] > 0
    assert 0 < persistent["db.connections.peak"] <= 2
    serverless = metrics(out, "serverless")
    assert serverless["http.error_rate"] == 0 and serverless["http.requests"] > 0
    assert serverless["platform.cold_starts"] >= 2  # /api/orders and /api/orders/[id]
