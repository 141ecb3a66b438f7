"""SIGINT/SIGTERM in the middle of a run: partial results saved, nothing left running."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from tests.integration.pipeline_helpers import (
    ROOT,
    read_json,
    service_processes,
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
[[variants]]
name = "pooled"
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
    before_procs, before_dirs = service_processes(), temp_dirs()
    scenario = write_scenario(tmp_path, LONG)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", str(scenario), "--out",
                             str(out), "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for_load(out)
        time.sleep(3)
        children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert children, "the harness should have started services"
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, stderr
    assert "Traceback" not in stderr
    assert not [p for p in children if psutil.pid_exists(p)
                and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert service_processes() - before_procs == set()
    assert temp_dirs() - before_dirs == set()
    manifest = read_json(out / "manifest.json")
    assert manifest["status"] == "interrupted"
    assert [v["status"] for v in manifest["variants"]] == ["interrupted"]
    vdir = out / "pooled" / "1"
    requests = pd.read_parquet(vdir / "requests.parquet")
    assert len(requests) > 0
    assert len(pd.read_parquet(vdir / "db.parquet")) > 0
    assert len(pd.read_parquet(vdir / "pooler.parquet")) > 0
    summary = read_json(out / "summary.json")
    assert summary["status"] == "interrupted"
    assert (out / "index.html").exists()
