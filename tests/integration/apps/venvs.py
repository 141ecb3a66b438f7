"""Each example app's own virtualenv, built once with the machine's ``python3 -m venv`` and
``pip install -r requirements.txt`` and cached outside the checkout by
:func:`tests.build_cache.built_once` (keyed by the requirements and the interpreter), so
repeated test runs reuse it.

The venvs hold none of pgstampede's packages: the apps run in their own interpreter, as a
user's app does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.build_cache import built_once, run_logged


def base_python() -> str:
    """The machine's ``python3`` (a venv made from another venv's python is as isolated)."""
    return shutil.which("python3") or sys.executable


def app_venv(requirements: Path) -> Path:
    """The interpreter of a venv with ``requirements`` installed, built when missing."""
    requirements = requirements.resolve()
    python = base_python()
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"],
                             capture_output=True, text=True, check=True).stdout

    def build(folder: Path) -> None:
        log = folder.with_suffix(".log")
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        run_logged([python, "-m", "venv", str(folder)], requirements.parent, log, env)
        run_logged([str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "-r", str(requirements)],
                   requirements.parent, log, env)

    folder = built_once(f"venv-{requirements.parent.name}", [requirements], build,
                        extra=f"{python}\n{version}")
    return folder / "bin" / "python"


def distribution_version(python: Path, name: str) -> str | None:
    """The version of ``name`` installed in the venv of ``python`` (None when absent), asked
    in isolated mode so that the current folder is not on sys.path."""
    code = ("import importlib.metadata as m, sys\n"
            "try: print(m.version(sys.argv[1]))\n"
            "except m.PackageNotFoundError: print('')\n")
    out = subprocess.run([str(python), "-I", "-c", code, name], capture_output=True,
                         text=True, check=True, cwd="/").stdout.strip()
    return out or None
