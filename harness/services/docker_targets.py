"""The targets under the docker runtime: the persistent server as a container; the serverless
platform's gateway as a host process that starts one container per instance.

Why the gateway stays on the host: it is the platform, not the function, and it must talk to
the engine anyway (a container would need the engine's socket mounted, i.e. root on the
host); on the host its CPU and memory are sampled like the process runtime's gateway, its log
and final stats land in the run folder the same way, and only what a serverless platform
runs per request — the instances — changes from processes to containers. The compose file
runs the same gateway in a container for use by hand (docs/docker.md).

:class:`DockerRuntime` is the docker runtime's services (``harness.runtime.docker``) with these
targets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import docker

from harness.collect.platform import PlatformCollector
from harness.errors import InputError
from harness.platform.config import PlatformConfig
from harness.platform.pidfile import instance_pids
from harness.runtime.docker import DockerServices
from harness.runtime.docker_container import ContainerSpec, ServiceContainer
from harness.runtime.docker_engine import LABEL_ROLE, LABEL_RUN, remove_labelled
from harness.runtime.managed import ManagedProcess, remove_tempdir, service_tempdir
from harness.runtime.ports import LOOPBACK, free_port
from harness.runtime.wait import http_ok
from harness.scenario import PersistentSpec, ServerlessSpec
from harness.services.persistent import builtin_env
from harness.services.serverless import keep_platform_stats, platform_config, serverless_info
from harness.services.target import RunningTarget, TargetContext, target_env


class ContainerFactory(Protocol):
    """What the targets need from the DockerRuntime."""

    client: docker.DockerClient

    def image_id(self, role: str) -> str: ...

    def labels(self, run: str, role: str) -> dict[str, str]: ...

    def container_name(self, run: str, role: str) -> str: ...

    def run_of(self, ctx: TargetContext) -> str: ...


def container_env(env: Mapping[str, str]) -> dict[str, str]:
    """The target's PGSTAMPEDE_* environment (never the harness's whole environment)."""
    out = {k: v for k, v in env.items() if k.startswith("PGSTAMPEDE_")}
    out["PYTHONUNBUFFERED"] = "1"
    return out


@contextlib.contextmanager
def persistent_container(ctx: TargetContext, factory: ContainerFactory
                         ) -> Iterator[RunningTarget]:
    """One uvicorn process with an asyncpg pool, in a container on 127.0.0.1:PORT."""
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    env = container_env(builtin_env(ctx))
    argv = ["python", "-m", "uvicorn", "targets.persistent.app:app", "--host", LOOPBACK,
            "--port", str(port), "--no-access-log", "--log-level", "warning",
            "--timeout-graceful-shutdown", "2"]
    run = factory.run_of(ctx)
    container = ContainerSpec(
        service="target", image=factory.image_id("persistent"),
        name=factory.container_name(run, "persistent"), labels=factory.labels(run, "persistent"),
        log_path=ctx.logs / "target.log", command=argv, environment=env)
    with ServiceContainer(factory.client, container, lambda: http_ok(f"{url}/health")) as target:
        yield RunningTarget(url=url, roles={"target": target.pids},
                            info={"statement_cache_size": ctx.statement_cache_size or "default",
                                  "container": container.name})


@contextlib.contextmanager
def serverless_containers(ctx: TargetContext, factory: ContainerFactory
                          ) -> Iterator[RunningTarget]:
    """The platform gateway on the host; each instance is a container it starts on demand."""
    run = factory.run_of(ctx)
    config = dataclasses.replace(platform_config(ctx), spawner="docker", run_label=run,
                                 instance_image=factory.image_id("instance"))
    workdir = service_tempdir("pgstampede-gw-", pid_dir=ctx.pid_dir)  # registered for clean
    (workdir / "platform.json").write_text(config.to_json())
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [sys.executable, "-m", "harness.platform.gateway", "--config",
            str(workdir / "platform.json"), "--port", str(port), "--workdir", str(workdir)]
    pids_file = workdir / "instances.pids"
    try:
        with ManagedProcess(name="gateway", argv=argv, env=target_env(ctx),
                            log_path=ctx.logs / "gateway.log", ready_url=f"{url}/__platform/health",
                            ready_timeout_s=60.0, pid_dir=ctx.pid_dir) as proc:

            def instances() -> list[int]:
                return instance_pids(pids_file)

            yield RunningTarget(
                url=url, roles={"gateway": proc.pids, "instances": instances},
                collectors=[PlatformCollector(f"{url}/__platform/stats")],
                info=_serverless_info(ctx, config))
    finally:
        remove_labelled(factory.client, {LABEL_RUN: run, LABEL_ROLE: "instance"})
        keep_platform_stats(workdir, ctx.logs)
        remove_tempdir(workdir, ctx.pid_dir)


def _serverless_info(ctx: TargetContext, config: PlatformConfig) -> dict[str, Any]:
    return {**serverless_info(ctx, config), "instances": "containers (docker pause = freeze)"}


class DockerRuntime(DockerServices):
    """The docker runtime: PostgreSQL, the pooler and the persistent target as containers;
    the serverless gateway on the host, each instance a container."""

    def run_of(self, ctx: TargetContext) -> str:
        return self.run_of_pid_dir(ctx.pid_dir)

    def target(self, ctx: TargetContext) -> contextlib.AbstractContextManager[RunningTarget]:
        if ctx.variant.app is not None:
            raise InputError("--runtime docker: a scenario with [app] runs on the process "
                             "runtime only (use --runtime process)")
        match ctx.variant.target:
            case PersistentSpec():
                return persistent_container(ctx, self)
            case ServerlessSpec():
                return serverless_containers(ctx, self)
        raise InputError(f"--runtime docker: target {ctx.variant.target.kind!r} is not "
                         "supported")
