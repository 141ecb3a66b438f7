"""A broken app fails: an app whose lifespan startup raises on every instance.

Serverless: every request is answered 502 and the run ends ``failed``, exit 3, quoting the
app's first error (it used to end ``complete``, exit 0). Persistent: the startup fails before
the load, exit 2, as documented (docs/app.md, "Errors")."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import read_json, run_cli, write_scenario

pytestmark = pytest.mark.integration

APPS = Path(__file__).parents[1] / "apps"

SCENARIO = f"""
name = "broken"
[database]
max_connections = 20
[load]
stages = [{{ duration = "2s", users = 2, spawn_rate = 10 }}]
paths = {{ "GET /items" = 1 }}
[app]
asgi = "tiny.asgi_app:app"
root = "{APPS}"
python = "{sys.executable}"
schema = "{APPS / 'tiny' / 'schema.sql'}"
env = {{ FAIL_STARTUP = "1" }}
[target.serverless]
max_instances = 4
[[variants]]
name = "VARIANT"
target = "VARIANT"
"""

ERROR = "RuntimeError: startup failed on purpose"


def run(tmp_path: Path, target: str) -> tuple[int, str, Path]:
    out = tmp_path / target
    scenario = write_scenario(tmp_path, SCENARIO.replace("VARIANT", target), f"{target}.toml")
    done = run_cli("run", str(scenario), "--out", str(out), "--quiet")
    return done.returncode, done.stdout + done.stderr, out


def test_serverless_app_whose_every_init_fails_is_a_failed_run(tmp_path: Path) -> None:
    code, output, out = run(tmp_path, "serverless")
    assert code == 3, output[-3000:]
    assert "no instance completed its init" in output and ERROR in output
    manifest = read_json(out / "manifest.json")
    assert manifest["status"] == "failed"
    assert manifest["variants"][0]["status"] == "failed"
    assert f"{ERROR} (tiny/asgi_app.py:27)" in manifest["variants"][0]["error"]  # its line
    summary = read_json(out / "summary.json")
    assert summary["status"] == "failed"
    variant = summary["variants"]["serverless"]
    assert variant["status"] == "failed" and ERROR in variant["error"]
    assert variant["metrics"]["platform.init_failures"] >= 1  # measured all the same
    assert variant["metrics"]["platform.cold_starts"] == 0


def test_persistent_app_whose_startup_fails_stops_before_the_load(tmp_path: Path) -> None:
    code, output, _ = run(tmp_path, "persistent")
    assert code == 2, output[-3000:]
    assert ERROR in output
