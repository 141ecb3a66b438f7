"""CPU and memory of each process role (postgres, pgbouncer, target, locust...).

A role is a callable returning its root pids (it may change over time: instances come
and go); every sample covers the roots and all their live descendants, found in one read of
the process table (``/proc``; psutil where there is no ``/proc``). Give roots only (e.g. the
postmaster): descendants are found here, and listing them costs the caller a table scan.

CPU is the CPU time used between two samples over the time between them (100 = one
core). CPU of processes that lived and died between two samples (a postgres backend of a
short connection, a serverless instance) is not lost: it is read from the parent's
``children_user``/``children_system`` times once the parent has reaped them. RSS is the sum
over the processes (shared pages are counted once per process). For the ``locust`` role
the run-queue wait (``wait_percent``: time runnable but not running, from schedstat) is
recorded too: a load generator starved of CPU by other processes uses little CPU but
waits, and is as much a bottleneck as one that uses a whole core.

Besides the roles it is given, the collector records (same columns):

- ``harness``: the process running the collector (the harness itself: sampler, collectors,
  progress), its CPU and RSS; its other children are the roles' roots.
- ``machine``: the whole machine (:mod:`harness.collect.machine`): ``cpu_percent`` used by
  every process (100 = one core), ``wait_percent`` the time tasks waited for a CPU,
  ``processes`` the number of CPUs, ``rss_mb`` the memory in use.
- ``other:<command>``: processes outside the run (not a role, not the harness) grouped by
  command name (``/proc/<pid>/comm``), the ``OTHER_TOP`` busiest of each sample using at
  least ``OTHER_MIN_PERCENT`` of a core: who else took the CPU.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil

from harness.collect.machine import MachineReading, machine_use, read_machine
from harness.results.frames import coerce_frame, empty_frame
from harness.runtime.pinning import Pinner
from harness.runtime.schedstat import run_queue_wait_s

COLUMNS = ("t", "role", "cpu_percent", "rss_mb", "processes", "wait_percent")
MIB = 1 << 20
PROC = Path("/proc")
WAIT_ROLES = frozenset({"locust"})  # run-queue wait is read for these (saturation)
TICK_S = 0.01  # resolution of a process's start time (one clock tick)
HARNESS_ROLE = "harness"
MACHINE_ROLE = "machine"
OTHER_PREFIX = "other:"
OTHER_TOP = 5
OTHER_MIN_PERCENT = 5.0
HostRow = tuple[float, str, float, float, int, float]


@dataclass(frozen=True)
class ProcSample:
    """One process at one instant: own CPU seconds, reaped children's CPU seconds, RSS."""

    pid: int
    ppid: int
    started: float  # seconds since boot (the clock of ``boot_clock()``)
    cpu_s: float
    children_cpu_s: float
    rss: int
    command: str = ""

    @property
    def key(self) -> tuple[int, float]:
        return (self.pid, self.started)


def reaped_counted(gone: Iterable[ProcSample]) -> dict[int, float]:
    """CPU already counted of processes gone since the last sample, by the pid that reaped
    them: the parent, or the first ancestor still alive when the parent is gone too (a
    grandchild reaped by ``timeout`` that was then reaped by its shell, all in between)."""
    by_pid = {q.pid: q for q in gone}
    out: dict[int, float] = {}
    for q in by_pid.values():
        parent, hops = q.ppid, 0
        while parent in by_pid and hops < len(by_pid):
            parent, hops = by_pid[parent].ppid, hops + 1
        out[parent] = out.get(parent, 0.0) + q.cpu_s + q.children_cpu_s
    return out


def cpu_seconds(
    prev: Mapping[tuple[int, float], ProcSample], cur: Iterable[ProcSample], prev_t: float,
    reaped_from: Mapping[tuple[int, float], ProcSample] | None = None,
    alive: Collection[tuple[int, float]] | None = None,
) -> float:
    """CPU seconds used since ``prev_t`` by ``cur`` and by the processes reaped since ``prev``.

    ``prev_t`` is the time of ``prev`` in seconds since boot, like ``ProcSample.started``.
    A process seen before contributes its CPU delta; a process started after ``prev_t``
    all its CPU (one seen for the first time but older, none: it sets a baseline); each
    parent, the CPU of the children it reaped in between, minus what had already been
    counted of those children while they were alive.

    ``reaped_from`` (default ``prev``) is where those children are looked for: pass the whole
    previous process table when a child belongs to another role (a serverless instance
    reaped by the template of the ``gateway`` role): its CPU is then not counted twice;
    ``alive`` (default: ``cur``) the keys of every process alive now.
    """
    cur_list = list(cur)
    living = alive if alive is not None else {p.key for p in cur_list}
    counted_by = reaped_counted(q for q in (prev if reaped_from is None else reaped_from).values()
                                if q.key not in living)
    total = 0.0
    for p in cur_list:
        before = prev.get(p.key)
        if before is None:
            total += p.cpu_s + p.children_cpu_s if p.started >= prev_t - TICK_S else 0.0
            continue
        total += max(0.0, p.cpu_s - before.cpu_s)
        reaped = p.children_cpu_s - before.children_cpu_s
        total += max(0.0, reaped - counted_by.get(p.pid, 0.0))
    return total


def boot_clock() -> float:
    """Seconds since boot: the clock of process start times (immune to wall-clock steps)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _parse_stat(pid: int, data: bytes, tick: float, page: int) -> ProcSample:
    """A ``/proc/<pid>/stat`` line (fields after the command name, which may hold spaces)."""
    end = data.rfind(b")")
    f = data[end + 2 :].split()
    return ProcSample(
        pid=pid,
        ppid=int(f[1]),
        started=int(f[19]) / tick,
        cpu_s=(int(f[11]) + int(f[12])) / tick,
        children_cpu_s=(int(f[13]) + int(f[14])) / tick,
        rss=int(f[21]) * page,
        command=data[data.find(b"(") + 1 : end].decode(errors="replace"),
    )


def _proc_table_linux(proc: Path) -> dict[int, ProcSample]:
    tick = float(os.sysconf("SC_CLK_TCK"))
    page = os.sysconf("SC_PAGE_SIZE")
    table: dict[int, ProcSample] = {}
    for entry in os.scandir(proc):
        if entry.name.isdigit():
            try:
                with open(f"{entry.path}/stat", "rb") as f:
                    table[int(entry.name)] = _parse_stat(int(entry.name), f.read(), tick, page)
            except (OSError, ValueError, IndexError):
                continue  # the process exited while we looked
    return table


def _proc_table_psutil() -> dict[int, ProcSample]:
    table: dict[int, ProcSample] = {}
    boot = psutil.boot_time()
    for proc in psutil.process_iter():
        try:
            with proc.oneshot():
                times = proc.cpu_times()
                table[proc.pid] = ProcSample(
                    pid=proc.pid,
                    ppid=proc.ppid(),
                    started=proc.create_time() - boot,
                    cpu_s=times.user + times.system,
                    children_cpu_s=times.children_user + times.children_system,
                    rss=proc.memory_info().rss,
                    command=proc.name(),
                )
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return table


def proc_table(proc: Path = PROC) -> dict[int, ProcSample]:
    """Every process of the machine: one read of ``/proc/*/stat`` (psutil elsewhere).

    Reading the stat files directly costs a quarter of psutil's per-process calls, which
    matters at a few hertz with hundreds of postgres backends or serverless instances.
    """
    if (proc / "self" / "stat").exists():
        return _proc_table_linux(proc)
    return _proc_table_psutil()


def family(table: Mapping[int, ProcSample], roots: Iterable[int],
           exclude: Iterable[int] = ()) -> list[ProcSample]:
    """The ``roots`` found in ``table`` and all their descendants (each pid once), not
    descending into ``exclude`` (the roots of other roles: a gateway's instances are their
    own role)."""
    children: dict[int, list[int]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p.pid)
    seen: dict[int, ProcSample] = {}
    skip = set(exclude)
    todo = [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen[pid] = table[pid]
            todo.extend(c for c in children.get(pid, ()) if c not in skip)
    return list(seen.values())


def snapshot(roots: Iterable[int]) -> list[ProcSample]:
    """The roots and their live descendants, read now."""
    return family(proc_table(), roots)


def wait_seconds(prev: Mapping[tuple[int, float], float],
                 cur: Mapping[tuple[int, float], float]) -> float:
    """Run-queue wait added between two samples by the processes present in both."""
    return sum(max(0.0, w - prev[k]) for k, w in cur.items() if k in prev)


@dataclass
class _RoleState:
    t: float  # wall clock of the sample
    since_boot: float  # the same instant on boot_clock()
    procs: dict[tuple[int, float], ProcSample]
    waits: dict[tuple[int, float], float]


@dataclass
class _Previous:
    """The last sample of the whole machine: its process table and counters."""

    since_boot: float
    table: dict[tuple[int, float], ProcSample]
    machine: MachineReading | None


def by_command(procs: Iterable[ProcSample]) -> dict[str, list[ProcSample]]:
    """Processes grouped by command name."""
    groups: dict[str, list[ProcSample]] = {}
    for p in procs:
        groups.setdefault(p.command or "?", []).append(p)
    return groups


class HostCollector:
    """Samples the ``roles`` (name → callable returning root pids) every ``interval_s``,
    the harness's own process and the whole machine (see the module doc)."""

    name = "host"

    def __init__(
        self, roles: Mapping[str, Callable[[], list[int]]], interval_s: float = 0.5,
        *, machine: bool = True, pinner: Pinner | None = None,
    ) -> None:
        self.roles = dict(roles)
        if machine:
            self.roles.setdefault(HARNESS_ROLE, lambda: [os.getpid()])
        self.machine = machine
        self.pinner = pinner  # [host] pin: each role's new processes placed on its cores
        self.interval_s: float | None = interval_s
        self._state: dict[str, _RoleState] = {}
        self._prev: _Previous | None = None
        self._rows: list[HostRow] = []
        self._latest: dict[str, float] = {}

    def _measure(self, t: float, roots: dict[str, list[int]]) -> list[HostRow]:
        rows: list[HostRow] = []
        since_boot = boot_clock()
        table = proc_table()
        every_root = {pid for pids in roots.values() for pid in pids}
        prev = self._prev
        whole = {p.key: p for p in table.values()}
        in_roles: set[tuple[int, float]] = set()
        for role, pids in roots.items():
            procs = family(table, pids, every_root - set(pids))
            in_roles.update(p.key for p in procs)
            if self.pinner is not None:
                self.pinner.place(role, [p.pid for p in procs])
            waits = {p.key: w for p in procs
                     if (w := run_queue_wait_s(p.pid)) is not None} if role in WAIT_ROLES else {}
            state = self._state.get(role)
            self._state[role] = _RoleState(t, since_boot, {p.key: p for p in procs}, waits)
            if state is None or since_boot <= state.since_boot:
                continue  # the first sample only sets the baseline
            elapsed = since_boot - state.since_boot
            reaped_from = prev.table if prev is not None else None
            cpu = cpu_seconds(state.procs, procs, state.since_boot, reaped_from,
                              whole.keys()) / elapsed * 100.0
            wait = wait_seconds(state.waits, waits) / elapsed * 100.0 if waits else float("nan")
            rows.append((t, role, cpu, sum(p.rss for p in procs) / MIB, len(procs), wait))
        if self.machine:
            reading = read_machine(since_boot)
            if prev is not None and since_boot > prev.since_boot:
                rows.extend(self._machine_rows(t, since_boot, prev, reading, whole, in_roles))
            self._prev = _Previous(since_boot, whole, reading)
        return rows

    def _machine_rows(self, t: float, since_boot: float, prev: _Previous,
                      reading: MachineReading | None,
                      whole: dict[tuple[int, float], ProcSample],
                      in_roles: set[tuple[int, float]]) -> list[HostRow]:
        """The ``machine`` row and the busiest commands outside the run since ``prev``."""
        rows: list[HostRow] = []
        use = machine_use(prev.machine, reading) if prev.machine and reading else None
        if use is not None:
            rows.append((t, MACHINE_ROLE, use.cpu_percent, use.used_mib, use.cores,
                         use.wait_percent))
        elapsed = since_boot - prev.since_boot
        others = [p for k, p in whole.items() if k not in in_roles]
        prev_others = {k: p for k, p in prev.table.items() if k not in in_roles}
        busy: list[HostRow] = []
        for command, procs in by_command(others).items():
            cpu = cpu_seconds(prev_others, procs, prev.since_boot, prev.table,
                              whole.keys()) / elapsed * 100
            if cpu >= OTHER_MIN_PERCENT:
                busy.append((t, OTHER_PREFIX + command, cpu, sum(p.rss for p in procs) / MIB,
                             len(procs), float("nan")))
        busy.sort(key=lambda row: -row[2])
        return rows + busy[:OTHER_TOP]

    async def start(self) -> None:
        return None  # the first sample sets the CPU baseline

    async def sample(self, t: float) -> None:
        roots = {role: list(get()) for role, get in self.roles.items()}
        rows = await asyncio.to_thread(self._measure, t, roots)
        self._rows.extend(rows)
        for _, role, cpu, rss, n, _wait in rows:
            if role.startswith(OTHER_PREFIX):
                continue
            self._latest[f"host.cpu.{role}"] = cpu
            self._latest[f"host.rss.{role}"] = rss
            self._latest[f"host.processes.{role}"] = float(n)

    async def stop(self) -> None:
        if self.pinner is not None:  # the harness process gets all its cores back
            self.pinner.reset()

    def frames(self) -> dict[str, pd.DataFrame]:
        if not self._rows:
            return {"host": empty_frame("host")}
        return {"host": coerce_frame("host", pd.DataFrame(self._rows, columns=list(COLUMNS)))}

    def latest(self) -> dict[str, float]:
        return dict(self._latest)
