"""Fault injection during a variant run: restart the database or the pooler, kill
instances, freeze the target, terminate every backend — at a time in the load.

The orchestrator hands a :class:`FaultTargets` (what is running) to :func:`inject`, which
sleeps until each fault's time, performs it (blocking steps in a thread so collectors keep
sampling) and records when it started and ended. Analysis turns the records into errors
during the fault, time to recover and whether the targets reconnected.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import psycopg

from harness.results.records import FaultEvent
from harness.runtime.stopping import signal_group
from harness.scenario import FaultSpec

TERMINATE_SQL = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename <> current_user
"""


@dataclass
class FaultTargets:
    """What a fault can act on in this variant run (None: not running here)."""

    monitor_dsn: str
    postgres: object | None = None  # anything with restart(downtime_s)
    pgbouncer: object | None = None
    target_pids: Callable[[], list[int]] | None = None
    instance_pids: Callable[[], list[int]] | None = None
    rng: random.Random = field(default_factory=random.Random)


def _restart(service: object | None, name: str, downtime_s: float) -> str:
    restart: Callable[[float], None] | None = getattr(service, "restart", None)
    if restart is None:
        raise RuntimeError(f"{name} cannot be restarted in this runtime")
    restart(downtime_s)
    return f"{name} restarted after {downtime_s:g}s down"


def _kill_instances(targets: FaultTargets, count: int) -> str:
    pids = targets.instance_pids() if targets.instance_pids else []
    chosen = targets.rng.sample(pids, min(count, len(pids)))
    for pid in chosen:
        signal_group(pid, signal.SIGKILL)
    return f"killed {len(chosen)} of {len(pids)} instances"


def _freeze(targets: FaultTargets, duration_s: float) -> str:
    pids = targets.target_pids() if targets.target_pids else []
    if not pids:
        raise RuntimeError("no target process to freeze")
    pgid = os.getpgid(pids[0])
    signal_group(pgid, signal.SIGSTOP)
    try:
        time.sleep(duration_s)
    finally:
        signal_group(pgid, signal.SIGCONT)
    return f"target frozen for {duration_s:g}s"


def _terminate(targets: FaultTargets) -> str:
    with psycopg.connect(targets.monitor_dsn, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(TERMINATE_SQL).fetchone()
    return f"terminated {row[0] if row else 0} backends"


def perform(fault: FaultSpec, targets: FaultTargets) -> str:
    """Do ``fault`` now (blocking); returns what was done."""
    if fault.kind == "restart_postgres":
        return _restart(targets.postgres, "postgres", fault.duration_s)
    if fault.kind == "restart_pgbouncer":
        return _restart(targets.pgbouncer, "pgbouncer", fault.duration_s)
    if fault.kind == "kill_instances":
        return _kill_instances(targets, fault.count)
    if fault.kind == "freeze_target":
        return _freeze(targets, fault.duration_s)
    if fault.kind == "terminate_backends":
        return _terminate(targets)
    raise ValueError(f"unknown fault kind {fault.kind!r}")


async def inject(faults: Sequence[FaultSpec], targets: FaultTargets, load_start: float,
                 record: Callable[[FaultEvent], None]) -> None:
    """Perform every fault at ``load_start + at``; each outcome goes to ``record``."""
    for fault in sorted(faults, key=lambda f: f.at_s):
        await asyncio.sleep(max(0.0, load_start + fault.at_s - time.time()))
        start = time.time()
        detail, ok = "fault did not complete (the run was stopped during it)", False
        step = asyncio.ensure_future(asyncio.to_thread(perform, fault, targets))
        try:
            detail, ok = await asyncio.shield(step), True
        except asyncio.CancelledError:
            # A blocking step cannot be interrupted: let it finish, so that a restart never
            # brings a service back after teardown.
            await asyncio.wait([step])
            raise
        except (OSError, RuntimeError, psycopg.Error) as exc:
            detail = f"fault failed: {exc}"
        finally:
            record(FaultEvent(kind=fault.kind, at_s=fault.at_s, duration_s=fault.duration_s,
                              count=fault.count, start=start, end=time.time(), detail=detail,
                              ok=ok))
