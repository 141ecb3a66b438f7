"""How long a process waited for a CPU: its run-queue wait, from the kernel's schedstat.

A process held back by others on its core uses little CPU but waits: the saturation rule
(``harness.results.saturation``) counts that wait as busy time. Read by the host collector
(``harness.collect.host``) for a local Locust and by ``pgstampede worker`` for its own.
"""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def run_queue_wait_s(pid: int, proc: Path = PROC) -> float | None:
    """Seconds ``pid``'s threads have waited on a run queue (runnable, not running), from
    ``/proc/<pid>/task/*/schedstat``; None where the kernel does not say."""
    total, seen = 0.0, False
    for stat in (proc / str(pid) / "task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1]) / 1e9
            seen = True
        except (OSError, IndexError, ValueError):
            continue
    return total if seen else None
