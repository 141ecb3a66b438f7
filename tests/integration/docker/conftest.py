"""Docker-marked tests: a running engine and current images are needed (``.ci/docker-setup.sh``).

Without an engine, or with images missing or built from other sources, the engine tests are
skipped with the reason and the command that fixes it; the pure tests of the docker parts
(test_docker_parts.py) need neither.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from harness.errors import InputError
from harness.runtime.docker_engine import connect
from harness.services.docker_targets import DockerRuntime


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = connect(timeout_s=30.0)
    except InputError as exc:
        pytest.skip(f"{exc} (on CI: .ci/docker-setup.sh)")
    yield client
    client.close()


@pytest.fixture(scope="session")
def images_ready(docker_client: docker.DockerClient) -> None:
    """Skip when an image is missing or stale (`pgstampede images build` fixes it)."""
    try:
        DockerRuntime(docker_client)
    except InputError as exc:
        pytest.skip(str(exc))
