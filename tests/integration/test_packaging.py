"""The wheel, as a user gets it: built from the checkout (``pip wheel --no-deps``) and installed
into a fresh virtualenv (not this one's packages, not the checkout on the path), it lists,
loads and runs the shipped scenarios by name and carries the targets and the report template.

Slow (a build, a venv, the dependencies from the package index or pip's cache, a short run):
deselect with ``-m "not packaging"``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.packaging]

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.stem for p in (ROOT / "harness" / "scenarios").glob("*.toml"))
PACKAGE_SOURCES = ("pyproject.toml", "README.md", "harness", "targets")

# Run inside the installed venv: every shipped scenario loads from the package, the targets
# import, the report template is there, and none of it comes from the checkout.
INSPECT = """
import importlib, sys
from importlib.resources import files
from pathlib import Path
import harness
from harness.scenario import load_scenario
root = Path(sys.argv[1])
assert root not in Path(harness.__file__).resolve().parents, harness.__file__
scenarios = sorted(p for p in files("harness").joinpath("scenarios").iterdir()
                   if p.name.endswith(".toml"))
for path in scenarios:
    load_scenario(Path(str(path)))
for module in ("targets.persistent.app", "targets.serverless.handler",
               "harness.platform.gateway", "harness.load.locustfile"):
    importlib.import_module(module)
assert files("harness").joinpath("report/templates/report.html").is_file()
print(" ".join(Path(str(p)).stem for p in scenarios))
"""


def _copy_sources(dest: Path) -> None:
    """The files the wheel is built from, without caches or the symlinked ``scenarios/``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PACKAGE_SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)


def _clean_env() -> dict[str, str]:
    """This environment without anything that would reach the checkout or this venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def venv_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("packaging")
    src, dist, venv = work / "src", work / "dist", work / "venv"
    src.mkdir()
    _copy_sources(src)
    env = _clean_env()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist),
                    str(src)], check=True, env=env, cwd=work)
    wheels = list(dist.glob("pgstampede-*.whl"))
    assert len(wheels) == 1, wheels
    # A venv (made from this interpreter's base, not from this venv) without pip, which this
    # pip installs into without byte-compiling: a third of the time, and still nothing in it
    # but the wheel and its dependencies.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   env=env, cwd=work)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "-q", "--no-compile", str(wheels[0])], check=True, env=env,
                   cwd=work)
    return venv / "bin"


def _run(venv_bin: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv_bin / argv[0]), *argv[1:]], capture_output=True,
                          text=True, env=_clean_env(), cwd=cwd, timeout=600)


def test_list_shows_the_shipped_scenarios(venv_bin: Path, tmp_path: Path) -> None:
    assert SHIPPED, "no shipped scenarios in harness/scenarios"
    result = _run(venv_bin, "pgstampede", "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert listed == SHIPPED


def test_installed_package_loads_every_scenario_and_has_targets_and_template(
        venv_bin: Path, tmp_path: Path) -> None:
    result = _run(venv_bin, "python", "-c", INSPECT, str(ROOT), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == SHIPPED


def test_a_shipped_scenario_runs_by_name(venv_bin: Path, tmp_path: Path) -> None:
    """``run ci`` (one variant, one repeat) from outside the checkout: the targets start from
    the installed package and the run folder gets its summary and report."""
    out = tmp_path / "run"
    result = _run(venv_bin, "pgstampede", "run", "ci", "--variants", "persistent",
                  "--repeats", "1", "--out", str(out), "--quiet", cwd=tmp_path)
    assert result.returncode in (0, 1), result.stdout + result.stderr  # complete run
    assert "Traceback" not in result.stderr, result.stderr  # a crash exits 1 too
    assert (out / "summary.json").is_file()
    assert (out / "index.html").is_file()
