"""pgpool-II on the docker runtime (pgstampede/pgpool): serverless instances (containers)
through pgpool with fewer children than instances hold the server to num_init_children ×
max_pool connections, wait in its listen backlog (measured on the host through the
collector's pcp on 127.0.0.1 and /proc/net/tcp), and are not refused; the summary records
its version, and no container of the run remains."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from harness.errors import InputError
from harness.runtime.docker import check_images
from tests.integration.docker.helpers import run_containers
from tests.integration.pipeline_helpers import (
    new_mark,
    read_json,
    run_cli,
    temp_dirs,
    write_scenario,
)

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.usefixtures("images_ready")]

CHILDREN, MAX_POOL = 3, 1

SCENARIO = f"""
name = "pgpool-docker"
[database]
max_connections = 30
[load]
think_time = "0s"
endpoints = {{ read = 1 }}
stages = [{{ duration = "5s", users = 10, spawn_rate = 20 }}]
request_timeout = "20s"
[target.serverless]
max_instances = 10
idle_timeout = "30s"
[pooler.pgpool]
num_init_children = {CHILDREN}
max_pool = {MAX_POOL}
[check]
min_coverage = 0.5
[[variants]]
name = "pgpool"
target = "serverless"
pooler = "pgpool"
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
            ) -> Path:
    try:
        check_images({"pgpool"})
    except InputError as exc:
        pytest.skip(f"{exc} (on CI: .ci/docker-setup.sh)")
    folder = tmp_path_factory.mktemp("pgpool-docker")
    out = folder / "pgpool-run"
    mark = new_mark()
    result = run_cli("run", str(write_scenario(folder, SCENARIO)), "--out", str(out),
                     "--runtime", "docker", "--quiet", mark=mark)
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    assert run_containers(docker_client, out.name) == {}
    assert temp_dirs(mark) == set()
    return out


def test_pgpool_container_holds_clients_beyond_its_children(run_dir: Path) -> None:
    v = read_json(run_dir / "summary.json")["variants"]["pgpool"]
    m = v["metrics"]
    assert v["pooler"] == "pgpool" and v["pooler_version"].startswith("4.")
    assert m["http.requests"] > 0
    # its children's pooled connections, and one more opened as it started and closed as the
    # load began (seen in the server log, which counts every backend however short-lived)
    assert 0 < m["db.connections.peak"] <= CHILDREN * MAX_POOL + 1
    assert m["pooler.cl_waiting.peak"] > 0  # instances waiting for a child, measured
    assert m["db.refused"] == 0 and m["pooler.refused"] == 0
