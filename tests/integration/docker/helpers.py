"""Helpers of the docker-marked tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import docker

from harness.runtime.docker_engine import LABEL_ROLE, LABEL_RUN, labelled, summary_name


def run_containers(client: docker.DockerClient, run: str, role: str = "") -> dict[str, str]:
    """The containers (running or not) of run ``run`` (and ``role``): name -> status."""
    wanted = {LABEL_RUN: run, **({LABEL_ROLE: role} if role else {})}
    return {summary_name(c): str(c["State"]) for c in labelled(client, wanted)}


def wait_until(check: Callable[[], bool], timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()
