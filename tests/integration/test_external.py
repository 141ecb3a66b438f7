"""External targets end to end: the harness drives load at an application it did not start.

The test starts, for each variant, its own PostgreSQL cluster and a small Starlette
application with its own asyncpg pool (written here, not one of the harness's targets),
served by uvicorn in a subprocess. The harness runs one scenario with two external variants:

- ``fits``: a pool of 5 under 30 users: connections, latency and throughput are recorded,
  no errors; the server log is not read, so refusals are "not observed" (null), not 0;
- ``too-big``: a pool of 40 on a server with max_connections = 20 (17 for the app role):
  the app is refused connections and answers plain-text 503s, classified as ``http_5xx``.

Both watch DSNs carry a password (trust authentication accepts any): it must appear in no
file of the run folder, nor in the terminal output (issue 7).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from harness.runtime.ports import free_port
from harness.runtime.process import ManagedProcess, PostgresCluster
from tests.integration.pipeline_helpers import (
    marked_processes,
    metrics,
    new_mark,
    read_json,
    run_cli,
    temp_dirs,
    write_scenario,
)

pytestmark = pytest.mark.integration

PASSWORD = "Sekr3t-Passw0rd"
MAX_CONNECTIONS = 20
FITS_POOL = 5
BIG_POOL = 40  # > MAX_CONNECTIONS - 3 superuser slots
SLEEP_MS = 20

APP_SOURCE = '''
"""A small application under test: Starlette + its own asyncpg pool. Errors are plain text."""
import os
import random
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


@asynccontextmanager
async def lifespan(app):
    app.state.pool = await asyncpg.create_pool(
        os.environ["EXTAPP_DSN"], min_size=0, max_size=int(os.environ["EXTAPP_POOL"]),
        timeout=5)
    app.state.sleep_s = float(os.environ["EXTAPP_SLEEP_MS"]) / 1000.0
    yield
    await app.state.pool.close()


def failure(exc):
    text = str(exc) or type(exc).__name__
    status = 503 if "too many clients" in text or "connection slots" in text else 500
    return PlainTextResponse(f"database error: {text}\\n", status_code=status)


async def list_items(request):
    try:
        async with request.app.state.pool.acquire(timeout=10) as conn:
            row = await conn.fetchrow(
                "SELECT id, name, value FROM items, pg_sleep($2) WHERE id = $1",
                random.randint(1, 10000), request.app.state.sleep_s)
    except DB_ERRORS as exc:
        return failure(exc)
    return JSONResponse({"items": [dict(row)]})


async def add_item(request):
    try:
        async with request.app.state.pool.acquire(timeout=10) as conn:
            new_id = await conn.fetchval(
                "INSERT INTO writes(source, payload) VALUES ('extapp', 'x') RETURNING id")
    except DB_ERRORS as exc:
        return failure(exc)
    return JSONResponse({"id": new_id}, status_code=201)


async def health(request):
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/items", list_items, methods=["GET"]),
                        Route("/items", add_item, methods=["POST"]),
                        Route("/health", health)], lifespan=lifespan)
'''

SCENARIO = """
name = "external"
description = "applications the harness did not start"
[load]
stages = [{{ duration = "6s", users = 30, spawn_rate = 30 }}]
[[variants]]
name = "fits"
target = "external"
url = "{fits.url}"
watch_dsn = "{fits.watch_dsn}"
paths = {{ "GET /items" = 0.9, "POST /items" = 0.1 }}
[[variants]]
name = "too-big"
target = "external"
url = "{big.url}"
watch_dsn = "{big.watch_dsn}"
paths = {{ "GET /items" = 0.9, "POST /items" = 0.1 }}
[thresholds]
"fits.http.error_rate" = "== 0"
"""


@dataclass(frozen=True)
class ExternalApp:
    """An application and its database, both started by the test."""

    url: str
    watch_dsn: str


@contextlib.contextmanager
def external_app(folder: Path, name: str, pool: int) -> Iterator[ExternalApp]:
    """A PostgreSQL cluster and the app on it, served by uvicorn on a free port."""
    logs = folder / f"{name}-logs"
    with PostgresCluster(workdir=folder, max_connections=MAX_CONNECTIONS,
                         log_path=logs / "postgres.log") as pg:
        port = free_port()
        env = {"EXTAPP_DSN": pg.app_dsn, "EXTAPP_POOL": str(pool),
               "EXTAPP_SLEEP_MS": str(SLEEP_MS)}
        argv = [sys.executable, "-m", "uvicorn", "extapp:app", "--app-dir", str(folder),
                "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                "--log-level", "warning"]
        with ManagedProcess(name=f"extapp-{name}", argv=argv, env={**os.environ, **env},
                            log_path=logs / "app.log",
                            ready_url=f"http://127.0.0.1:{port}/health"):
            yield ExternalApp(
                url=f"http://127.0.0.1:{port}",
                watch_dsn=f"postgresql://pgstampede_monitor:{PASSWORD}@127.0.0.1:{pg.port}/app",
            )


@dataclass(frozen=True)
class Run:
    run_dir: Path
    output: str


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("external")
    folder.chmod(0o755)
    (folder / "extapp.py").write_text(APP_SOURCE)
    mark = new_mark()
    out = folder / "run"
    with external_app(folder, "fits", FITS_POOL) as fits, \
            external_app(folder, "big", BIG_POOL) as big:
        scenario = write_scenario(folder, SCENARIO.format(fits=fits, big=big))
        result = run_cli("run", str(scenario), "--out", str(out), "--quiet", mark=mark)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()
    return Run(run_dir=out, output=output)


def test_the_harness_starts_nothing_for_an_external_target(run: Run) -> None:
    manifest = read_json(run.run_dir / "manifest.json")
    assert manifest["status"] == "complete"
    for entry in manifest["variants"]:
        assert entry["target"] == "external"
        assert entry["observes_server_log"] is False
        assert entry["max_connections"] == MAX_CONNECTIONS  # read from the watched server
        vdir = run.run_dir / entry["dir"]
        assert not (vdir / "logs" / "postgres.log").exists()
        assert not (vdir / "logs" / "target.log").exists()
        assert not (vdir / "pglog.parquet").exists()
        assert (vdir / "db.parquet").exists() and (vdir / "requests.parquet").exists()
        roles = set(pd.read_parquet(vdir / "host.parquet")["role"])
        # the harness measures itself and the machine; of the run's processes, only Locust
        started = {r for r in roles
                   if r not in ("harness", "machine") and not r.startswith("other:")}
        assert started == {"locust"}


def test_connections_latency_and_paths_are_recorded(run: Run) -> None:
    m = metrics(run.run_dir, "fits")
    assert m["http.requests"] > 100
    assert m["http.error_rate"] == 0
    assert 0 < m["db.connections.peak"] <= FITS_POOL + 1
    assert m["db.max_connections"] == MAX_CONNECTIONS
    assert m["latency.p50_ms"] >= SLEEP_MS * 0.75  # each GET holds pg_sleep(20 ms)
    assert m["latency.p95_ms"] >= m["latency.p50_ms"]
    assert m["http.rps"] > 0
    requests = pd.read_parquet(run.run_dir / "fits" / "1" / "requests.parquet")
    assert len(requests) == m["http.requests"]
    counts = requests["endpoint"].value_counts()
    assert set(counts.index) == {"GET /items", "POST /items"}
    assert 0.02 < counts["POST /items"] / len(requests) < 0.25
    assert set(requests.loc[requests["endpoint"] == "POST /items", "status"]) == {201}
    groups = pd.read_parquet(run.run_dir / "fits" / "1" / "db_groups.parquet")
    assert "app" in set(groups["usename"])


def test_refusals_are_not_observed_rather_than_zero(run: Run) -> None:
    summary = read_json(run.run_dir / "summary.json")
    for name in ("fits", "too-big"):
        m = metrics(run.run_dir, name)
        assert m["db.refused"] is None and m["db.connects"] is None
        assert m["time_to_first_refusal_s"] is None
    joined = " ".join(summary["findings"])
    assert "no refusals" not in joined
    assert "refusals not observed" in joined
    assert summary["thresholds"][0]["status"] == "pass"
    nulls = summary["variants"]["fits"]["nulls"]
    assert nulls["db.refused"] == {"kind": "not measured", "why": "the server log of a database "
                                   "the harness did not start is not read"}


def test_a_pool_larger_than_the_server_gets_plain_text_5xx(run: Run) -> None:
    m = metrics(run.run_dir, "too-big")
    assert m["http.failures"] > 0
    assert m["errors.http_5xx"] == m["http.failures"]
    assert m["errors.db_too_many_connections"] == 0  # the body is not the harness's JSON
    assert m["db.connections.peak"] > FITS_POOL
    assert m["db.connections.peak"] <= MAX_CONNECTIONS
    requests = pd.read_parquet(run.run_dir / "too-big" / "1" / "requests.parquet")
    failed = requests[requests["kind"] != ""]
    assert set(failed["status"]) <= {500, 503} and 503 in set(failed["status"])
    assert set(failed["kind"]) == {"http_5xx"}


def _text_of(path: Path) -> bytes:
    """A file's bytes, plus the text of every cell when it is a parquet file."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        data += frame.astype(str).to_csv().encode()
    return data


def test_the_watch_password_is_in_no_file_of_the_run_folder(run: Run) -> None:
    files = [p for p in run.run_dir.rglob("*") if p.is_file()]
    assert len(files) > 20
    leaks = [str(p) for p in files if PASSWORD.encode() in _text_of(p)]
    assert leaks == []
    manifest = (run.run_dir / "manifest.json").read_text()
    assert "pgstampede_monitor:***@127.0.0.1" in manifest  # recorded, masked
    assert PASSWORD not in run.output


def test_a_watch_that_fails_writes_no_password_either(tmp_path: Path) -> None:
    dead_port = free_port()
    scenario = write_scenario(tmp_path, f"""
name = "external-down"
[load]
stages = [{{ duration = "2s", users = 1, spawn_rate = 1 }}]
[[variants]]
name = "down"
target = "external"
url = "http://127.0.0.1:{dead_port}"
watch_dsn = "postgresql://pgstampede_monitor:{PASSWORD}@127.0.0.1:{dead_port}/app"
""")
    out = tmp_path / "run"
    mark = new_mark()
    result = run_cli("run", str(scenario), "--out", str(out), "--quiet", mark=mark)
    # an unreachable service is bad input: one line, exit 2, nothing started or written
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1
    assert "url" in result.stderr and "nothing answers" in result.stderr
    assert not out.exists()
    assert PASSWORD not in result.stdout + result.stderr
    assert marked_processes(mark) == set()


def test_an_unreachable_watched_database_is_bad_input(tmp_path: Path) -> None:
    import socket as sock

    dead_port = free_port()
    with sock.socket() as listener:  # an application answers; its database does not
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        app_port = listener.getsockname()[1]
        scenario = write_scenario(tmp_path, f"""
name = "external-db-down"
[load]
stages = [{{ duration = "2s", users = 1, spawn_rate = 1 }}]
[[variants]]
name = "down"
target = "external"
url = "http://127.0.0.1:{app_port}"
watch_dsn = "postgresql://pgstampede_monitor:{PASSWORD}@127.0.0.1:{dead_port}/app"
""")
        result = run_cli("run", str(scenario), "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "watch_dsn" in result.stderr and "cannot connect" in result.stderr
    assert "***" in result.stderr and PASSWORD not in result.stdout + result.stderr
