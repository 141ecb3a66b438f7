"""The serverless target under the process runtime: the platform emulator's gateway, whose
instances are forked (or exec'd) on demand; with ``background = "queue"`` the job-queue
consumer beside it (``python -m targets.worker``: not a load worker, not a server process)."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import shutil
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.app.database import prepare_database
from harness.app.env import app_environment
from harness.app.node import command_argv, function_commands
from harness.collect.platform import PlatformCollector
from harness.errors import ServiceError
from harness.platform.config import PlatformConfig
from harness.platform.pidfile import instance_pids, read_pids
from harness.runtime.managed import ManagedProcess, remove_tempdir, service_tempdir
from harness.runtime.ports import LOOPBACK, free_port
from harness.runtime.stopping import StopPolicy, stop_group
from harness.scenario import ServerlessSpec
from harness.services.target import (
    SSL_OF_OUR_SERVERS,
    RunningTarget,
    TargetContext,
    target_env,
)

INSTANCES_LEFT = StopPolicy(signal.SIGKILL, grace_s=1.0)
"""Instances the gateway left (it kills its own): killed at once."""


def serverless_spec(ctx: TargetContext) -> ServerlessSpec:
    """The variant's serverless target (ValueError for another kind)."""
    spec = ctx.variant.target
    if not isinstance(spec, ServerlessSpec):
        raise ValueError(f"variant {ctx.variant.name}: a {spec.kind} target, not serverless")
    return spec


def platform_config(ctx: TargetContext) -> PlatformConfig:
    """The emulator's configuration: the scenario's [target.serverless] knobs + the DSN."""
    spec = serverless_spec(ctx)
    knobs = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)
             if f.name not in ("prepared_statement_fix", "background_delay_s", "preset",
                               "overrides")}
    return PlatformConfig(**knobs, dsn=ctx.dsn, ssl=SSL_OF_OUR_SERVERS,
                          statement_cache_size=ctx.statement_cache_size,
                          background_delay_ms=int(spec.background_delay_s * 1000),
                          **app_platform_fields(ctx))


def app_platform_fields(ctx: TargetContext) -> dict[str, Any]:
    """PlatformConfig's ``app_*`` fields for a variant with an ``[app]`` (none without)."""
    app = ctx.variant.app
    if app is None:
        return {}
    return {"app_kind": "command" if app.kind == "node" else app.kind, "app_entry": app.entry,
            "app_factory": app.factory, "app_root": app.root, "app_python": app.python,
            "app_env": app_environment(app, ctx.dsn), "app_preload": app.preload,
            "app_command": command_argv(app), "app_port_env": app.port_env,
            "app_ready": app.ready, "app_functions": function_commands(app)}


def serverless_info(ctx: TargetContext, config: PlatformConfig) -> dict[str, Any]:
    return {"statement_cache_size": ctx.statement_cache_size or "default",
            "platform": json.loads(config.to_json())}


@contextlib.contextmanager
def serverless_target(ctx: TargetContext) -> Iterator[RunningTarget]:
    """The platform emulator's gateway; instances are forked (or exec'd) on demand."""
    if ctx.variant.app is not None:
        prepare_database(ctx.variant.app, ctx.direct_dsn or ctx.dsn, ctx.logs)
    config = platform_config(ctx)
    workdir = service_tempdir("pgstampede-gw-", pid_dir=ctx.pid_dir)
    config_path = workdir / "platform.json"
    config_path.write_text(config.to_json())
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [sys.executable, "-m", "harness.platform.gateway", "--config", str(config_path),
            "--port", str(port), "--workdir", str(workdir)]
    pids_file = workdir / "instances.pids"
    try:
        gateway = ManagedProcess(name="gateway", argv=argv, env=target_env(ctx),
                                 log_path=ctx.logs / "gateway.log",
                                 ready_url=f"{url}/__platform/health", pid_dir=ctx.pid_dir)
        with gateway as proc, job_queue_consumer(ctx, config.background):
            link_pid_file(ctx.pid_dir, pids_file)

            def gateway_pids() -> list[int]:
                return [proc.pid, *read_pids(pids_file)[:1]]

            def instances() -> list[int]:
                return instance_pids(pids_file)

            yield RunningTarget(
                url=url, roles={"gateway": gateway_pids, "instances": instances},
                collectors=[PlatformCollector(f"{url}/__platform/stats")],
                info=serverless_info(ctx, config),
                end_of_run=functools.partial(end_of_run_reap, url))
    finally:
        for pid in read_pids(pids_file) if pids_file.exists() else []:
            stop_group(pid, INSTANCES_LEFT)
        if ctx.pid_dir is not None:
            (ctx.pid_dir / "instances.pid").unlink(missing_ok=True)
        keep_platform_stats(workdir, ctx.logs)
        remove_tempdir(workdir, ctx.pid_dir)


def end_of_run_reap(url: str) -> None:
    """The platform's end of the run: the gateway kills every instance now
    (``POST /__platform/reap``); ServiceError when it does not answer."""
    request = urllib.request.Request(f"{url}/__platform/reap", data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30.0):  # noqa: S310 (loopback only)
            return
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError("gateway", f"the end-of-run reap failed: {exc}") from None


def keep_platform_stats(workdir: Path, logs: Path) -> None:
    """The gateway's final stats (written at its exit) into the variant's logs."""
    stats = workdir / "stats.json"
    if stats.exists():
        shutil.copy(stats, logs / "platform-stats.json")


@contextlib.contextmanager
def job_queue_consumer(ctx: TargetContext, background: str) -> Iterator[None]:
    """With ``background = "queue"``: the process completing the job rows (``python -m
    targets.worker``; its log is ``logs/job_queue.log``)."""
    if background != "queue":
        yield
        return
    argv = [sys.executable, "-m", "targets.worker"]
    with ManagedProcess(name="job_queue", argv=argv, env=target_env(ctx),
                        log_path=ctx.logs / "job_queue.log", pid_dir=ctx.pid_dir):
        yield


def link_pid_file(pid_dir: Path | None, pids_file: Path) -> None:
    """Let `pgstampede clean` find the instances: a symlink to the gateway's pid list."""
    if pid_dir is None:
        return
    link = pid_dir / "instances.pid"
    link.unlink(missing_ok=True)
    link.symlink_to(pids_file)
