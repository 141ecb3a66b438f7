"""CPU accounting of the host collector when processes are reaped between two samples."""

from __future__ import annotations

import pytest

from harness.collect.host import ProcSample, cpu_seconds, reaped_counted


def proc(pid: int, ppid: int, started: float, cpu: float, children: float = 0.0) -> ProcSample:
    return ProcSample(pid, ppid, started, cpu, children, 1 << 20)


def test_a_grandchild_reaped_through_a_gone_parent_is_counted_once() -> None:
    # shell 1 runs `timeout` (2) which runs pytest (3); between the samples pytest used 0.5 s
    # more and exited, timeout reaped it and exited, the shell reaped timeout
    shell, wrapper, test = proc(1, 0, 0.0, 1.0), proc(2, 1, 5.0, 0.1), proc(3, 2, 6.0, 30.0)
    before = {p.key: p for p in (shell, wrapper, test)}
    after_shell = proc(1, 0, 0.0, 1.0, children=0.1 + 30.5)
    # each process counted in its own group: the shell's group must not get pytest's 30 s
    assert cpu_seconds({shell.key: shell}, [after_shell], 100.0, before,
                       {after_shell.key}) == pytest.approx(0.5)
    assert reaped_counted([wrapper, test]) == {1: pytest.approx(30.1)}


def test_processes_of_other_groups_still_alive_are_not_taken_as_reaped() -> None:
    shell, test = proc(1, 0, 0.0, 1.0), proc(3, 1, 6.0, 30.0)
    before = {p.key: p for p in (shell, test)}
    after = [proc(1, 0, 0.0, 1.0, children=0.2)]  # another child, born and reaped between
    alive = {after[0].key, test.key}  # pytest lives on, in its own group
    assert cpu_seconds({shell.key: shell}, after, 100.0, before, alive) == pytest.approx(0.2)
