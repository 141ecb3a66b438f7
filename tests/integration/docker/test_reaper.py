"""kill -9 of the harness in the middle of a Docker run: the reaper removes every container
and stops every process of the run within 10 s, without `pgstampede clean`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from tests.integration.docker.helpers import run_containers, wait_until
from tests.integration.docker.test_interrupt import LONG, stop_leftovers
from tests.integration.pipeline_helpers import (
    ROOT,
    marked_env,
    marked_processes,
    new_mark,
    temp_dirs,
    write_scenario,
)

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.usefixtures("images_ready")]


def test_kill_9_mid_run_removes_every_container(tmp_path: Path,
                                               docker_client: docker.DockerClient) -> None:
    mark = new_mark()
    out = tmp_path / "killed-run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(write_scenario(tmp_path, LONG)), "--out",
         str(out), "--runtime", "docker", "--quiet"], cwd=ROOT, env=marked_env(mark),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        def busy() -> bool:
            return len(run_containers(docker_client, out.name, "instance")) >= 3

        assert wait_until(busy, 120.0), "no instance containers started"
        assert set(run_containers(docker_client, out.name, "postgres").values()) == {"running"}
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

        def all_gone() -> bool:
            return not run_containers(docker_client, out.name) and not marked_processes(mark)

        gone = wait_until(all_gone, 10.0)
        containers_left = run_containers(docker_client, out.name)
        processes_left = marked_processes(mark)
    finally:
        stop_leftovers(proc, docker_client, out.name, mark)  # only when the test failed
    assert gone, f"10 s after kill -9: containers {containers_left}, processes {processes_left}"
    assert temp_dirs(mark) == set()
    assert list((out / ".pids").glob("*.pid")) == []
    assert "removed container" in (out / ".pids" / "reaper.log").read_text()
