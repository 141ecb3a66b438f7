"""Helpers for end-to-end tests: write a scenario, run the real CLI, read its results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).parents[2]


def write_scenario(folder: Path, text: str, name: str = "scenario.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout)


def read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


def metrics(run_dir: Path, variant: str) -> dict[str, Any]:
    summary = read_json(run_dir / "summary.json")
    m = summary["variants"][variant]["metrics"]
    assert isinstance(m, dict)
    return m


def service_processes() -> set[int]:
    """PIDs of every postgres, pgbouncer, uvicorn, gateway or Locust process right now."""
    found = set()
    for proc in psutil.process_iter(["pid", "cmdline", "name"]):
        cmd = " ".join(proc.info.get("cmdline") or [])
        if any(k in cmd for k in ("postgres -D", "pgbouncer", "uvicorn", "locust",
                                  "harness.platform")):
            found.add(proc.info["pid"])
    return found


def temp_dirs() -> set[str]:
    import tempfile

    root = Path(tempfile.gettempdir())
    return {p.name for p in root.glob("pgstampede-*")}
