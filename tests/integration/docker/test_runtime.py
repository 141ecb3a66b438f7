"""The docker runtime's services and the serverless platform on containers, in-process:
a frozen instance is a paused container whose connection is idle on the server; a thaw serves
the next request; after idle_timeout (reap = kill) the container and its backend are gone."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import docker
import psutil
import psycopg
import pytest

from harness.errors import ServiceError
from harness.runtime.docker_engine import clean_containers, remove_labelled
from harness.scenario import Variant, load_scenario
from harness.services.docker_targets import DockerRuntime
from harness.services.target import TargetContext
from tests.integration.docker.helpers import run_containers, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.usefixtures("images_ready")]

SCENARIO = """
name = "docker-lifecycle"
[database]
max_connections = 20
[load]
endpoints = { read = 1 }
stages = [{ duration = "1s", users = 1, spawn_rate = 1 }]
[target.serverless]
idle_timeout = "6s"
reap = "kill"
freeze = true
[[variants]]
name = "serverless"
target = "serverless"
"""

APP_BACKENDS = ("SELECT state FROM pg_stat_activity "
                "WHERE usename = 'app' AND application_name = 'pgstampede-serverless'")


def variant(tmp_path: Path) -> Variant:
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO)
    return load_scenario(path).variants[0]


def get(url: str) -> tuple[int, dict[str, Any]]:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return resp.status, json.loads(resp.read())


def backends(dsn: str) -> list[str]:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        return [str(row[0]) for row in conn.execute(APP_BACKENDS).fetchall()]


def test_frozen_instance_is_a_paused_container_with_an_idle_connection(
        docker_client: docker.DockerClient, tmp_path: Path) -> None:
    runtime = DockerRuntime(docker_client)
    with runtime.postgres(max_connections=20, log_path=tmp_path / "postgres.log", keep=False,
                          pid_dir=None, settings={}) as pg:
        assert pg.version.startswith("15") and pg.pids()
        ctx = TargetContext(variant=variant(tmp_path), dsn=pg.app_dsn, logs=tmp_path,
                            workdir=tmp_path)
        run = runtime.run_of(ctx)
        with runtime.target(ctx) as target:
            assert get(f"{target.url}/read")[1]["instance"] == "i1"

            def frozen() -> bool:
                return list(run_containers(docker_client, run, "instance").values()) == ["paused"]

            assert wait_until(frozen, 5.0), run_containers(docker_client, run, "instance")
            assert backends(pg.monitor_dsn) == ["idle"]
            pids = target.roles["instances"]()
            assert pids and all(psutil.pid_exists(p) for p in pids)  # host pids of the container
            assert get(f"{target.url}/read")[1]["instance"] == "i1"  # thawed, same instance
            assert wait_until(lambda: not run_containers(docker_client, run, "instance"), 30.0)
            assert wait_until(lambda: backends(pg.monitor_dsn) == [], 10.0)
        stats = json.loads((tmp_path / "platform-stats.json").read_text())
        assert stats["cold_starts"] == 1 and stats["reaped"] == 1
    assert "connection authorized: user=app" in (tmp_path / "postgres.log").read_text()
    assert run_containers(docker_client, run) == {}
    runtime.close()


def test_a_service_that_fails_to_start_is_one_line_and_leaves_nothing(
        docker_client: docker.DockerClient, tmp_path: Path) -> None:
    runtime = DockerRuntime(docker_client)
    log = tmp_path / "postgres.log"
    with pytest.raises(ServiceError) as err, runtime.postgres(
            max_connections=20, log_path=log, keep=False, pid_dir=None,
            settings={"shared_buffers": "plenty"}):
        pass
    message = str(err.value)
    assert message.startswith("postgres: container ") and "exited with code" in message
    assert "shared_buffers" in message and f"see its log: {log}" in message
    assert run_containers(docker_client, runtime.run_of_pid_dir(None)) == {}
    runtime.close()


def test_clean_removes_the_containers_a_crashed_run_left(
        docker_client: docker.DockerClient, tmp_path: Path) -> None:
    runtime = DockerRuntime(docker_client)
    crashed, other = tmp_path / "crashed-run", tmp_path / "live-run"
    for folder in (crashed, other):
        (folder / ".pids").mkdir(parents=True)
        docker_client.containers.create(
            runtime.image_id("postgres"), labels=runtime.labels(folder.name, "postgres"),
            name=runtime.container_name(folder.name, "postgres"))
    try:
        lines = clean_containers([crashed])
        assert len(lines) == 1 and lines[0].startswith("removed container pgstampede-crashed-run")
        assert run_containers(docker_client, "crashed-run") == {}
        assert len(run_containers(docker_client, "live-run")) == 1
        assert clean_containers([crashed]) == ["no pgstampede containers left"]
    finally:
        for run in ("crashed-run", "live-run"):
            remove_labelled(docker_client, {"pgstampede.run": run})
        runtime.close()
