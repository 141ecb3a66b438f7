"""Each example app's own virtualenv, built once with the machine's ``python3 -m venv`` and
``pip install -r requirements.txt`` and cached outside the checkout (by a hash of the
requirements and the interpreter), so repeated test runs reuse it.

The venvs hold none of pgstampede's packages: the apps run in their own interpreter, as a
user's app does.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

CACHE_VAR = "PGSTAMPEDE_APP_VENVS"
DEFAULT_CACHE = Path("/tmp/pgstampede-app-venvs")
BUILD_TIMEOUT_S = 900.0
_COMPLETE = ".pgstampede-complete"


def base_python() -> str:
    """The machine's ``python3`` (a venv made from another venv's python is as isolated)."""
    return shutil.which("python3") or sys.executable


def cache_key(requirements: Path, python: str) -> str:
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"],
                             capture_output=True, text=True, check=True).stdout
    digest = hashlib.sha256()
    for part in (requirements.read_bytes(), python.encode(), version.encode()):
        digest.update(part)
    return f"{requirements.parent.name}-{digest.hexdigest()[:16]}"


def app_venv(requirements: Path) -> Path:
    """The interpreter of a venv with ``requirements`` installed, built when missing."""
    cache = Path(os.environ.get(CACHE_VAR, DEFAULT_CACHE))
    cache.mkdir(parents=True, exist_ok=True)
    python = base_python()
    folder = cache / cache_key(requirements, python)
    with open(cache / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / _COMPLETE).exists():
            shutil.rmtree(folder, ignore_errors=True)
            _build(folder, requirements, python)
            (folder / _COMPLETE).write_text(requirements.read_text())
    return folder / "bin" / "python"


def _build(folder: Path, requirements: Path, python: str) -> None:
    log = folder.with_suffix(".log")
    with open(log, "w") as out:
        for argv in ([python, "-m", "venv", str(folder)],
                     [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet",
                      "--disable-pip-version-check", "-r", str(requirements)]):
            done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=BUILD_TIMEOUT_S, check=False, cwd=requirements.parent,
                                  env={k: v for k, v in os.environ.items()
                                       if k not in ("VIRTUAL_ENV", "PYTHONPATH")})
            if done.returncode != 0:
                raise RuntimeError(f"building the venv {folder} failed ({' '.join(argv)}); "
                                   f"see {log}")


def distribution_version(python: Path, name: str) -> str | None:
    """The version of ``name`` installed in the venv of ``python`` (None when absent), asked
    in isolated mode so that the current folder is not on sys.path."""
    code = ("import importlib.metadata as m, sys\n"
            "try: print(m.version(sys.argv[1]))\n"
            "except m.PackageNotFoundError: print('')\n")
    out = subprocess.run([str(python), "-I", "-c", code, name], capture_output=True,
                         text=True, check=True, cwd="/").stdout.strip()
    return out or None
