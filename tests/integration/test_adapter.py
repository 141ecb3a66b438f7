"""[target.serverless] adapter, run by the real CLI on a user's app (a raw ASGI app that does
150 ms of work after its response, in the same call, as Starlette's BackgroundTasks do):
under "web-adapter" that work is frozen with the instance (delayed to the next request, or
lost to a reap); under "mangum" it finishes inside the invocation — nothing delayed, nothing
lost — and the answers wait for it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import metrics, run_cli, write_scenario

pytestmark = pytest.mark.integration

APPS = Path(__file__).parents[1] / "fixtures" / "apps"


def test_mangum_keeps_the_work_after_the_response_inside_the_invocation(tmp_path: Path) -> None:
    done = tmp_path / "done.txt"
    text = f"""
name = "adapters"
[database]
max_connections = 20
[load]
think_time = "200ms"
stages = [{{ duration = "5s", users = 2, spawn_rate = 10 }}]
paths = {{ "GET /background?ms=150&file={done}" = 1 }}
[app]
asgi = "stdlib_asgi:app"
root = "{APPS}"
python = "{sys.executable}"
[target.serverless]
preset = "aws-lambda"
idle_timeout = "150ms"
[[variants]]
name = "web-adapter"
target = "serverless"
[[variants]]
name = "mangum"
target = "serverless"
target_overrides = {{ adapter = "mangum" }}
"""
    out = tmp_path / "run"
    result = run_cli("run", str(write_scenario(tmp_path, text)), "--out", str(out), "--quiet")
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-2000:]
    web, mangum = metrics(out, "web-adapter"), metrics(out, "mangum")
    assert web["background.delayed"] + web["background.lost"] > 0  # frozen with its instance
    assert (mangum["background.delayed"], mangum["background.lost"]) == (0, 0)
    assert mangum["http.failures"] == 0 and mangum["latency.p50_ms"] >= 150.0
