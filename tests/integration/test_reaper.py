"""The reaper and the pid files: a harness killed with -9 leaves nothing of its own running,
and nothing that is not its own is touched (a recycled pid, a process without the token)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from harness.runtime.cleanup import TOKEN_VAR, alive, clean
from harness.runtime.managed import ManagedProcess
from harness.runtime.reaper import reaper
from harness.runtime.tether import SETPRIV, tethered
from tests.integration.pipeline_helpers import ROOT

pytestmark = pytest.mark.integration

# A stand-in harness: under a reaper it starts a service with a pid file and a temp folder
# (from a worker thread, so it has no parent-death signal and only the reaper can stop it),
# and a process with no pid file (as if killed between the fork and the write), prints the
# pids, then waits to be killed.
FAKE_HARNESS = """
import json, subprocess, sys, threading, time
from pathlib import Path
from harness.runtime.reaper import reaper
from harness.runtime.managed import ManagedProcess, service_tempdir
run = Path(sys.argv[1])
with reaper(run, docker=sys.argv[2] == "docker"):
    tmp = service_tempdir("pgstampede-fake-", run, run / ".pids")
    service = ManagedProcess(name="service", argv=["sleep", "600"], log_path=run / "s.log",
                             pid_dir=run / ".pids")
    starter = threading.Thread(target=service.start)
    starter.start()
    starter.join()
    unrecorded = subprocess.Popen(["sleep", "600"], start_new_session=True,
                                  stdout=subprocess.DEVNULL)
    print(json.dumps({"service": service.pid, "unrecorded": unrecorded.pid,
                      "tmp": str(tmp)}), flush=True)
    time.sleep(600)
"""


@contextlib.contextmanager
def sleeper() -> Iterator[psutil.Process]:
    """A process of nobody's run (no token), stopped at the end whatever happens."""
    proc = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        yield psutil.Process(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def wait_dead(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while (left := [p for p in procs if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def reaper_of(harness: psutil.Process) -> psutil.Process:
    found = [c for c in harness.children() if "harness.runtime.reaper" in c.cmdline()]
    assert len(found) == 1, harness.children()
    return found[0]


@pytest.mark.parametrize("runtime", ["process", "docker"])
def test_kill_9_of_the_harness_stops_its_processes_only(tmp_path: Path, runtime: str) -> None:
    run = tmp_path / "run"
    with sleeper() as bystander:
        # a stale pid file naming a process that is not the one recorded (a recycled pid)
        (run / ".pids").mkdir(parents=True)
        (run / ".pids" / "old.pid").write_text(f"{bystander.pid} 12345.000\n")
        harness = subprocess.Popen([sys.executable, "-c", FAKE_HARNESS, str(run), runtime],
                                   cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                   env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no"})
        try:
            assert harness.stdout is not None
            started = json.loads(harness.stdout.readline())
            ours = [psutil.Process(started["service"]), psutil.Process(started["unrecorded"])]
            ours.append(reaper_of(psutil.Process(harness.pid)))
        finally:
            harness.kill()
            harness.communicate(timeout=60)
        left = wait_dead(ours, 10.0)
        assert left == [], "left running 10 s after kill -9 of the harness"
        assert alive(bystander), "the reaper killed a process that was not the run's"
    assert not Path(started["tmp"]).exists()
    assert list((run / ".pids").glob("*.pid")) == []
    assert not (run / ".pids" / "run.token").exists()
    log = (run / ".pids" / "reaper.log").read_text()
    assert "stopped service" in log
    assert f"stopped process {started['unrecorded']}" in log
    if runtime == "docker":  # no engine here: the processes are still stopped, and it says so
        assert "containers not removed: docker: no engine reachable" in log


def test_clean_finds_a_process_without_pid_file_by_the_run_token(tmp_path: Path) -> None:
    """Harness and reaper both killed (as a machine crash would): clean does the reaper's job
    from the pid files and the token kept in .pids."""
    run = tmp_path / "run"
    harness = subprocess.Popen([sys.executable, "-c", FAKE_HARNESS, str(run), "process"],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert harness.stdout is not None
        started = json.loads(harness.stdout.readline())
        ours = [psutil.Process(started["service"]), psutil.Process(started["unrecorded"])]
        watcher = reaper_of(psutil.Process(harness.pid))
        watcher.kill()
        assert wait_dead([watcher], 10.0) == []
    finally:
        harness.kill()
        harness.communicate(timeout=60)
    try:
        assert [p for p in ours if alive(p)] == ours, "nothing stopped them yet"
        lines = clean([run])
        assert f"stopped process {started['unrecorded']} (found by the run's token)" in lines
        assert any(line.startswith("stopped service") for line in lines)
        assert wait_dead(ours, 10.0) == []
        assert not Path(started["tmp"]).exists()
        assert sorted(p.name for p in (run / ".pids").iterdir()) == ["reaper.log"]
    finally:
        for proc in ours:
            kill_quietly(proc)


def test_a_normal_end_dismisses_the_reaper_without_cleaning(tmp_path: Path) -> None:
    run = tmp_path / "run"
    before = os.environ.get(TOKEN_VAR)
    with reaper(run):
        watcher = reaper_of(psutil.Process())
        token = os.environ[TOKEN_VAR]
        service = ManagedProcess(name="service", argv=["sleep", "600"],
                                 log_path=tmp_path / "s.log", pid_dir=run / ".pids")
        service.start()
    try:
        assert wait_dead([watcher], 10.0) == []
        assert alive(psutil.Process(service.pid)), "a normal end must not reap"
        assert psutil.Process(service.pid).environ()[TOKEN_VAR] == token
        assert os.environ.get(TOKEN_VAR) == before
        assert not (run / ".pids" / "reaper.log").exists()
        assert not (run / ".pids" / "run.token").exists()
    finally:
        service.stop()


def test_clean_checks_the_recorded_start_time(tmp_path: Path) -> None:
    pids = tmp_path / "run" / ".pids"
    pids.mkdir(parents=True)
    with sleeper() as stranger, sleeper() as leftover:
        (pids / "recycled.pid").write_text(f"{stranger.pid} {stranger.create_time() - 60:.3f}\n")
        (pids / "service.pid").write_text(f"{leftover.pid} {leftover.create_time():.3f}\n")
        lines = clean([tmp_path / "run"])
        assert lines == [f"stopped service (process group {leftover.pid}) "
                         f"from {pids / 'service.pid'}"]
        assert wait_dead([leftover], 10.0) == []
        assert alive(stranger)
    assert list(pids.glob("*.pid")) == []
    assert clean([tmp_path / "run"]) == ["nothing left running"]


def test_postgres_backends_are_stopped_with_their_postmaster(tmp_path: Path) -> None:
    """The postmaster's children are in their own sessions: a kill of its group alone
    would leave them; clean stops every descendant."""
    from harness.runtime.postgres import PostgresCluster

    pids = tmp_path / "run" / ".pids"
    cluster = PostgresCluster(max_connections=10, log_path=tmp_path / "pg.log",
                              workdir=tmp_path, pid_dir=pids)
    cluster.start()
    try:
        tree = [psutil.Process(cluster.postmaster_pid)]
        tree += tree[0].children(recursive=True)
        assert len(tree) >= 4
        assert any(os.getpgid(p.pid) != cluster.postmaster_pid for p in tree[1:])
        lines = clean([tmp_path / "run"])
        assert lines[0].startswith("stopped postgres")
        assert any(line.startswith("removed ") for line in lines)
        assert wait_dead(tree, 10.0) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(cluster.postmaster_pid, signal.SIGKILL)
        cluster.stop()


needs_setpriv = pytest.mark.skipif(SETPRIV is None, reason="no setpriv (util-linux)")

# A stand-in harness without a reaper: one service started from the main thread, printed.
UNGUARDED_HARNESS = """
import sys, time
from pathlib import Path
from harness.runtime.managed import ManagedProcess
service = ManagedProcess(name="service", argv=["sleep", "600"], log_path=Path(sys.argv[1]))
service.start()
print(service.pid, flush=True)
time.sleep(600)
"""


@needs_setpriv
def test_a_service_gets_its_stop_signal_when_the_harness_dies(tmp_path: Path) -> None:
    """The parent-death signal alone (no reaper) stops a service started by the main thread."""
    harness = subprocess.Popen([sys.executable, "-c", UNGUARDED_HARNESS,
                                str(tmp_path / "s.log")], cwd=ROOT, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert harness.stdout is not None
        service = psutil.Process(int(harness.stdout.readline()))
        deadline = time.monotonic() + 10.0  # setpriv executes it in its place: same pid
        while service.cmdline() != ["sleep", "600"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.cmdline() == ["sleep", "600"]
    finally:
        harness.kill()
        harness.communicate(timeout=60)
    try:
        assert wait_dead([service], 10.0) == []
    finally:
        kill_quietly(service)


@needs_setpriv
def test_only_the_main_thread_tethers() -> None:
    """The kernel signals when the forking *thread* ends: a worker thread must not tether."""
    assert tethered(["sleep", "1"])[-3:] == ["--", "sleep", "1"]
    result: list[list[str]] = []
    worker = threading.Thread(target=lambda: result.append(tethered(["sleep", "1"])))
    worker.start()
    worker.join()
    assert result == [["sleep", "1"]]
    assert tethered(["no-such-program-here"]) == ["no-such-program-here"]


def kill_quietly(proc: psutil.Process) -> None:
    with contextlib.suppress(psutil.Error):
        proc.kill()
