"""SIGINT/SIGTERM in the middle of a run: partial results saved, nothing left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.pipeline_helpers import (
    ROOT,
    marked_env,
    marked_processes,
    new_mark,
    read_json,
    temp_dirs,
    write_scenario,
)

pytestmark = pytest.mark.integration

LONG = """
name = "long"
description = "a run long enough to interrupt"
[database]
max_connections = 30
[load]
endpoints = { read = 1 }
stages = [{ duration = "2m", users = 10, spawn_rate = 10 }]
[pooler.pgbouncer]
pool_size = 5
[target.serverless]
idle_timeout = "60s"
[[variants]]
name = "pooled"
target = "serverless"
pooler = "pgbouncer"
[[variants]]
name = "never-reached"
"""


def wait_for_load(run_dir: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        raw = list((run_dir / "pooled" / "1" / "locust").glob("requests-*"))
        if raw and sum(p.stat().st_size for p in raw) > 0:
            return
        time.sleep(0.2)
    raise AssertionError("the load never started")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_run(tmp_path: Path, sig: signal.Signals) -> None:
    mark = new_mark()
    scenario = write_scenario(tmp_path, LONG)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", str(scenario), "--out",
                             str(out), "--quiet"], cwd=ROOT, env=marked_env(mark),
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for_load(out)
        time.sleep(3)
        assert len(marked_processes(mark)) >= 5, "postgres, pgbouncer, gateway, instances, locust"
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, stderr
    assert "Traceback" not in stderr
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()
    manifest = read_json(out / "manifest.json")
    assert manifest["status"] == "interrupted"
    assert [v["status"] for v in manifest["variants"]] == ["interrupted"]
    vdir = out / "pooled" / "1"
    requests = pd.read_parquet(vdir / "requests.parquet")
    assert len(requests) > 0
    assert len(pd.read_parquet(vdir / "db.parquet")) > 0
    assert len(pd.read_parquet(vdir / "pooler.parquet")) > 0
    assert len(pd.read_parquet(vdir / "platform.parquet")) > 0
    summary = read_json(out / "summary.json")
    assert summary["status"] == "interrupted"
    assert "This run is incomplete (interrupted)" in (out / "index.html").read_text()


def test_kill_9_then_clean_leaves_nothing(tmp_path: Path) -> None:
    mark = new_mark()
    scenario = write_scenario(tmp_path, LONG)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", str(scenario), "--out",
                             str(out), "--quiet"], cwd=ROOT, env=marked_env(mark),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_load(out)
        time.sleep(2)
        assert (out / ".pids" / "locust.pid").exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert len(marked_processes(mark)) >= 4, "services outlive a harness killed with -9"
    assert temp_dirs(mark)
    result = subprocess.run([sys.executable, "-m", "harness", "clean", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "stopped postgres" in result.stdout
    deadline = time.monotonic() + 20
    while marked_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()
    again = subprocess.run([sys.executable, "-m", "harness", "clean", str(out)], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert "nothing left running" in again.stdout


def test_locust_crash_marks_the_run_failed_and_keeps_results(tmp_path: Path) -> None:
    mark = new_mark()
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run",
                             str(write_scenario(tmp_path, LONG)), "--out", str(out), "--quiet"],
                            cwd=ROOT, env=marked_env(mark), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for_load(out)
        time.sleep(2)
        locust = int((out / ".pids" / "locust.pid").read_text())
        os.killpg(locust, signal.SIGKILL)  # Locust dies; the harness must not
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, stderr
    assert "locust" in (stdout + stderr).lower()
    assert "Traceback" not in stderr
    manifest = read_json(out / "manifest.json")
    assert manifest["status"] == "failed"
    assert [v["status"] for v in manifest["variants"]] == ["failed"]
    assert len(pd.read_parquet(out / "pooled" / "1" / "requests.parquet")) > 0
    assert len(pd.read_parquet(out / "pooled" / "1" / "db.parquet")) > 0
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()
