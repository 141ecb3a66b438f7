"""An app whose own environment has uvicorn 0.18.3 (no --timeout-graceful-shutdown, which
came in 0.22) runs as the persistent target: the flag is left out, its own uvicorn serves
with two workers, its exceptions are recorded as with a recent one, and it stops."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.runtime.process import PostgresCluster
from harness.scenario import load_scenario
from harness.services.persistent import persistent_target
from harness.services.target import TargetContext
from tests.integration.apps.venvs import distribution_version

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    tmp = tmp_path_factory.mktemp("pg")
    with PostgresCluster(workdir=tmp, max_connections=20, log_path=tmp / "postgres.log") as pg:
        yield pg


def test_the_persistent_target_runs_an_app_with_uvicorn_0_18(
        tmp_path: Path, cluster: PostgresCluster, olduvicorn_python: Path) -> None:
    assert distribution_version(olduvicorn_python, "uvicorn") == "0.18.3"
    (tmp_path / "s.toml").write_text(f"""
name = "old"
[load]
stages = [{{ duration = "2s", users = 1 }}]
paths = {{ "GET /" = 1 }}
[target.persistent]
workers = 2
[app]
asgi = "old_app:app"
root = "{HERE / 'olduvicorn'}"
python = "{olduvicorn_python}"
[[variants]]
name = "p"
""")
    v = load_scenario(tmp_path / "s.toml").variants[0]
    ctx = TargetContext(variant=v, dsn=cluster.app_dsn, logs=tmp_path / "logs",
                        workdir=tmp_path, direct_dsn=cluster.app_dsn,
                        monitor_dsn=cluster.monitor_dsn, say=lambda _: None)
    with persistent_target(ctx) as target:
        assert target.info["uvicorn"] == "0.18.3" and target.info["uvicorn_from"] == "the app's"
        root = psutil.Process(target.roles["target"]()[0])
        assert "--timeout-graceful-shutdown" not in root.cmdline()
        with urllib.request.urlopen(f"{target.url}/", timeout=30) as answer:
            doc = json.loads(answer.read())
        assert doc["pid"] in doc["started"]  # its lifespan ran in the worker that answered
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{target.url}/raise", timeout=30)
        assert failed.value.code == 500
        failed.value.close()
        collector = target.collectors[0]
    assert not root.is_running()
    asyncio.run(collector.read_rest())
    frame = collector.frames()["app_exceptions"]
    assert list(frame["type"]) == ["ValueError"] and list(frame["where"]) == ["old_app.py:24"]
    log = (tmp_path / "logs" / "target.log").read_text()
    assert "No such option" not in log and "Application startup complete." in log
