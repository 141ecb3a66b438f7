"""Unit tests of core pinning: how cores are split, and placing real processes by PID."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.runtime.pinning import CoreSplit, Pinner, available_cores, split_cores


def test_a_quarter_of_the_cores_for_the_load_at_least_one() -> None:
    assert split_cores([0, 1]) == CoreSplit(frozenset({0}), frozenset({1}))
    assert split_cores(range(8)) == CoreSplit(frozenset({0, 1}), frozenset(range(2, 8)))
    assert split_cores([3, 1, 2], load_cores=2) == CoreSplit(frozenset({1, 2}), frozenset({3}))
    assert split_cores([0, 1], load_cores=5) == CoreSplit(frozenset({0}), frozenset({1}))
    assert split_cores([0]) is None


def test_roles_go_to_their_side() -> None:
    split = CoreSplit(frozenset({0}), frozenset({1, 2}))
    assert split.cores_for("locust") == split.cores_for("harness") == frozenset({0})
    assert split.cores_for("postgres") == split.cores_for("instances") == frozenset({1, 2})
    assert split.describe() == {"load": [0], "sut": [1, 2]}


@pytest.mark.skipif(len(available_cores()) < 2, reason="needs two cores")
def test_a_placed_process_and_its_children_keep_their_cores() -> None:
    cores = sorted(available_cores())
    split = CoreSplit(frozenset(cores[:1]), frozenset(cores[1:]))
    code = ("import os, subprocess, sys, time\n"
            "sys.stdin.readline()\n"  # wait until placed, then start a child
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            "print(sorted(os.sched_getaffinity(child.pid)), flush=True)\n"
            "child.kill(); child.wait()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        pinner = Pinner(split)
        pinner.place("postgres", [proc.pid, proc.pid])
        assert pinner.placed == {proc.pid} and pinner.failures == 0
        assert os.sched_getaffinity(proc.pid) == set(cores[1:])
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == str(cores[1:])  # inherited by the child
        pinner.reset()
        assert os.sched_getaffinity(proc.pid) == set(cores)
        assert pinner.placed == set()
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
    Pinner(split).place("locust", [2**22 + 12345])  # a pid that is gone: nothing to do


@pytest.mark.skipif(len(available_cores()) < 2, reason="needs two cores")
def test_the_host_collector_places_each_role_on_its_cores() -> None:
    import asyncio

    from harness.collect.host import HostCollector

    cores = sorted(available_cores())
    split = CoreSplit(frozenset(cores[:1]), frozenset(cores[1:]))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pinner = Pinner(split)
        collector = HostCollector({"postgres": lambda: [sleeper.pid]}, pinner=pinner,
                                  machine=False)
        asyncio.run(collector.sample(1.0))
        assert os.sched_getaffinity(sleeper.pid) == set(cores[1:])
    finally:
        sleeper.kill()
        sleeper.wait()
