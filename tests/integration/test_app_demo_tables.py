"""An app's database holds none of pgstampede's demo tables: an app schema that creates
``counters``, ``background_jobs`` and ``realtime_messages`` (columns of its own) runs, and the
run is complete (the harness reads none of those tables for an app's variant)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.runtime.postgres import DEMO_TABLES
from tests.integration.pipeline_helpers import metrics, read_json, run_cli, write_scenario

pytestmark = pytest.mark.integration

APPS = Path(__file__).parents[1] / "apps"

SCHEMA = """
CREATE TABLE counters (id uuid PRIMARY KEY, hits int);
CREATE TABLE background_jobs (job text PRIMARY KEY);
CREATE TABLE realtime_messages (room text, body text);
CREATE TABLE items (sku text PRIMARY KEY);
CREATE TABLE writes (note text);
CREATE TABLE orders (id bigserial PRIMARY KEY, item int NOT NULL, token text NOT NULL DEFAULT '');
"""


def test_an_app_schema_may_create_every_demo_table(tmp_path: Path) -> None:
    assert set(DEMO_TABLES) == {"items", "writes", "background_jobs", "realtime_messages",
                                "counters"}
    schema = tmp_path / "schema.sql"
    schema.write_text(SCHEMA)
    scenario = write_scenario(tmp_path, f"""
name = "own-tables"
[database]
max_connections = 20
[load]
stages = [{{ duration = "2s", users = 2, spawn_rate = 10 }}]
paths = {{ "GET /items" = 1 }}
[app]
asgi = "tiny.asgi_app:app"
root = "{APPS}"
python = "{sys.executable}"
schema = "{schema}"
env = {{ POOL_SIZE = "2" }}
[[variants]]
name = "persistent"
target = "persistent"
""")
    out = tmp_path / "run"
    done = run_cli("run", str(scenario), "--out", str(out), "--quiet")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert read_json(out / "manifest.json")["status"] == "complete"
    m = metrics(out, "persistent")
    assert m["http.requests"] > 0 and m["http.failures"] == 0
