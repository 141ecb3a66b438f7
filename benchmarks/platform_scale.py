"""Scale-out: sustained new instances per second, the most concurrent instances held, and
memory per frozen instance (PSS). N concurrent /slow requests each get their own instance
(instance_concurrency 1, scale_rate high enough not to limit), PostgreSQL's max_connections
raised to match. Prints JSON, then where the time went (scale_breakdown.py): CPU and
run-queue wait per process role during the burst, and one instance's steps measured apart.

``new_instances_per_s`` is end to end: N over the time from the first request sent to the
last instance's database connection opened (each instance runs its init, then opens its own
connection for the request that started it; its ``backend_start`` is read from
pg_stat_activity, every instance holding its connection while frozen).
``ready_instances_per_s``: up to the last instance ready (init done, before its connect).

With ``--profile`` (needs perf, root) the burst is also profiled with ``perf record -a -g``
(scale_profile.py): CPU per new instance by role and kind of work (pages copied on write,
fork, the process's own code, ...).

    .venv/bin/python benchmarks/platform_scale.py [--instances 1000] [--hold-ms 20000] \
        [--profile] [--ssl-prefer]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import time

import psutil
import psycopg
from platform_common import cluster, gateway, get, stats, summary
from scale_breakdown import breakdown, instance_steps, members, role_times, step_lines
from scale_profile import FREQUENCY_HZ, read, recording

from harness.apphost.wire import read_frame
from harness.platform.config import PlatformConfig
from harness.platform.launch import BUILTIN_PRELOAD, BUILTIN_RUNTIME, builtin_launch
from harness.platform.spawner import TemplateSpawner
from harness.services.target import SSL_OF_OUR_SERVERS


async def load(host: str, port: int, n: int, hold_ms: int) -> list[int]:
    sem = asyncio.Semaphore(n)

    async def one() -> int:
        async with sem:
            status, _, _ = await get(host, port, f"/slow?ms={hold_ms}")
            return status

    return await asyncio.gather(*(one() for _ in range(n)))


def pss_mb(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            out.append(psutil.Process(pid).memory_full_info().pss / 2**20)
    return out


def connected_at(monitor_dsn: str) -> list[float]:
    """Epoch seconds at which each of the app's connections was opened."""
    with psycopg.connect(monitor_dsn) as conn:
        rows = conn.execute("SELECT extract(epoch FROM backend_start)::float8 "
                            "FROM pg_stat_activity WHERE usename = 'app'").fetchall()
    return sorted(float(r[0]) for r in rows)


def instance_pids(host: str, port: int) -> list[int]:
    doc = asyncio.run(get(host, port, "/__platform/instances"))[1]
    return [int(i["pid"]) for i in json.loads(doc)]


async def spawn_only(n: int) -> float:
    """New instances per second of the template alone (no gateway, no database connect)."""
    config = PlatformConfig(dsn="postgresql://unused@127.0.0.1:1/x")
    spawner = TemplateSpawner(builtin_launch(config), "fork")
    await spawner.start(60.0)
    writers: list[tuple[int, asyncio.StreamWriter]] = []

    async def one(i: int) -> None:
        pid, sock = await spawner.spawn(f"b{i}")
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        writers.append((pid, writer))
        await read_frame(reader)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - began)
    finally:
        for pid, writer in writers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            writer.close()
        spawner.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--hold-ms", type=int, default=20000)
    parser.add_argument("--profile", action="store_true",
                        help="also profile the burst with perf record -a -g (needs perf and "
                             "root) and print CPU per new instance by role and kind of work")
    parser.add_argument("--ssl-prefer", action="store_true",
                        help="asyncpg's default TLS attempt before each connection (the "
                             "harness disables it: its servers have no TLS)")
    args = parser.parse_args()
    if args.profile and shutil.which("perf") is None:
        parser.error("--profile needs perf (Debian: apt-get install linux-perf)")
    n = args.instances
    config = PlatformConfig()
    with cluster(n + 20) as pg:
        with gateway(
            pg.app_dsn,
            ssl="" if args.ssl_prefer else SSL_OF_OUR_SERVERS,
            max_instances=n,
            scale_rate=10_000.0,
            idle_timeout_s=600.0,
            request_timeout_s=600.0,
        ) as (h, p):
            times_before = role_times()
            with recording() if args.profile else contextlib.nullcontext() as perf_data:
                began = time.time()
                statuses = asyncio.run(load(h, p, n, args.hold_ms))
                elapsed = time.time() - began
            cpu = breakdown(times_before, role_times(), n)
            roles = {pid: role for role, pids in members().items() for pid in pids}
            connected = connected_at(pg.monitor_dsn)
            doc = stats(h, p)
            pids = instance_pids(h, p)
            frozen_pss = pss_mb(pids[:100])
        steps = instance_steps(pg.app_dsn, config.handler, BUILTIN_PRELOAD, BUILTIN_RUNTIME)
    template_rate = asyncio.run(spawn_only(min(n, 300)))
    events = doc["cold_start_events"]
    ready = sorted(e["t"] + e["duration_ms"] / 1000.0 for e in events)
    first_start = min(e["t"] for e in events)
    print(
        json.dumps(
            {
                "instances_requested": n,
                "ok_responses": statuses.count(200),
                "statuses": {str(k): statuses.count(k) for k in sorted(set(statuses))},
                "cold_starts": doc["cold_starts"],
                "instances_held_at_end": doc["instances"],
                "frozen_at_end": doc["frozen"],
                "template_only_new_instances_per_s": round(template_rate, 1),
                "new_instances_per_s": round(len(connected) / max(1e-9, connected[-1] - began),
                                             1),
                "seconds_to_connect_all": round(connected[-1] - began, 2),
                "connections_opened": len(connected),
                "ready_instances_per_s": round(len(ready) / max(1e-9, ready[-1] - first_start),
                                               1),
                "seconds_to_start_all": round(ready[-1] - first_start, 2),
                "cpu_ms_per_new_instance": cpu.cpu_ms,
                "run_queue_wait_ms_per_new_instance": cpu.wait_ms,
                "instance_steps": {k: {"cpu_ms": round(v[0], 2), "page_faults": round(v[1])}
                                   for k, v in steps.items()},
                "cold_start_ms_under_load": summary([e["duration_ms"] for e in events]),
                "frozen_instance_pss_mb": summary(frozen_pss),
                "wall_s": round(elapsed, 1),
            },
            indent=2,
        )
    )
    print("where the time of a new instance goes during the burst, per process role:")
    print("\n".join(cpu.lines()))
    print("one instance, step by step (forked as the template forks, measured apart, medians):")
    print("\n".join(step_lines(steps)))
    if perf_data is not None:
        print(f"profile of the burst (perf record -a -g at {FREQUENCY_HZ} Hz), by role and "
              "kind of work:")
        print("\n".join(read(perf_data, roles).lines(n)))


if __name__ == "__main__":
    main()
