"""Gateway overhead: wrk latency (p50/p99) and RPS through the gateway vs the same handler
served directly by uvicorn, in one run. One connection measures latency (one instance);
ten connections measure throughput (ten instances). Prints JSON.

    .venv/bin/python benchmarks/platform_gateway_overhead.py [--duration 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from platform_common import REPO, cluster, gateway

from harness.runtime.ports import free_port
from harness.runtime.process import ManagedProcess

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, connections: int, duration: int) -> dict[str, float]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    text = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    out = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", text)
        if m:
            out[f"p{pct}_ms"] = round(float(m.group(1)) * UNITS[m.group(2)], 3)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return out


def run_set(base: str, duration: int) -> dict[str, dict[str, float]]:
    out = {}
    for path in ("/health", "/read"):
        wrk(base + path, 10, 1)  # warm up: start the instances and their connections
        out[f"{path} c=1"] = wrk(base + path, 1, duration)
        out[f"{path} c=10"] = wrk(base + path, 10, duration)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    result: dict[str, object] = {}
    with cluster(100) as pg:
        port = free_port()
        env = {**os.environ, "PGSTAMPEDE_DSN": pg.app_dsn, "PYTHONPATH": str(REPO)}
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "platform_direct:app",
            "--app-dir",
            str(REPO / "benchmarks"),
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ]
        with ManagedProcess(
            name="direct",
            argv=argv,
            env=env,
            log_path=Path("/tmp/direct.log"),
            ready_url=f"http://127.0.0.1:{port}/health",
        ):
            direct = run_set(f"http://127.0.0.1:{port}", args.duration)
            result["direct (uvicorn, one process)"] = direct
        for freeze in (True, False):
            with gateway(pg.app_dsn, freeze=freeze, idle_timeout_s=600.0) as (host, gport):
                key = f"gateway freeze={freeze}"
                result[key] = run_set(f"http://{host}:{gport}", args.duration)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
