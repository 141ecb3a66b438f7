"""The runtimes as a variant run sees them: the database and the pooler of
:mod:`harness.runtime`, plus the target, assembled here because only this layer knows the
targets (built-in servers, the platform emulator, a user's app).

:class:`Runtime` is the seam of a variant run (``harness.run.seams.Seams.runtime``); a test
passes a fake one. A new runtime implements :class:`~harness.runtime.base.ServiceRuntime`
and its targets (the docker runtime's: ``harness.services.docker_targets.DockerRuntime``), and
is registered in ``harness.services.registry.RUNTIMES``.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from harness.runtime.base import ServiceRuntime
from harness.runtime.local import ProcessServices
from harness.scenario import PersistentSpec, ServerlessSpec, TargetSpec
from harness.services.persistent import persistent_target
from harness.services.serverless import serverless_target
from harness.services.target import RunningTarget, TargetContext, TargetStarter


class Runtime(ServiceRuntime, Protocol):
    """Brings up the services of one variant run: database, pooler and target."""

    def target(self, ctx: TargetContext) -> contextlib.AbstractContextManager[RunningTarget]: ...


PROCESS_TARGETS: dict[type[TargetSpec], TargetStarter] = {
    PersistentSpec: persistent_target,
    ServerlessSpec: serverless_target,
}


def start_target(ctx: TargetContext) -> contextlib.AbstractContextManager[RunningTarget]:
    """The variant's target as local processes (an external one is not started)."""
    starter = PROCESS_TARGETS.get(type(ctx.variant.target))
    if starter is None:
        raise ValueError(f"variant {ctx.variant.name}: a {ctx.variant.target.kind} target "
                         "is not started by the harness")
    return starter(ctx)


class ProcessRuntime(ProcessServices):
    """The process runtime: PostgreSQL, the pooler and the target as local processes."""

    def target(self, ctx: TargetContext) -> contextlib.AbstractContextManager[RunningTarget]:
        return start_target(ctx)
