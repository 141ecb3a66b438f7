"""SIGINT/SIGTERM in the middle of a run: partial results saved, nothing left running;
kill -9: the reaper stops everything within 10 s; harness and reaper killed: the services'
parent-death signals stop them, `clean` removes the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from harness.platform.pidfile import instance_pids
from harness.runtime.cleanup import alive
from harness.runtime.tether import SETPRIV
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


PERSISTENT = """
name = "long-persistent"
description = "a persistent target and two Locust processes, long enough to kill"
[database]
max_connections = 30
[load]
endpoints = { read = 1 }
processes = 2
stages = [{ duration = "2m", users = 10, spawn_rate = 10 }]
[[variants]]
name = "direct"
target = "persistent"
"""


def wait_for_load(run_dir: Path, timeout_s: float = 120.0, variant: str = "pooled") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        raw = list((run_dir / variant / "1" / "locust").glob("requests-*"))
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


def start_long_run(tmp_path: Path, mark: str,
                   scenario: str = LONG) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run",
                             str(write_scenario(tmp_path, scenario)), "--out", str(out),
                             "--quiet"],
                            cwd=ROOT, env=marked_env(mark), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    return proc, out


def wait_for_instances(run_dir: Path, timeout_s: float = 120.0) -> None:
    """Until Locust's pid file is written and the gateway runs at least two instances."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(instance_pids(run_dir / ".pids" / "instances.pid")) >= 2 \
                and (run_dir / ".pids" / "locust.pid").exists():
            return
        time.sleep(0.2)
    raise AssertionError("no serverless instances started")


def run_processes(harness: int, mark: str) -> list[psutil.Process]:
    """Every process of the run: the harness's descendants (PostgreSQL's backends, whose
    environment PostgreSQL overwrites, included) and every marked process."""
    tree = psutil.Process(harness).children(recursive=True)
    known = {p.pid for p in tree}
    return tree + [psutil.Process(pid) for pid in marked_processes(mark) - known]


def wait_all_gone(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while (left := [p for p in procs if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_kill_9_mid_serverless_variant_leaves_nothing_without_clean(tmp_path: Path) -> None:
    mark = new_mark()
    proc, out = start_long_run(tmp_path, mark)
    try:
        wait_for_load(out)
        wait_for_instances(out)
        procs = run_processes(proc.pid, mark)
        names = {p.name() for p in procs}
        assert {"postgres", "pgbouncer"} <= names, names
        assert len(procs) >= 10, "postgres and its backends, pgbouncer, gateway, instances, " \
            "locust, the reaper"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    killed = time.monotonic()
    left = wait_all_gone(procs, 10.0)
    assert left == [], f"alive 10 s after kill -9: {[p.pid for p in left]}"
    assert time.monotonic() - killed < 10.5
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()
    assert list((out / ".pids").glob("*.pid")) == []
    assert "removed " in (out / ".pids" / "reaper.log").read_text()  # the temp folders


def service_processes(run_dir: Path) -> dict[str, psutil.Process]:
    """The services the pid files name (their first line: the group leader)."""
    found = {}
    for path in (run_dir / ".pids").glob("*.pid"):
        words = path.read_text().split()
        if words and path.stem != "instances":
            found[path.stem] = psutil.Process(int(words[0]))
    return found


def test_kill_9_mid_persistent_variant_with_locust_workers_leaves_nothing(
        tmp_path: Path) -> None:
    mark = new_mark()
    proc, out = start_long_run(tmp_path, mark, PERSISTENT)
    try:
        wait_for_load(out, variant="direct")
        services = service_processes(out)
        assert {"postgres", "target", "locust"} <= set(services), services
        assert len(services["locust"].children()) >= 2, "Locust's --processes workers"
        procs = run_processes(proc.pid, mark)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    left = wait_all_gone(procs, 10.0)
    assert left == [], f"alive 10 s after kill -9: {[p.pid for p in left]}"
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()
    assert list((out / ".pids").glob("*.pid")) == []


@pytest.mark.skipif(SETPRIV is None, reason="no setpriv (util-linux)")
def test_kill_9_of_harness_and_reaper_then_clean_leaves_nothing(tmp_path: Path) -> None:
    """Without the reaper (a machine crash takes it too): every service still gets its stop
    signal from the kernel, and `pgstampede clean` removes what is left."""
    mark = new_mark()
    proc, out = start_long_run(tmp_path, mark)
    try:
        wait_for_load(out)
        wait_for_instances(out)
        services = service_processes(out)
        assert {"postgres", "pgbouncer", "gateway", "locust"} <= set(services), services
        reapers = [p for p in psutil.Process(proc.pid).children()
                   if "harness.runtime.reaper" in p.cmdline()]
        assert len(reapers) == 1
        reapers[0].kill()
        assert wait_all_gone(reapers, 30.0) == []  # a zombie until the harness dies
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    left = wait_all_gone(list(services.values()), 10.0)
    assert left == [], f"no parent-death signal reached {[p.name() for p in left]}"
    assert temp_dirs(mark), "nobody removed the temp folders yet"
    result = subprocess.run([sys.executable, "-m", "harness", "clean", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "removed " in result.stdout
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
