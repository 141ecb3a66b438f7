"""The one readiness wait and the one stop policy of the runtime, on a fake clock where time
matters (no sleeps, exact counts)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ServiceError
from harness.runtime.stopping import StopPolicy, group_alive, stop_group
from harness.runtime.wait import wait_until_ready


class FakeClock:
    """A monotonic clock that moves only when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_ready_on_the_third_poll(tmp_path: Path) -> None:
    clock = FakeClock()
    answers = iter([False, False, True])
    wait_until_ready(lambda: next(answers), service="db", log_path=tmp_path / "db.log",
                     timeout_s=5.0, clock=clock, sleep=clock.sleep, poll_s=0.5)
    assert clock.sleeps == [0.5, 0.5]


def test_a_resource_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "gw.log"
    log.write_text("starting\nTraceback (most recent call last):\nValueError: bad port\n")
    clock = FakeClock()
    exits = iter([None, "exited with code 1"])
    with pytest.raises(ServiceError) as err:
        wait_until_ready(lambda: False, service="gateway", log_path=log, timeout_s=5.0,
                         exited=lambda: next(exits), clock=clock, sleep=clock.sleep)
    assert str(err.value) == (f"gateway: exited with code 1 while starting: starting | "
                              f"Traceback (most recent call last): | ValueError: bad port "
                              f"(see its log: {log})")
    assert len(clock.sleeps) == 1


def test_not_ready_in_time(tmp_path: Path) -> None:
    clock = FakeClock()
    with pytest.raises(ServiceError, match=r"^pgbouncer: not ready after 2 s \(see its log"):
        wait_until_ready(lambda: False, service="pgbouncer", log_path=tmp_path / "p.log",
                         timeout_s=2.0, clock=clock, sleep=clock.sleep, poll_s=0.5)
    assert clock.sleeps == [0.5] * 4


def test_a_group_that_ignores_its_signal_is_killed_after_the_grace() -> None:
    code = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-c", code], process_group=0,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        stop_group(proc.pid, StopPolicy(signal.SIGTERM, grace_s=0.2, kill_wait_s=5.0),
                   reap=proc.poll)
        assert not group_alive(proc.pid)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_a_group_gone_already_is_left_alone() -> None:
    proc = subprocess.Popen(["true"], process_group=0)
    proc.wait()
    stop_group(proc.pid, StopPolicy(grace_s=0.0, kill_wait_s=0.0))  # nothing to signal
    assert not group_alive(proc.pid)
