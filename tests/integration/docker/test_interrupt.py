"""SIGINT in the middle of a Docker run: partial results saved, no container of the run left."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from harness.runtime.docker_engine import LABEL_RUN, remove_labelled
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


def stop_leftovers(proc: subprocess.Popen[str], client: docker.DockerClient, run: str,
                   mark: str) -> None:
    """When the test failed half-way: stop the harness, then whatever it left running."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    for pid in marked_processes(mark):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    remove_labelled(client, {LABEL_RUN: run})


def test_sigint_mid_run_removes_every_container(tmp_path: Path,
                                                docker_client: docker.DockerClient) -> None:
    mark = new_mark()
    out = tmp_path / "interrupted-run"
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
        stdout, stderr = proc.communicate(timeout=180)
        containers_left = run_containers(docker_client, out.name)
        processes_left = marked_processes(mark)
    finally:
        stop_leftovers(proc, docker_client, out.name, mark)  # only when the test failed
    assert proc.returncode == 3, stdout[-2000:] + stderr[-2000:]
    assert "Traceback" not in stderr
    assert containers_left == {}
    assert processes_left == set()
    assert temp_dirs(mark) == set()
    manifest = read_json(out / "manifest.json")
    assert manifest["status"] == "interrupted"
    assert [v["status"] for v in manifest["variants"]] == ["interrupted"]
    assert (out / "serverless" / "1" / "requests.parquet").exists()
