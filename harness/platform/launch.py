"""What the template process runs: the built-in handler, or a user's app (harness.apphost).

Built-in handler (``app_kind = ""``): the harness's interpreter runs
``harness.apphost.template`` with the runtime ``harness.platform.instance``, preloading the
handler's dependencies (uvloop, asyncpg, the endpoint protocol) and the handler's module (its
globals are created lazily, on an instance's first request; importing it in each forked
instance cost a third of the instance's CPU in a burst, see benchmarks/platform_scale.py).

User's app (``app_kind = "asgi" | "wsgi"``): ``app_python`` (default: the harness's) runs
``pgstampede_apphost.template`` with the runtime ``pgstampede_apphost.instance``. Its
``PYTHONPATH`` holds one directory, ``WORKDIR/apphost``, in which ``pgstampede_apphost`` is a
symbolic link to harness/apphost: the app's interpreter sees that package and nothing else of
the harness (no site-packages of the harness's virtualenv, no ``harness``, no ``targets``).
The template starts in that directory (``python -m`` puts the working directory first on
sys.path), then moves to ``app_root``. The environment is the gateway's, without its Python
variables, plus ``app_env`` (a ``PYTHONPATH`` there comes after the apphost directory);
``app_python``'s directory comes first on ``PATH``.

Command app (``app_kind = "command"``): the harness's interpreter runs the template with the
runtime ``harness.apphost.command``; each forked child execs the command in ``app_root``
(harness.platform.command). The environment is the gateway's without its Python variables,
``PYTHONUNBUFFERED=1`` and ``WEB_CONCURRENCY=1`` (one process per instance, for servers that
read it), then ``app_env``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.apphost.expose import PACKAGE as APPHOST_PACKAGE
from harness.apphost.expose import expose
from harness.platform.config import PlatformConfig

APP_RUNTIME = f"{APPHOST_PACKAGE}.instance"
BUILTIN_RUNTIME = "harness.platform.instance"
# What the template imports once so that a forked instance does not have to (then the
# handler's own module, which imports the rest of its target).
BUILTIN_PRELOAD = (
    "asyncio",
    "json",
    "uvloop",
    "asyncpg",
    "harness.results.endpoints",
    "harness.platform.protocol",
    BUILTIN_RUNTIME,
)
APP_PRELOAD = ("asyncio", "json", APP_RUNTIME)
COMMAND_RUNTIME = "harness.apphost.command"
PYTHON_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH")


@dataclass(frozen=True)
class Launch:
    """The template's command line (without ``--fd``/``--parent``), environment and cwd."""

    python: str
    module: str
    options: tuple[str, ...]
    runtime_args: tuple[str, ...]
    env: dict[str, str]
    cwd: str | None = None

    def argv(self, fd: int, parent: int) -> list[str]:
        return [self.python, "-m", self.module, "--fd", str(fd), "--parent", str(parent),
                *self.options, "--", *self.runtime_args]


def template_launch(config: PlatformConfig, workdir: Path) -> Launch:
    if config.app_kind == "command":
        return command_launch(config)
    return app_launch(config, workdir) if config.is_app else builtin_launch(config)


def builtin_launch(config: PlatformConfig) -> Launch:
    env = {**os.environ, **config.handler_env(), "PYTHONUNBUFFERED": "1"}
    handler_module = config.handler.partition(":")[0]
    preload = ",".join(dict.fromkeys((*BUILTIN_PRELOAD, handler_module)))
    options = ("--runtime", BUILTIN_RUNTIME, "--preload", preload)
    return Launch(sys.executable, "harness.apphost.template", options,
                  ("--handler", config.handler), env)


def app_launch(config: PlatformConfig, workdir: Path) -> Launch:
    path_dir = expose_apphost(workdir)
    python = config.app_python or sys.executable
    if os.sep in python:  # a path (the template starts elsewhere); a bare name is found on PATH
        python = os.path.abspath(python)
    root = os.path.abspath(config.app_root) if config.app_root else ""
    preload = ",".join((*APP_PRELOAD, *config.app_preload))
    options = ("--runtime", APP_RUNTIME, "--root", root, "--preload", preload)
    runtime_args = ["--kind", config.app_kind, "--entry", config.app_entry, "--root", root,
                    "--concurrency", str(config.instance_concurrency),
                    "--adapter", config.adapter]
    if config.app_factory:
        runtime_args.append("--factory")
    return Launch(python, f"{APPHOST_PACKAGE}.template", options, tuple(runtime_args),
                  app_env(config, path_dir), str(path_dir))


def command_launch(config: PlatformConfig) -> Launch:
    """A command app: the harness's interpreter runs the template with the runtime
    ``harness.apphost.command``, which turns each forked child into the command."""
    root = os.path.abspath(config.app_root) if config.app_root else ""
    options = ("--runtime", COMMAND_RUNTIME, "--preload", COMMAND_RUNTIME)
    runtime_args = ("--command", json.dumps(list(config.app_command)), "--root", root,
                    "--port-env", config.app_port_env)
    env = {k: v for k, v in os.environ.items() if k not in PYTHON_VARIABLES}
    env.update({"PYTHONUNBUFFERED": "1", "WEB_CONCURRENCY": "1"})  # one process per instance
    env.update(config.app_env)
    return Launch(sys.executable, "harness.apphost.template", options, runtime_args, env)


def app_env(config: PlatformConfig, path_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PYTHON_VARIABLES}
    if config.app_python:
        bin_dir = os.path.dirname(os.path.abspath(config.app_python))
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", os.defpath)])
    env.update(config.app_env)
    python_path = [str(path_dir), *filter(None, [config.app_env.get("PYTHONPATH", "")])]
    env.update({"PYTHONPATH": os.pathsep.join(python_path), "PYTHONUNBUFFERED": "1",
                "PYTHONNOUSERSITE": "1"})
    return env


def expose_apphost(workdir: Path) -> Path:
    """``WORKDIR/apphost`` holding only ``pgstampede_apphost`` (harness.apphost.expose)."""
    return expose(workdir)
