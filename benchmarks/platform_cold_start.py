"""Cold start to first response through the gateway: fork vs exec (p50/p95), plus the
platform's own cold-start durations and a fresh `python -c "import asyncpg; connect; SELECT 1"`
for reference. Prints JSON.

    .venv/bin/python benchmarks/platform_cold_start.py [--n 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

from platform_common import cluster, gateway, get, stats, summary

FRESH = (
    "import asyncio, asyncpg, sys\n"
    "async def m():\n c = await asyncpg.connect(sys.argv[1]); await c.fetchval('SELECT 1')\n"
    "asyncio.run(m())"
)


def measure(dsn: str, mode: str, path: str, n: int) -> dict[str, object]:
    with gateway(dsn, cold_start=mode, idle_timeout_s=0.0, reap="kill") as (host, port):
        latencies = []
        for _ in range(n):
            status, _, ms = asyncio.run(get(host, port, path))
            assert status == 200, status
            latencies.append(ms)
            time.sleep(0.15)  # let the idle instance be reaped: every request is a cold start
        doc = stats(host, port)
    durations = [e["duration_ms"] for e in doc["cold_start_events"]]
    return {
        "first_response_ms": summary(latencies),
        "platform_cold_start_ms": summary(durations),
        "cold_starts": doc["cold_starts"],
    }


def fresh_interpreter(dsn: str, n: int) -> dict[str, float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", FRESH, dsn], check=True)
        times.append((time.perf_counter() - start) * 1000.0)
    return summary(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    out: dict[str, object] = {}
    with cluster(100) as pg:
        for mode in ("fork", "exec"):
            for path in ("/health", "/read"):
                out[f"{mode} {path}"] = measure(pg.app_dsn, mode, path, args.n)
        out["fresh python import asyncpg+connect+SELECT 1"] = fresh_interpreter(pg.app_dsn, 10)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
