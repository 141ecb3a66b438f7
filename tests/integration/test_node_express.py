"""The Express example (examples/express-pg), unchanged (``npm ci`` from its lock into a cached
copy), run by the real CLI as a command app against a small ``max_connections``:

- persistent: one process, one pool of at most ``POOL`` connections, whatever the load; every
  email written after its response arrives (``app.work.missing`` = 0);
- serverless, Lambda-style (one request per instance, each its own process and pool, one
  connection each): refused once the instances exceed the usable slots, ``db.refused``
  equal to the server log's count; emails frozen with the instances reaped at the end are
  missing;
- serverless behind PgBouncer: the same instances, no refusal.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from tests.integration.apps.scenarios import table, variants
from tests.integration.pipeline_helpers import (
    marked_processes,
    metrics,
    new_mark,
    read_json,
    run_cli,
    write_scenario,
)
from tests.nodehost import npm_app

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "examples" / "express-pg"
MAX_CONNECTIONS = 10
USABLE = MAX_CONNECTIONS - 3
POOL = 3
USERS = 12  # more concurrent requests than usable slots: Lambda-style instances are refused

# PostgreSQL's refusals in its log (the line prefix may carry the SQLSTATE)
REFUSED = re.compile(r"^\S+ \S+ UTC \[\d+\] (?:\w{5} )?FATAL:  (?:sorry, too many clients "
                     r"already|remaining connection slots are reserved)", re.M)

SETTINGS = f"""
name = "express-e2e"

[collect]
interval = "200ms"

[check]
min_coverage = 0.5

[database]
max_connections = {MAX_CONNECTIONS}

[load]
think_time = "0s"
stages = [{{ duration = "20s", users = {USERS}, spawn_rate = {USERS} }}]

[target.persistent]
workers = 1

[target.serverless]
preset = "aws-lambda"
idle_timeout = "30s"

[pooler.pgbouncer]
pool_mode = "transaction"
pool_size = 3

"""


def refusals_in_server_log(run_dir: Path, variant: str) -> int:
    return len(REFUSED.findall((run_dir / variant / "1" / "logs" / "postgres.log").read_text()))


def scenario_text(app_dir: Path) -> str:
    shipped = tomllib.loads((app_dir / "scenario.toml").read_text())
    app = {k: v for k, v in shipped["app"].items() if k not in ("env", "expect")}
    env = {**shipped["app"]["env"], "DB_POOL_MAX": str(POOL), "EMAIL_DELAY_MS": "300"}
    return (SETTINGS + table("app", app) + table("app.env", env)
            + table("app.expect", shipped["app"]["expect"])
            + table("load.paths", shipped["load"]["paths"])
            + variants(("persistent", "persistent", "none"), ("lambda", "serverless", "none"),
                       ("lambda+pgbouncer", "serverless", "pgbouncer")))


def test_express_example_both_targets(tmp_path: Path) -> None:
    app_dir = npm_app(EXAMPLE)
    scenario = write_scenario(tmp_path, scenario_text(app_dir))
    scenario = scenario.rename(app_dir / f"e2e-{tmp_path.name}.toml")  # paths relative to it
    mark = new_mark()
    out = tmp_path / "run"
    try:
        done = run_cli("run", str(scenario), "--out", str(out), "--quiet", mark=mark)
    finally:
        scenario.unlink()
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_json(out / "manifest.json")["status"] == "complete"
    assert marked_processes(mark) == set()

    persistent = metrics(out, "persistent")
    assert 0 < persistent["db.connections.peak"] <= POOL
    assert persistent["db.refused"] == 0
    assert persistent["http.error_rate"] == 0 and persistent["http.requests"] > 0
    assert persistent["app.work.expected"] > 0
    assert persistent["app.work.missing"] == 0  # every email written after its response

    direct = metrics(out, "lambda")
    assert direct["platform.instances.peak"] > USABLE
    assert direct["db.refused"] > 0
    assert direct["db.refused"] == refusals_in_server_log(out, "lambda")
    assert direct["app.work.missing"] > 0  # emails frozen in instances reaped at the end

    pooled = metrics(out, "lambda+pgbouncer")
    assert pooled["platform.instances.peak"] > USABLE
    assert pooled["db.refused"] == 0 == refusals_in_server_log(out, "lambda+pgbouncer")
    assert pooled["http.requests"] > 0
