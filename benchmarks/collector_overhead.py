"""Collector overhead: CPU of the collecting process and of the monitor backend, and the
achieved sampling rate, at 10 Hz and 50 Hz. Prints JSON.

A private cluster (and a PgBouncer in front of it) is started, ``--idle`` idle app
connections are opened so ``pg_stat_activity`` is not empty, then for each rate the
collectors sample for ``--seconds``:

- ``pg_activity``: the pg_stat_activity collector alone;
- ``all``: pg_activity + pg_log + pgbouncer at the rate, host at its own 2 Hz.

CPU is measured as CPU seconds / wall seconds (100 = one core): ``harness_cpu_percent``
for this process (the asyncio collectors), ``backend_cpu_percent`` for the monitor's
PostgreSQL backend. Goal: pg_activity ≤ 1% of a core at 10 Hz.

    .venv/bin/python benchmarks/collector_overhead.py [--seconds 10] [--idle 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from harness.collect.base import Collector, Sampler
from harness.collect.host import HostCollector
from harness.collect.pg_activity import PgActivityCollector
from harness.collect.pg_log import PgLogCollector
from harness.collect.pgbouncer import PgBouncerCollector
from harness.runtime.process import PgBouncer, PostgresCluster


def cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


async def measure(
    collectors: list[Collector], monitor: PgActivityCollector, rate_hz: float, seconds: float
) -> dict[str, Any]:
    me = psutil.Process()
    async with Sampler(collectors, interval_s=1.0 / rate_hz) as sampler:
        await asyncio.sleep(0.5)  # connections open, first samples taken
        conn = monitor._conn  # noqa: SLF001 - the benchmark looks at the backend's pid
        backend = psutil.Process(conn.get_server_pid()) if conn is not None else None
        samples0 = sampler.health()[monitor.name].samples
        me0, be0, t0 = cpu_s(me), cpu_s(backend) if backend else 0.0, time.monotonic()
        await asyncio.sleep(seconds)
        me1, be1, t1 = cpu_s(me), cpu_s(backend) if backend else 0.0, time.monotonic()
        samples1 = sampler.health()[monitor.name].samples
        health = sampler.health()
    wall = t1 - t0
    return {
        "rate_hz": rate_hz,
        "achieved_hz": round((samples1 - samples0) / wall, 2),
        "harness_cpu_percent": round((me1 - me0) / wall * 100, 3),
        "backend_cpu_percent": round((be1 - be0) / wall * 100, 3),
        "failures": sum(h.failures for h in health.values()),
        "gaps": sum(h.gaps for h in health.values()),
    }


async def idle_baseline(seconds: float) -> float:
    me = psutil.Process()
    c0, t0 = cpu_s(me), time.monotonic()
    await asyncio.sleep(seconds)
    return round((cpu_s(me) - c0) / (time.monotonic() - t0) * 100, 3)


async def run(pg: PostgresCluster, pb: PgBouncer, seconds: float, idle: int) -> dict[str, Any]:
    held = [await asyncpg.connect(pg.app_dsn) for _ in range(idle)]
    try:
        out: dict[str, Any] = {"idle_process_cpu_percent": await idle_baseline(2.0)}
        for rate in (10.0, 50.0):
            alone = PgActivityCollector(pg.monitor_dsn)
            out[f"pg_activity@{rate:g}Hz"] = await measure([alone], alone, rate, seconds)
            act = PgActivityCollector(pg.monitor_dsn)
            full: list[Collector] = [
                act,
                PgLogCollector(pg.log_path),
                PgBouncerCollector(pb.admin_dsn),
                HostCollector(
                    {"postgres": lambda: [pg.postmaster_pid], "pgbouncer": lambda: [pb.pid]},
                    interval_s=0.5,
                ),
            ]
            out[f"all@{rate:g}Hz"] = await measure(full, act, rate, seconds)
        return out
    finally:
        for conn in held:
            await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--idle", type=int, default=50, help="idle app connections to hold")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pgstampede-bench-") as tmp:
        work = Path(tmp)
        with (
            PostgresCluster(workdir=work, max_connections=100, log_path=work / "pg.log") as pg,
            PgBouncer(workdir=work, upstream_port=pg.port, log_path=work / "pgb.log") as pb,
        ):
            result = asyncio.run(run(pg, pb, args.seconds, args.idle))
    result["cores"] = os.cpu_count()
    result["goal"] = "pg_activity@10Hz harness_cpu_percent <= 1.0"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
