"""The persistent target running a user's app (``[app]``): real PostgreSQL, real uvicorn.

The tiny apps under tests/apps/tiny are written as users write them (no pgstampede
imports). The harness's own interpreter serves as the app's here; the examples' own
virtualenvs are tested with the examples.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from harness.app.database import prepare_database
from harness.errors import AppError, ServiceError
from harness.runtime.process import PostgresCluster
from harness.scenario import Variant, load_scenario
from harness.services.persistent import persistent_target
from harness.services.target import TargetContext

pytestmark = pytest.mark.integration

APPS = Path(__file__).parents[1] / "apps"
TINY = APPS / "tiny"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    tmp = tmp_path_factory.mktemp("pg")
    with PostgresCluster(workdir=tmp, max_connections=30, log_path=tmp / "postgres.log") as pg:
        yield pg


@pytest.fixture(autouse=True)
def fresh_orders(cluster: PostgresCluster) -> None:
    with psycopg.connect(cluster.app_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS orders")


def variant(tmp_path: Path, app: str, workers: int = 1) -> Variant:
    text = f"""
name = "t"
[load]
stages = [{{ duration = "5s", users = 1 }}]
[load.paths]
"GET /items" = 1
[target.persistent]
workers = {workers}
[app]
root = "{APPS}"
python = "{sys.executable}"
schema = "{TINY / 'schema.sql'}"
{app}
[[variants]]
name = "p"
"""
    (tmp_path / "s.toml").write_text(text)
    return load_scenario(tmp_path / "s.toml").variants[0]


def context(tmp_path: Path, cluster: PostgresCluster, v: Variant) -> TargetContext:
    return TargetContext(variant=v, dsn=cluster.app_dsn, logs=tmp_path / "logs",
                         workdir=tmp_path, direct_dsn=cluster.app_dsn,
                         monitor_dsn=cluster.monitor_dsn, say=lambda _: None)


def send(url: str, body: object | None = None, headers: dict[str, str] | None = None
         ) -> dict[str, object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={
        "Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as resp:
        result: dict[str, object] = json.loads(resp.read())
        return result


def start_fails(ctx: TargetContext, pattern: str) -> AppError:
    """The AppError starting the target raises (its text matching ``pattern``)."""
    with pytest.raises(AppError, match=pattern) as err, persistent_target(ctx):
        pytest.fail("the target must not start")
    return err.value


def app_connections(cluster: PostgresCluster) -> int:
    with psycopg.connect(cluster.monitor_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' "
                           "AND backend_type = 'client backend'").fetchone()
    return int(row[0]) if row else -1


def test_asgi_app_with_workers_each_opens_its_pool(tmp_path: Path,
                                                   cluster: PostgresCluster) -> None:
    marks = tmp_path / "lifespan.log"
    v = variant(tmp_path, f'asgi = "tiny.asgi_app:app"\n'
                f'env = {{ POOL_SIZE = "3", LIFESPAN_LOG = "{marks}" }}', workers=2)
    with persistent_target(context(tmp_path, cluster, v)) as target:
        assert send(f"{target.url}/orders", {"item": 5}, {"X-Token": "t1"}) == {"ok": True}
        assert send(f"{target.url}/items") == {"n": 1}
        assert app_connections(cluster) == 2 * 3  # workers x pool size
        root = psutil.Process(target.roles["target"]()[0])
        workers = [p for p in root.children(recursive=True) if p.pid in
                   {int(line.split()[1]) for line in marks.read_text().splitlines()}]
        assert len(workers) == 2
        assert target.info["workers"] == 2 and target.info["uvicorn_from"] == "the app's"
    events = sorted(line.split()[0] for line in marks.read_text().splitlines())
    assert events == ["shutdown", "shutdown", "startup", "startup"]
    assert not root.is_running()
    assert app_connections(cluster) == 0


def test_factory_app(tmp_path: Path, cluster: PostgresCluster) -> None:
    v = variant(tmp_path, 'asgi = "tiny.asgi_app:create_app"\nfactory = true')
    with persistent_target(context(tmp_path, cluster, v)) as target:
        assert send(f"{target.url}/") == {"n": 0}


def test_wsgi_app(tmp_path: Path, cluster: PostgresCluster) -> None:
    v = variant(tmp_path, 'wsgi = "tiny.wsgi_app:app"\nsetup = ["test -n \\"$DATABASE_URL\\" '
                '&& echo setup-ran-in-$(basename $PWD)"]')
    with persistent_target(context(tmp_path, cluster, v)) as target:
        assert send(f"{target.url}/orders", {"item": 9}, {"X-Token": "w"}) == {"ok": True}
        assert send(f"{target.url}/items") == {"n": 1}
        assert target.info["wsgi_adapter"] in ("uvicorn",) or \
            str(target.info["wsgi_adapter"]).startswith("a2wsgi")
    with psycopg.connect(cluster.app_dsn) as conn:
        assert conn.execute("SELECT item, token FROM orders").fetchall() == [(9, "w")]
    assert (tmp_path / "logs" / "setup-1.log").read_text().strip() == "setup-ran-in-apps"


def test_startup_failure_is_one_clear_error(tmp_path: Path, cluster: PostgresCluster) -> None:
    v = variant(tmp_path, 'asgi = "tiny.asgi_app:app"\nenv = { FAIL_STARTUP = "1" }')
    err = start_fails(context(tmp_path, cluster, v), "RuntimeError: startup failed on purpose")
    assert err.exit_code == 2
    assert err.log == str(tmp_path / "logs" / "target.log")


def test_missing_dsn_variable_names_it(tmp_path: Path, cluster: PostgresCluster) -> None:
    v = variant(tmp_path, 'asgi = "tiny.asgi_app:app"\ndsn_env = "OTHER_URL"')
    start_fails(context(tmp_path, cluster, v), "KeyError: 'DATABASE_URL'")


def test_failing_setup_command(tmp_path: Path, cluster: PostgresCluster) -> None:
    v = variant(tmp_path, 'asgi = "tiny.asgi_app:app"\n'
                'setup = ["echo migrating; echo no such revision >&2; exit 4"]')
    err = start_fails(context(tmp_path, cluster, v), "exit 4.*no such revision")
    assert err.log == str(tmp_path / "logs" / "setup-1.log")


def test_setup_commands_find_the_apps_packages_from_anywhere(
        tmp_path: Path, cluster: PostgresCluster) -> None:
    """As alembic's env.py does: a script outside root imports the app's package."""
    v = variant(tmp_path, 'asgi = "tiny.asgi_app:app"\n'
                'setup = ["cd / && python -c \\"import tiny.asgi_app; print(tiny.__name__)\\""]')
    assert v.app is not None
    prepare_database(v.app, cluster.app_dsn, tmp_path / "logs")
    assert (tmp_path / "logs" / "setup-1.log").read_text().strip() == "tiny"


def test_failing_schema(tmp_path: Path, cluster: PostgresCluster) -> None:
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE orders (id int);\nCREATE TABLE orders (id int);\n")
    v = variant(tmp_path, 'asgi = "tiny.asgi_app:app"')
    assert v.app is not None
    v = dataclasses.replace(v, app=dataclasses.replace(v.app, schema=str(bad)))
    start_fails(context(tmp_path, cluster, v), "already exists")


def test_uvicorn_lent_to_an_app_without_it(tmp_path: Path, cluster: PostgresCluster,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare virtualenv (no pip, no packages): the harness lends its uvicorn, appended to
    the app's sys.path, from a cache folder it owns."""
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)],  # type: ignore[attr-defined]
                   check=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    said: list[str] = []
    scenario_app = variant(tmp_path, 'asgi = "tiny.plain_asgi:app"')
    assert scenario_app.app is not None
    v = dataclasses.replace(scenario_app, app=dataclasses.replace(
        scenario_app.app, python=str(venv / "bin" / "python")))
    ctx = dataclasses.replace(context(tmp_path, cluster, v), say=said.append)
    with persistent_target(ctx) as target:
        assert send(f"{target.url}/") == {"prefix": str(venv)}
        assert target.info["uvicorn_from"] == "lent by the harness"
    assert len(said) == 1 and "lending the harness's copy" in said[0]
    assert list((tmp_path / "cache" / "pgstampede" / "app-server").glob("uvicorn-*/uvicorn"))


def test_app_dying_during_the_run_is_a_run_error(tmp_path: Path,
                                                 cluster: PostgresCluster) -> None:
    v = variant(tmp_path, 'asgi = "tiny.asgi_app:app"')
    with pytest.raises(ServiceError, match="exited during the run") as err, \
            persistent_target(context(tmp_path, cluster, v)) as target:
        with pytest.raises(OSError):  # the connection drops: no response
            send(f"{target.url}/crash")
        root = psutil.Process(target.roles["target"]()[0])
        deadline = time.monotonic() + 60  # until it has exited (a zombie: not reaped here)
        while root.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
    assert err.value.exit_code == 3
    assert "Fatal: crashing on purpose" in str(err.value)


@pytest.mark.parametrize(("entry", "line"), [("tiny.asgi_app:app", 71),
                                             ("tiny.wsgi_app:app", 16)])
def test_exceptions_that_escape_the_app_are_recorded_with_its_own_frame(
        tmp_path: Path, cluster: PostgresCluster, entry: str, line: int) -> None:
    kind = entry.split(".")[1].split("_")[0]
    v = variant(tmp_path, f'{kind} = "{entry}"', workers=2)
    with persistent_target(context(tmp_path, cluster, v)) as target:
        for _ in range(3):
            with pytest.raises(urllib.error.HTTPError) as answer:
                send(f"{target.url}/raise")
            assert answer.value.code == 500  # uvicorn answers as ever
            answer.value.close()
        assert send(f"{target.url}/items") == {"n": 0}
        collector = target.collectors[0]
    asyncio.run(collector.read_rest())
    frame = collector.frames()["app_exceptions"]
    assert len(frame) == 3
    assert set(frame["type"]) == {"LookupError"}
    assert set(frame["message"]) == {"no such order: 42"}  # the first line only
    assert set(frame["where"]) == {f"tiny/{kind}_app.py:{line}"}  # relative to root
    assert all(frame["instance"].str.isdigit())  # the worker's pid


def test_a_command_apps_control_channel_reports_its_exceptions(
        tmp_path: Path, cluster: PostgresCluster) -> None:
    fixtures = Path(__file__).parents[1] / "fixtures" / "apps"
    v = variant(tmp_path, 'asgi = "tiny.asgi_app:app"')
    assert v.app is not None
    command = (sys.executable, "http_command.py")
    app = dataclasses.replace(v.app, kind="command", entry=" ".join(command), command=command,
                              root=str(fixtures), python="", ready="GET /health")
    v = dataclasses.replace(v, app=app)
    with persistent_target(context(tmp_path, cluster, v)) as target:
        with pytest.raises(urllib.error.HTTPError) as answer:
            send(f"{target.url}/boom")
        answer.value.close()
        assert send(f"{target.url}/hello")["control"] is True
        collector = target.collectors[0]
    asyncio.run(collector.read_rest())
    frame = collector.frames()["app_exceptions"]
    assert list(frame["type"]) == ["ValueError"] and list(frame["message"]) == ["boom"]
    assert frame["where"].iloc[0].startswith("http_command.py:")
