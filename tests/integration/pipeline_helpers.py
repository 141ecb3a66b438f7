"""Helpers for end-to-end tests: write a scenario, run the real CLI, read its results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).parents[2]


def write_scenario(folder: Path, text: str, name: str = "scenario.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


MARK_VAR = "PGSTAMPEDE_TEST_MARK"


def new_mark() -> str:
    """A fresh temp folder naming one harness under test (reachable by the postgres user)."""
    folder = Path(tempfile.mkdtemp(prefix="pgstampede-test-"))
    folder.chmod(0o755)
    return str(folder)


def marked_env(mark: str) -> dict[str, str]:
    """The environment for a harness under test: every process it starts inherits ``mark``,
    and its temp folders (clusters, PgBouncer configs, gateways) go under ``mark``."""
    env = {**os.environ, MARK_VAR: mark}
    if mark:
        env["TMPDIR"] = mark
    return env


def run_cli(*args: str, timeout: float = 600,
            mark: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, env=marked_env(mark))


def read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


def metrics(run_dir: Path, variant: str) -> dict[str, Any]:
    summary = read_json(run_dir / "summary.json")
    m = summary["variants"][variant]["metrics"]
    assert isinstance(m, dict)
    return m


def marked_processes(mark: str) -> set[int]:
    """PIDs of live processes whose environment carries ``mark`` (started by that harness)."""
    found = set()
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(MARK_VAR) == mark and proc.status() != psutil.STATUS_ZOMBIE:
                found.add(proc.pid)
        except psutil.Error:
            continue
    return found


def temp_dirs(mark: str) -> set[str]:
    """Temp folders (clusters, PgBouncer configs, gateways) the marked harness left."""
    return {p.name for p in Path(mark).glob("pgstampede-*")}


def run_complete(folder: Path, scenario: str) -> Path:
    """``pgstampede run`` of a scenario text into ``folder/run``: it must complete (exit 0)
    and leave none of its processes running. The run folder."""
    mark = new_mark()
    out = folder / "run"
    result = run_cli("run", str(write_scenario(folder, scenario)), "--out", str(out),
                     "--quiet", mark=mark)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert marked_processes(mark) == set()
    return out


def wait_until(check: Callable[[], bool], timeout_s: float = 60.0, step_s: float = 0.05) -> bool:
    """Poll ``check`` until it is true (True) or ``timeout_s`` has passed (its last answer)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step_s)
    return check()
