"""The persistent target's RPS on /read: wrk against Locust (FastHttpUser) on the same target.

Prints JSON. Reference on this machine kind (FACTS.md): a uvicorn + asyncpg SELECT 1 app
≈ 4k RPS under wrk; Locust FastHttpUser ≈ 10k RPS per core, and its latencies are inflated
when it is CPU-bound. Usage: python benchmarks/target_throughput.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.load.runner import read_request_logs, run_locust
from harness.runtime.postgres import PostgresCluster
from harness.scenario import load_scenario
from harness.services.persistent import persistent_target
from harness.services.target import TargetContext

SCENARIO = """
name = "bench"
[database]
max_connections = 100
[load]
endpoints = {{ read = 1.0 }}
stages = [{{ duration = "{seconds}s", users = {users}, spawn_rate = 1000 }}]
[target.persistent]
pool_min = 10
pool_max = 10
[[variants]]
name = "persistent"
"""


def wrk(url: str, seconds: int, connections: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        return {"error": "wrk not found (apt-get install wrk)"}
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=False).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)

    def ms(m: re.Match[str] | None) -> float | None:
        if m is None:
            return None
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    return {"rps": float(rps.group(1)) if rps else None, "p50_ms": ms(p50), "p99_ms": ms(p99)}


async def locust(url: str, load: Any, work: Path) -> dict[str, Any]:
    result = await run_locust(load, host=url, out_dir=work / "locust", log_path=work / "l.log")
    requests = read_request_logs(work / "locust")
    window = max(result.load_end - result.load_start, 1e-9)
    lat = requests["latency_ms"]
    return {"rps": round(len(requests) / window, 1), "p50_ms": round(float(lat.quantile(0.5)), 3),
            "p99_ms": round(float(lat.quantile(0.99)), 3),
            "failures": int((requests["kind"] != "").sum())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pgstampede-bench-"))
    text = SCENARIO.format(seconds=args.seconds, users=args.users)
    path = work / "bench.toml"
    path.write_text(text)
    scenario = load_scenario(path)
    variant = scenario.variants[0]
    with PostgresCluster(max_connections=100, log_path=work / "pg.log",
                         settings={"log_connections": "off", "log_disconnections": "off"}) as pg:
        ctx = TargetContext(variant=variant, dsn=pg.app_dsn, logs=work, workdir=work)
        with persistent_target(ctx) as target:
            url = f"{target.url}/read"
            results = {
                "wrk_c50": wrk(url, args.seconds, args.users),
                "locust_fasthttp": asyncio.run(locust(target.url, scenario.load, work)),
            }
    shutil.rmtree(work, ignore_errors=True)
    json.dump({"benchmark": "persistent target /read", "seconds": args.seconds, **results},
              sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
