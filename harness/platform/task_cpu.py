"""An instance's own CPU time, from the kernel's per-task accounting (Linux ``/proc``).

A cold start's wall time on a busy machine is mostly queueing for a CPU; its CPU time is what
it would take on an idle core (when it waits for nothing else), a figure a user can carry to
the real platform. For the processes of an instance's process group — its leader (the pid
the gateway knows) and the leader's descendants still in that group::

    cpu = max(Σ run time of its live threads     (/proc/P/task/*/schedstat, nanoseconds),
              utime + stime                       (/proc/P/stat, clock ticks: threads that
                                                   already exited are in it))
          + cutime + cstime                       (children it waited for)

A forked instance's counters start at zero at the fork, so this is its CPU from spawn on.
None when ``/proc`` cannot tell (another system, the process gone).
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
_TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            out.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return out


def _run_ns(pid: int) -> int:
    total = 0
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def process_cpu_ms(pid: int) -> float | None:
    """One process's CPU in ms (its threads, exited ones included, and reaped children)."""
    fields = _stat(pid)
    if fields is None or len(fields) < 15:
        return None
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    own = max(_run_ns(pid) / 1e6, (utime + stime) * _TICK_MS)
    return own + (cutime + cstime) * _TICK_MS


def group_cpu_ms(pids: list[int]) -> float | None:
    """The CPU in ms of the process groups led by ``pids`` (see the module doc)."""
    total, seen, found = 0.0, set(), False
    for leader in pids:
        todo = [leader]
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            fields = _stat(pid)
            if fields is None or (pid != leader and fields[2] != str(leader)):
                continue  # gone, or moved to a group of its own
            cpu = process_cpu_ms(pid)
            if cpu is not None:
                total, found = total + cpu, True
            todo.extend(_children(pid))
    return total if found else None
