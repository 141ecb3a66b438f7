"""The whole machine: CPU used by every process and time tasks waited for a CPU.

Read by the host collector beside its per-role rows (role ``machine``), so that a run can
tell when the machine itself was full: its latencies then include queueing for a CPU, not
only the system under test's own work.

- CPU: ``/proc/stat``'s ``cpu`` line (busy = everything but idle and iowait; steal counts
  as busy: the CPU was not ours), as a percentage where 100 is one core.
- Run-queue wait: the kernel's CPU pressure (``/proc/pressure/cpu``, ``some``: the share
  of time at least one runnable task waited for a CPU, 0..100); where the kernel has no
  PSI, the run-queue wait of every CPU summed (``/proc/schedstat``'s ``run_delay``, 100 = one
  task waiting the whole time); NaN where neither exists.
- Memory: MemTotal - MemAvailable (``/proc/meminfo``), in MiB.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
MIB = 1 << 20


@dataclass(frozen=True)
class MachineReading:
    """Cumulative counters at one instant (``since_boot`` seconds, CLOCK_BOOTTIME)."""

    since_boot: float
    busy_ticks: int
    total_ticks: int
    cores: int
    wait_s: float | None  # cumulative time waited for a CPU (see the module doc)
    used_mib: float


@dataclass(frozen=True)
class MachineUse:
    """What the machine did between two readings."""

    cpu_percent: float  # 100 = one core
    wait_percent: float  # NaN when not known
    cores: int
    used_mib: float


def _cpu_ticks(text: str) -> tuple[int, int, int]:
    """(busy, total, cores) from ``/proc/stat``."""
    busy = total = cores = 0
    for line in text.splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:9]]  # guest time is inside user time
            total = sum(values)
            busy = total - values[3] - values[4]
        elif line.startswith("cpu"):
            cores += 1
    return busy, total, max(cores, 1)


def _pressure_s(proc: Path) -> float | None:
    try:
        first = (proc / "pressure" / "cpu").read_text().splitlines()[0]
        return int(first.split("total=")[1].split()[0]) / 1e6
    except (OSError, IndexError, ValueError):
        return None


def _schedstat_wait_s(proc: Path) -> float | None:
    try:
        lines = (proc / "schedstat").read_text().splitlines()
    except OSError:
        return None
    delays = [int(line.split()[8]) for line in lines
              if line.startswith("cpu") and len(line.split()) > 8]
    return sum(delays) / 1e9 if delays else None


def _used_mib(proc: Path) -> float:
    fields: dict[str, int] = {}
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            fields[key] = int(rest.split()[0]) * 1024
    except (OSError, IndexError, ValueError):
        return math.nan
    if "MemTotal" not in fields or "MemAvailable" not in fields:
        return math.nan
    return (fields["MemTotal"] - fields["MemAvailable"]) / MIB


def read_machine(since_boot: float, proc: Path = PROC) -> MachineReading | None:
    """The machine's counters now (None where there is no ``/proc/stat``)."""
    try:
        busy, total, cores = _cpu_ticks((proc / "stat").read_text())
    except OSError:
        return None
    wait = _pressure_s(proc)
    if wait is None:
        wait = _schedstat_wait_s(proc)
    return MachineReading(since_boot=since_boot, busy_ticks=busy, total_ticks=total,
                          cores=cores or os.cpu_count() or 1, wait_s=wait,
                          used_mib=_used_mib(proc))


def machine_use(prev: MachineReading, cur: MachineReading) -> MachineUse | None:
    """The machine's CPU use and run-queue wait between two readings (None: no time)."""
    ticks = cur.total_ticks - prev.total_ticks
    elapsed = cur.since_boot - prev.since_boot
    if ticks <= 0 or elapsed <= 0:
        return None
    cpu = (cur.busy_ticks - prev.busy_ticks) / ticks * cur.cores * 100.0
    wait = math.nan
    if cur.wait_s is not None and prev.wait_s is not None:
        wait = max(0.0, cur.wait_s - prev.wait_s) / elapsed * 100.0
    return MachineUse(cpu_percent=cpu, wait_percent=wait, cores=cur.cores,
                      used_mib=cur.used_mib)
