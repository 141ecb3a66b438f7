"""The runtimes a user can choose with ``--runtime``."""

from __future__ import annotations

from collections.abc import Callable

from harness.errors import InputError
from harness.runtime.base import Runtime
from harness.runtime.local import ProcessRuntime


def _docker() -> Runtime:
    from harness.runtime.docker import DockerRuntime  # needs the docker SDK and an engine

    runtime: Runtime = DockerRuntime()
    return runtime


RUNTIMES: dict[str, Callable[[], Runtime]] = {
    "process": ProcessRuntime,
    "docker": _docker,
}


def get_runtime(name: str) -> Runtime:
    """The runtime named ``name``; InputError for an unknown one."""
    try:
        factory = RUNTIMES[name]
    except KeyError:
        raise InputError(f"--runtime {name}: unknown (expected one of: "
                         f"{', '.join(RUNTIMES)})") from None
    return factory()
