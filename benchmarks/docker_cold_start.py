"""Cold start of a container instance beside a forked instance, and new instances per second.

Needs a running engine and the images (`pgstampede images build`). Through the real gateway:
- cold start: N sequential requests, each to a fresh instance (idle_timeout 0, reap kill):
  time to first response and the platform's own cold-start duration, p50/p95;
- scale-out: C concurrent `/slow` requests at once (instance_concurrency 1, scale_rate not
  limiting): new instances per second = C / (last instance ready - first start).
Prints JSON.

    .venv/bin/python benchmarks/docker_cold_start.py [--n 20] [--concurrent 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

from platform_common import cluster, gateway, get, stats, summary

from harness.runtime.docker_engine import LABEL_RUN, remove_labelled
from harness.services.docker_targets import DockerRuntime


def knobs(kind: str, instance_image: str, run: str) -> dict[str, Any]:
    if kind == "fork":
        return {"cold_start": "fork"}
    return {"spawner": "docker", "instance_image": instance_image, "run_label": run}


def cold_start(dsn: str, extra: dict[str, Any], n: int) -> dict[str, object]:
    with gateway(dsn, idle_timeout_s=0.0, reap="kill", **extra) as (host, port):
        latencies = []
        for _ in range(n):
            status, _, ms = asyncio.run(get(host, port, "/health"))
            assert status == 200, status
            latencies.append(ms)
            time.sleep(0.3)  # the idle instance is reaped: every request is a cold start
        doc = stats(host, port)
    return {"first_response_ms": summary(latencies),
            "platform_cold_start_ms": summary([e["duration_ms"]
                                               for e in doc["cold_start_events"]])}


async def burst(host: str, port: int, n: int, hold_ms: int) -> list[int]:
    results = await asyncio.gather(*(get(host, port, f"/slow?ms={hold_ms}") for _ in range(n)))
    return [status for status, _, _ in results]


def scale_out(dsn: str, extra: dict[str, Any], n: int) -> dict[str, object]:
    with gateway(dsn, idle_timeout_s=60.0, scale_rate=10_000.0, **extra) as (host, port):
        statuses = asyncio.run(burst(host, port, n, 2000))
        doc = stats(host, port)
    events = doc["cold_start_events"]
    first = min(e["t"] for e in events)
    last = max(e["t"] + e["duration_ms"] / 1000.0 for e in events)
    return {"instances": len(events), "ok": statuses.count(200),
            "span_s": round(last - first, 2),
            "new_instances_per_s": round(len(events) / (last - first), 1),
            "cold_start_ms_under_burst": summary([e["duration_ms"] for e in events])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--concurrent", type=int, default=40)
    args = parser.parse_args()
    runtime = DockerRuntime()
    image = runtime.image_id("instance")
    run = f"bench-{uuid.uuid4().hex[:8]}"
    out: dict[str, object] = {"engine": runtime.engine}
    try:
        with cluster(args.concurrent + 20) as pg:
            for kind in ("fork", "docker"):
                extra = knobs(kind, image, run)
                out[f"{kind} cold start"] = cold_start(pg.app_dsn, extra, args.n)
                out[f"{kind} scale-out"] = scale_out(pg.app_dsn, extra, args.concurrent)
    finally:
        remove_labelled(runtime.client, {LABEL_RUN: run})  # the gateways removed theirs
        runtime.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
