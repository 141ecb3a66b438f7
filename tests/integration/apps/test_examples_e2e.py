"""Both example apps, unchanged and in their own venvs, run by the real CLI three ways
against a small ``max_connections``: persistent (2 workers), serverless (one request per
instance) and serverless behind PgBouncer.

Each worker and each instance opens its whole pool (3) at start. Persistent: 2 x 3 = 6
connections, whatever the load. Serverless: 8 concurrent users want 8 instances, 24
connections > 20 - 3 reserved: PostgreSQL refuses the instances past the 5th. Behind
PgBouncer the instances' pools end in PgBouncer's 5 server connections: no refusal.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness.scenario.loader import load_scenario
from tests.integration.apps.conftest import EXAMPLES
from tests.integration.apps.scenarios import example_sections, variant_app_env, variants
from tests.integration.pipeline_helpers import (
    marked_processes,
    metrics,
    new_mark,
    read_json,
    run_cli,
    write_scenario,
)

pytestmark = pytest.mark.integration

MAX_CONNECTIONS = 20
POOL = 3
WORKERS = 2
PGBOUNCER_POOL = 5
REFUSED = re.compile(r"^(\S+ \S+) UTC \[\d+\] (?:53300 )?FATAL:  "
                     r"(?:sorry, too many clients already|remaining connection slots are reserved)",
                     re.M)

SETTINGS = f"""
name = "example-e2e"

[collect]
interval = "200ms"

[check]
min_coverage = 0.5                  # a busy test machine may starve the sampler; the counts
                                    # asserted here need samples, not a steady rate

[database]
max_connections = {MAX_CONNECTIONS}

[load]
think_time = "0s"
stages = [{{ duration = "6s", users = 8, spawn_rate = 8 }}]

[target.persistent]
workers = {WORKERS}

[target.serverless]
preset = "aws-lambda"
idle_timeout = "30s"

[pooler.pgbouncer]
pool_mode = "transaction"
pool_size = {PGBOUNCER_POOL}

"""


def refusals_in_server_log(run_dir: Path, variant: str) -> list[float]:
    """The wall-clock times of the refusals (SQLSTATE 53300) in the variant's server log."""
    log = run_dir / variant / "1" / "logs" / "postgres.log"
    return [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
            .timestamp() for m in REFUSED.finditer(log.read_text())]


def assert_refusals_match_the_server_log(run_dir: Path, variant: str, refused: int) -> None:
    """``db.refused`` is exactly what the server logged, to its last line: the log is read
    to its end after the services stopped (instances still starting as the load ends)."""
    logged = refusals_in_server_log(run_dir, variant)
    assert refused == len(logged), logged


@pytest.mark.parametrize("example", ["fastapi-shop", "flask-orders"])
def test_example_persistent_serverless_and_pooled(
        example: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    python: Path = request.getfixturevalue(
        {"fastapi-shop": "shop_python", "flask-orders": "orders_python"}[example])
    shipped = EXAMPLES / example / "scenario.toml"
    pooled_env = variant_app_env(shipped, "serverless+pgbouncer")
    assert pooled_env == {"DB_BEHIND_PGBOUNCER": "1"}  # prepared statements off, there only
    text = SETTINGS + example_sections(
        shipped, python, {"DB_POOL_SIZE": str(POOL), "EMAIL_DELAY_MS": "50"},
    ) + variants(("persistent", "persistent", "none"), ("serverless", "serverless", "none"),
                 ("serverless+pgbouncer", "serverless", "pgbouncer", pooled_env))
    scenario = write_scenario(tmp_path, text)
    mark = new_mark()
    out = tmp_path / "run"
    done = run_cli("run", str(scenario), "--out", str(out), "--quiet", mark=mark)
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_json(out / "manifest.json")["status"] == "complete"
    assert marked_processes(mark) == set()

    persistent = metrics(out, "persistent")
    assert persistent["db.connections.peak"] == WORKERS * POOL
    assert persistent["db.refused"] == 0
    assert persistent["http.error_rate"] == 0 and persistent["http.requests"] > 0

    direct = metrics(out, "serverless")
    assert direct["platform.instances.peak"] * POOL > MAX_CONNECTIONS - 3
    assert direct["db.refused"] > 0
    assert_refusals_match_the_server_log(out, "serverless", direct["db.refused"])
    assert direct["db.connections.peak"] <= MAX_CONNECTIONS - 3

    pooled = metrics(out, "serverless+pgbouncer")
    assert pooled["platform.instances.peak"] * POOL > MAX_CONNECTIONS - 3
    assert pooled["db.refused"] == 0 == len(refusals_in_server_log(out, "serverless+pgbouncer"))
    assert pooled["db.connections.peak"] <= PGBOUNCER_POOL
    assert pooled["http.error_rate"] == 0 and pooled["http.requests"] > 0


@pytest.mark.parametrize("example", ["fastapi-shop", "flask-orders"])
def test_shipped_example_scenario_loads(example: str, request: pytest.FixtureRequest,
                                        tmp_path: Path) -> None:
    """The example's scenario.toml as shipped, with ``.venv`` made as its README says (here:
    a link to the cached venv): the app's interpreter finds the app and the preloads."""
    python: Path = request.getfixturevalue(
        {"fastapi-shop": "shop_python", "flask-orders": "orders_python"}[example])
    for item in (EXAMPLES / example).iterdir():
        if item.name != ".venv":
            (tmp_path / item.name).symlink_to(item)
    (tmp_path / ".venv").symlink_to(python.parents[1])
    scenario = load_scenario(str(tmp_path / "scenario.toml"))
    assert [(v.name, v.target.kind, v.pooler.kind) for v in scenario.variants] == [
        ("persistent", "persistent", "none"), ("serverless", "serverless", "none"),
        ("serverless+pgbouncer", "serverless", "pgbouncer")]
    app = scenario.variants[0].app
    assert app is not None and Path(app.python).parents[1] == tmp_path / ".venv"
    assert all(v.requests for v in scenario.variants)
    envs = {v.name: dict(v.app.env) for v in scenario.variants if v.app is not None}
    assert envs["serverless+pgbouncer"] == {**envs["serverless"], "DB_BEHIND_PGBOUNCER": "1"}
    assert "DB_BEHIND_PGBOUNCER" not in envs["persistent"]
