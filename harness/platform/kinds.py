"""The registry of kinds of instance: which one a platform config runs, and how it is made.

    template    a fork (or exec) of the template process that imported the built-in handler
                or a Python app (harness.platform.spawner, harness.apphost): the default
    container   a Docker container per instance (``spawner = "docker"``,
                harness.platform.docker_spawner; needs the docker SDK, imported only then)
    command     a program of any language serving HTTP on its own port (``app_kind =
                "command"``, harness.platform.command)

Each entry builds an ``InstanceKind`` (harness.platform.kind) from the config, the gateway's
work directory and the clock. A new kind is one entry here, one value of ``kind_name``,
and its module: nothing in routing, scaling or the lifecycle changes (docs/internals.md,
"The emulator: kinds of instance").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.clock import SYSTEM_CLOCK, Clock
from harness.platform.config import PlatformConfig
from harness.platform.framed import FramedKind
from harness.platform.kind import InstanceKind
from harness.platform.launch import template_launch
from harness.platform.spawner import TemplateSpawner

KindFactory = Callable[[PlatformConfig, Path, Clock], InstanceKind]


def _template(config: PlatformConfig, workdir: Path, clock: Clock) -> InstanceKind:
    spawner = TemplateSpawner(template_launch(config, workdir), config.cold_start)
    return FramedKind(spawner, config, clock)


def _command(config: PlatformConfig, workdir: Path, clock: Clock) -> InstanceKind:
    from harness.platform.command import CommandKind

    return CommandKind(config, workdir, clock)


def _container(config: PlatformConfig, workdir: Path, clock: Clock) -> InstanceKind:
    from harness.platform.docker_spawner import DockerSpawner

    spawner = DockerSpawner(config, workdir)
    return FramedKind(spawner, config, clock, send_signal=spawner.send_signal)


KINDS: dict[str, KindFactory] = {
    "template": _template,
    "container": _container,
    "command": _command,
}


def kind_name(config: PlatformConfig) -> str:
    """The kind of instance ``config`` runs."""
    if config.app_kind == "command":
        return "command"
    return "container" if config.spawner == "docker" else "template"


def make_kind(config: PlatformConfig, workdir: Path, clock: Clock = SYSTEM_CLOCK) -> InstanceKind:
    return KINDS[kind_name(config)](config, workdir, clock)
