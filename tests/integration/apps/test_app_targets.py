"""A Starlette app pinned to an older Starlette and uvicorn than pgstampede's, in its own
venv, run by the real CLI on both targets; its background work (a task that writes a row
after the response) compared with what the harness counted.

The app records its startups and its jobs in the test's own database (``RECORD_URL``), which
outlives the run; rows are tagged with the variant database's port (``RECORD_TAG``), read
back from each variant's server log.

One user, one second between requests, each request taking 200 ms, jobs due 300 ms after
their response (a thawed job finishes well within the 200 ms of the request that thawed
its instance, so the instance is not frozen again while the job is writing its row):
- ``serverless-thawed`` (idle_timeout 10 s): the instance is frozen right after each
  response and thawed a second later by the next request: every job but the last completes
  late; the last is still frozen when the platform stops (lost).
- ``serverless-reaped`` (idle_timeout 300 ms): each instance is reaped before the next
  request: every job is lost.
- ``persistent``: uvicorn runs every job on time and waits for them when it stops.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from harness.analysis.metrics import BACKGROUND_TOLERANCE_MS
from harness.runtime.process import PostgresCluster
from tests.integration.apps.conftest import HERE
from tests.integration.apps.scenarios import table
from tests.integration.pipeline_helpers import (
    marked_processes,
    metrics,
    new_mark,
    read_json,
    run_cli,
    write_scenario,
)

pytestmark = pytest.mark.integration

OLDSTAR = HERE / "oldstar"
JOB_DELAY_MS = 300
VARIANTS = ("persistent", "serverless-thawed", "serverless-reaped")

SETTINGS = """
[collect]
interval = "200ms"

[check]
min_coverage = 0.5                  # a busy test machine may starve the sampler; the counts
                                    # asserted here need samples, not a steady rate

[database]
max_connections = 20

[load]
think_time = "1s"
stages = [{ duration = "8s", users = 1, spawn_rate = 1 }]

[load.paths]
"POST /job" = 1

[target.persistent]
workers = 1

[target.serverless]
preset = "aws-lambda"
idle_timeout = "10s"

[[variants]]
name = "persistent"
target = "persistent"
pooler = "none"

[[variants]]
name = "serverless-thawed"
target = "serverless"
pooler = "none"

[[variants]]
name = "serverless-reaped"
target = "serverless"
pooler = "none"
target_overrides = { idle_timeout = "300ms" }
"""


@dataclass(frozen=True)
class Run:
    out: Path
    record_dsn: str
    tags: dict[str, str]  # variant -> RECORD_TAG (its database's port)

    def rows(self, query: str, variant: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.record_dsn, autocommit=True) as conn:
            return [tuple(r) for r in conn.execute(query.encode(), (self.tags[variant],))]


def database_port(out: Path, variant: str) -> str:
    log = (out / variant / "1" / "logs" / "postgres.log").read_text()
    found = re.search(r'listening on IPv4 address "127\.0\.0\.1", port (\d+)', log)
    assert found is not None, f"no port in {variant}'s server log"
    return found.group(1)


@pytest.fixture(scope="module")
def run(oldstar_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("oldstar")
    with PostgresCluster(workdir=tmp, max_connections=40, log_path=tmp / "record.log") as pg:
        with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
            conn.execute((OLDSTAR / "schema.sql").read_bytes())
        app = {"asgi": "oldstar_app:app", "root": str(OLDSTAR), "python": str(oldstar_python),
               "preload": ["starlette", "asyncpg"],
               "env": {"RECORD_URL": pg.app_dsn, "RECORD_TAG": "{port}",
                       "JOB_DELAY_MS": str(JOB_DELAY_MS), "WORK_MS": "200", "DB_POOL_SIZE": "2"}}
        scenario = write_scenario(tmp, 'name = "oldstar"\n' + table("app", app) + SETTINGS)
        mark = new_mark()
        out = tmp / "run"
        done = run_cli("run", str(scenario), "--out", str(out), "--quiet", mark=mark)
        assert done.returncode == 0, done.stdout + done.stderr
        assert read_json(out / "manifest.json")["status"] == "complete"
        assert marked_processes(mark) == set()
        yield Run(out, pg.app_dsn, {v: database_port(out, v) for v in VARIANTS})


def test_an_older_starlette_in_its_own_venv_runs_on_both_targets(
        run: Run, oldstar_python: Path) -> None:
    for variant in VARIANTS:
        m = metrics(run.out, variant)
        assert m["http.requests"] > 0 and m["http.error_rate"] == 0, variant
        startups = run.rows("SELECT pid, starlette FROM startups WHERE tag = %s", variant)
        assert {s for _, s in startups} == {"0.37.2"} != {version("starlette")}
        expected = 1 if variant == "persistent" else m["platform.cold_starts"]
        assert len(startups) == expected, variant  # one lifespan startup per worker/instance


def database_background(run: Run, variant: str) -> tuple[int, int, int]:
    """(jobs, completed late, never completed) as the app's database shows them."""
    rows = run.rows("SELECT extract(epoch FROM done_at - requested_at) * 1000 - delay_ms "
                    "FROM jobs WHERE tag = %s", variant)
    late = sum(1 for (ms,) in rows if ms is not None and float(ms) > BACKGROUND_TOLERANCE_MS)
    lost = sum(1 for (ms,) in rows if ms is None)
    return len(rows), late, lost


def diagnosis(run: Run, variant: str) -> str:
    """What to look at when the counts differ: the platform's counters over time and the
    jobs as the app recorded them."""
    folder = run.out / variant / "1"
    frame = pd.read_parquet(folder / "platform.parquet")
    changes = frame.drop_duplicates(subset=[c for c in frame.columns if c != "t"])
    jobs = run.rows("SELECT id, requested_at, done_at FROM jobs WHERE tag = %s ORDER BY id",
                    variant)
    return "\n".join([(folder / "logs" / "platform-stats.json").read_text(),
                      changes.to_string(), *map(str, jobs)])


@pytest.mark.parametrize("variant", ["serverless-thawed", "serverless-reaped"])
def test_background_work_on_serverless_matches_the_database(run: Run, variant: str) -> None:
    jobs, late, lost = database_background(run, variant)
    m = metrics(run.out, variant)
    assert jobs >= 3
    assert (m["background.delayed"], m["background.lost"]) == (late, lost), \
        diagnosis(run, variant)
    assert m["background.completed"] == jobs - lost
    if variant == "serverless-thawed":
        assert late == jobs - 1 and lost == 1  # frozen, thawed by the next request; the
        # last job is still frozen when the run ends
    else:
        assert lost == jobs  # every instance was reaped with its job frozen


def test_background_work_on_persistent_is_never_lost(run: Run) -> None:
    jobs, late, lost = database_background(run, "persistent")
    assert jobs >= 3 and late == 0 and lost == 0
    m = metrics(run.out, "persistent")
    assert m["background.lost"] in (0, None)
