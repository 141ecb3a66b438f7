"""Cheap checks of ``[app]`` when the scenario is loaded: the app's interpreter runs and
finds the app's module (and the ``preload`` modules) with ``root`` first on sys.path.

``find_spec`` imports the parent packages of a dotted module, so an ``__init__.py`` that
imports a missing library is found here too (exit 2, before anything starts).
"""

from __future__ import annotations

import os
import subprocess

from harness.app.env import interpreter, process_env
from harness.app.node import check_node
from harness.errors import ScenarioError
from harness.scenario.records import AppSpec

CHECK_TIMEOUT_S = 120.0

_FIND = """
import importlib.util, sys
sys.path.insert(0, sys.argv[1])
for key, name in zip(sys.argv[2::2], sys.argv[3::2]):
    try:
        found = importlib.util.find_spec(name) is not None
        error = f"No module named {name!r}"
    except BaseException as exc:
        found, error = False, f"{type(exc).__name__}: {exc}".strip()
    if not found:
        print(key, error.splitlines()[-1] if error else "")
        sys.exit(3)
"""


def check_app(app: AppSpec, path: str) -> None:
    """ScenarioError (file ``path``) when the app's module cannot be found by its interpreter
    (a command app runs its own program: nothing to check here, its instances say)."""
    if app.kind == "node":
        check_node(app, path)
        return
    if app.kind == "command":
        return
    python = interpreter(app)
    pairs = [(f"app.{app.kind}", app.module), *(("app.preload", m) for m in app.preload)]
    argv = [python, "-c", _FIND, app.root, *(x for pair in pairs for x in pair)]
    try:
        done = subprocess.run(argv, cwd=app.root, env=process_env(app, os.environ, {}),
                              capture_output=True, text=True, timeout=CHECK_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScenarioError(path, "app.python", f"cannot run {python}: {exc}") from None
    if done.returncode == 0:
        return
    key, _, error = done.stdout.strip().partition(" ")
    if done.returncode != 3 or not key.startswith("app."):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ScenarioError(path, "app.python", f"{python} failed (exit {done.returncode}): "
                            f"{tail[0]}")
    raise ScenarioError(path, key, f"{python} cannot import it with root {app.root} first "
                        f"on sys.path: {error}")
