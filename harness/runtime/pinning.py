"""Core pinning: the load generator and the collectors on one set of cores, the system under
test on the others (``sched_setaffinity`` by PID, Linux).

On a small machine the harness shares the CPUs with what it measures: Locust waiting behind
PostgreSQL's backends inflates latencies, instances waiting behind Locust inflate cold
starts. Pinning gives each side its own cores, at the price of fewer cores for each.

Roles (the host collector's): ``LOAD_ROLES`` (Locust, the harness process with its
collectors) go to the load cores; every other role (postgres, pgbouncer, pgpool, target,
gateway with its template and instances) to the system-under-test cores. A process placed
once keeps its affinity; its children inherit it (a postgres backend, a forked instance), so
each sample only places processes not seen before.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

LOAD_ROLES = frozenset({"locust", "harness"})


@dataclass(frozen=True)
class CoreSplit:
    """Which cores each side gets."""

    load: frozenset[int]
    sut: frozenset[int]

    def cores_for(self, role: str) -> frozenset[int]:
        return self.load if role in LOAD_ROLES else self.sut

    def describe(self) -> dict[str, list[int]]:
        """For the manifest: ``{"load": [...], "sut": [...]}``."""
        return {"load": sorted(self.load), "sut": sorted(self.sut)}


def split_cores(cores: Iterable[int], load_cores: int = 0) -> CoreSplit | None:
    """The first ``load_cores`` cores (default: a quarter, at least one) for the load, the
    rest for the system under test; None with fewer than two cores (nothing to split)."""
    ordered = sorted(set(cores))
    if len(ordered) < 2:
        return None
    n = load_cores or max(1, len(ordered) // 4)
    n = min(max(n, 1), len(ordered) - 1)
    return CoreSplit(load=frozenset(ordered[:n]), sut=frozenset(ordered[n:]))


def available_cores() -> set[int]:
    """The cores this process may run on."""
    return set(os.sched_getaffinity(0))


def threads(pid: int) -> list[int]:
    """The thread ids of ``pid`` (affinity is per thread)."""
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return [pid]


class Pinner:
    """Places processes on their side's cores, each once."""

    def __init__(self, split: CoreSplit) -> None:
        self.split = split
        self.placed: set[int] = set()
        self.failures = 0

    def place(self, role: str, pids: Iterable[int]) -> None:
        cores = self.split.cores_for(role)
        for pid in pids:
            if pid in self.placed:
                continue
            self.placed.add(pid)
            for tid in threads(pid):
                try:
                    os.sched_setaffinity(tid, cores)
                except ProcessLookupError:
                    continue
                except OSError:
                    self.failures += 1

    def reset(self) -> None:
        """Give every placed process (still alive) all cores again."""
        every = self.split.load | self.split.sut
        for pid in self.placed:
            for tid in threads(pid):
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(tid, every)
        self.placed.clear()
