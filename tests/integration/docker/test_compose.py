"""compose/docker-compose.yml by hand: it passes `docker-compose config`, and all four services
(profiles persistent-pgbouncer + serverless-pgbouncer) come up healthy and answer; `down`
leaves no container, not even the instances the gateway started."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from harness.runtime.docker_engine import remove_labelled
from harness.runtime.ports import free_port
from tests.integration.docker.helpers import run_containers, wait_until
from tests.integration.pipeline_helpers import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.integration]

COMPOSE_FILE = ROOT / "compose" / "docker-compose.yml"
PROFILES = ("persistent", "persistent-pgbouncer", "serverless", "serverless-pgbouncer")
PROJECT_LABEL = "com.docker.compose.project"


def compose_binary() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    return found


def compose(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([compose_binary(), "-f", str(COMPOSE_FILE), *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False, cwd=ROOT)


@pytest.mark.parametrize("profile", PROFILES)
def test_compose_file_is_valid(profile: str) -> None:
    env_file = ROOT / "compose" / "profiles" / f"{profile}.env"
    result = compose(dict(os.environ), "--env-file", str(env_file), "--profile", profile,
                     "config", "-q")
    assert result.returncode == 0, result.stderr


@pytest.fixture
def stack(docker_client: docker.DockerClient) -> Iterator[dict[str, Any]]:
    """The four services up under a fresh project name, on free ports; always taken down."""
    project = f"pgstampede-test-{uuid.uuid4().hex[:8]}"
    folder = tempfile.mkdtemp(prefix="pgs-compose-")
    bouncer = free_port()
    env = {**os.environ, "PG_PORT": str(free_port()), "PGBOUNCER_PORT": str(bouncer),
           "TARGET_DB_PORT": str(bouncer), "STATEMENT_CACHE_SIZE": "0", "POOL_SIZE": "5",
           "PERSISTENT_PORT": str(free_port()), "GATEWAY_PORT": str(free_port()),
           "PGSTAMPEDE_COMPOSE_DIR": folder, "PGSTAMPEDE_RUN_LABEL": project}
    args = ("-p", project, "--profile", "persistent-pgbouncer", "--profile",
            "serverless-pgbouncer")
    try:
        up = compose(env, *args, "up", "-d")
        assert up.returncode == 0, up.stderr
        yield {"env": env, "project": project}
    finally:
        down = compose(env, *args, "down", "-t", "10")
        leftovers = run_containers(docker_client, project)
        remove_labelled(docker_client, {PROJECT_LABEL: project})
        remove_labelled(docker_client, {"pgstampede.run": project})
        shutil.rmtree(folder, ignore_errors=True)
    assert down.returncode == 0, down.stderr
    assert leftovers == {}, "instance containers outlived the gateway"


def health(client: docker.DockerClient, project: str) -> dict[str, str]:
    found = client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
    return {c.labels["com.docker.compose.service"]:
            c.attrs.get("State", {}).get("Health", {}).get("Status", c.status) for c in found}


def get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=60) as resp:
        assert resp.status == 200
        body: dict[str, Any] = json.loads(resp.read())
        return body


@pytest.mark.usefixtures("images_ready")
def test_compose_comes_up_healthy_by_hand(docker_client: docker.DockerClient,
                                          stack: dict[str, Any]) -> None:
    project, env = stack["project"], stack["env"]
    services = {"postgres", "pgbouncer", "persistent", "gateway"}

    def healthy() -> bool:
        return health(docker_client, project) == dict.fromkeys(services, "healthy")

    assert wait_until(healthy, 90.0), health(docker_client, project)
    assert get(f"http://127.0.0.1:{env['PERSISTENT_PORT']}/read")["id"] >= 1
    assert get(f"http://127.0.0.1:{env['GATEWAY_PORT']}/read")["instance"] == "i1"
    instances = run_containers(docker_client, project, "instance")
    assert len(instances) == 1
    assert Path(env["PGSTAMPEDE_COMPOSE_DIR"], "platform.json").exists()
