"""The cause of failures from two sides, for a user's app: an asyncpg app (tests/apps/tiny,
an [app], not the built-in target) with its statement cache on, behind PgBouncer 1.18 in
transaction mode, on both targets: the app raised (app.exceptions), the database rejected
(db.errors), and a finding names prepared statements and the fix. With the cache off,
nothing of either."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import metrics, read_json, run_cli, write_scenario

pytestmark = pytest.mark.integration

APPS = Path(__file__).parents[1] / "apps"
VARIANTS = ("persistent+pgbouncer", "serverless+pgbouncer")

SCENARIO = f"""
name = "app-causes"
[database]
max_connections = 30
[load]
think_time = "0s"
stages = [{{ duration = "5s", users = 6, spawn_rate = 30 }}]
paths = {{ "GET /items" = 1 }}
[app]
asgi = "tiny.asgi_app:app"
root = "{APPS}"
python = "{sys.executable}"
schema = "{APPS / 'tiny' / 'schema.sql'}"
env = {{ POOL_SIZE = "3"CACHE }}
[target.persistent]
workers = 1
[target.serverless]
max_instances = 4
instance_concurrency = 2
[pooler.pgbouncer]
pool_mode = "transaction"
pool_size = 3
[[variants]]
name = "persistent+pgbouncer"
target = "persistent"
pooler = "pgbouncer"
[[variants]]
name = "serverless+pgbouncer"
target = "serverless"
pooler = "pgbouncer"
"""


def run(tmp_path: Path, cache: str) -> Path:
    out = tmp_path / "run"
    text = SCENARIO.replace("CACHE", f', STATEMENT_CACHE_SIZE = "{cache}"' if cache else "")
    done = run_cli("run", str(write_scenario(tmp_path, text)), "--out", str(out), "--quiet")
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_the_statement_cache_behind_a_transaction_pooler_is_named_from_both_sides(
        tmp_path: Path) -> None:
    out = run(tmp_path, "")
    findings = read_json(out / "summary.json")["findings"]
    for name in VARIANTS:
        m = metrics(out, name)
        assert m["app.exceptions"] > 0 and m["db.errors"] > 0, (name, m)
        cause = next(f for f in findings if f.startswith(f"{name}: ") and "the app raised" in f)
        assert "InvalidSQLStatementNameError" in cause or "DuplicatePreparedStatement" in cause
        assert "tiny/asgi_app.py:" in cause  # the app's own line
        assert "the database logged SQLSTATE" in cause
        assert "prepared statements behind a transaction pooler" in cause
        assert "statement_cache_size=0" in cause
    html = (out / "index.html").read_text()
    assert "What the app raised" in html


def test_with_the_cache_off_neither_side_has_anything(tmp_path: Path) -> None:
    out = run(tmp_path, "0")
    for name in VARIANTS:
        m = metrics(out, name)
        assert m["app.exceptions"] == 0 and m["db.errors"] == 0, (name, m)
        assert m["http.failures"] == 0
