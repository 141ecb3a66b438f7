"""SIGINT in the middle of a Docker run: partial results saved, no container of the run left."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from tests.integration.docker.helpers import run_containers, wait_until
from tests.integration.pipeline_helpers import (
    ROOT,
    marked_env,
    marked_processes,
    new_mark,
    read_json,
    temp_dirs,
    write_scenario,
)

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.usefixtures("images_ready")]

LONG = """
name = "long-docker"
description = "a Docker run long enough to interrupt"
[database]
max_connections = 30
[load]
endpoints = { read = 1 }
stages = [{ duration = "2m", users = 6, spawn_rate = 10 }]
[pooler.pgbouncer]
pool_size = 5
[[variants]]
name = "serverless"
target = "serverless"
pooler = "pgbouncer"
[[variants]]
name = "never-reached"
"""


def test_sigint_mid_run_removes_every_container(tmp_path: Path,
                                                docker_client: docker.DockerClient) -> None:
    mark = new_mark()
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(write_scenario(tmp_path, LONG)), "--out",
         str(out), "--runtime", "docker", "--quiet"], cwd=ROOT, env=marked_env(mark),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def busy() -> bool:
            return len(run_containers(docker_client, out.name, "instance")) >= 3

        assert wait_until(busy, 120.0), "no instance containers started"
        assert set(run_containers(docker_client, out.name, "postgres").values()) == {"running"}
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, stderr
    assert "Traceback" not in stderr
    assert run_containers(docker_client, out.name) == {}
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()
    manifest = read_json(out / "manifest.json")
    assert manifest["status"] == "interrupted"
    assert [v["status"] for v in manifest["variants"]] == ["interrupted"]
    assert (out / "serverless" / "1" / "requests.parquet").exists()
