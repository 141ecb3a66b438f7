"""What the per-request log costs Locust: RPS with and without it on the same endpoint.

One fast local server (a bare ASGI app under uvicorn answering ``{"instance": ...}``, so
the log parses a JSON body like it does against the real targets) and one Locust process
(FastHttpUser, no think time) driving it. Runs alternate, log on / log off, ``--repeats``
times each, in one invocation; Locust is CPU-bound, so the RPS difference is the log's
cost. On a shared machine RPS is noisy, so Locust's CPU time per request is measured too
(RPS of a CPU-bound Locust is its inverse). Other processes' load drifts during the runs and
moves Locust's CPU per request with it (by a third and more here), so the figure judged is
paired: each log-on run against the log-off run next to it (ABBA order), the median of those
ratios (``log_cost_percent_by_cpu_paired``). Prints JSON (goal: the log costs <= 10%).

    .venv/bin/python benchmarks/locust_log_overhead.py [--seconds 8] [--users 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from harness.load.outcome import classify
from harness.load.progress import LocustProgress
from harness.load.request_log import RequestLogWriter
from harness.load.runner import LocustResult, read_request_logs, run_locust
from harness.runtime.ports import free_port
from harness.runtime.process import ManagedProcess
from harness.scenario import LoadSpec, RequestSpec, Stage

APP = """
import json, os
BODY = json.dumps({"instance": str(os.getpid()), "id": 1}).encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
"""


def server_argv(app_dir: Path, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "benchapp:app", "--app-dir", str(app_dir),
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


class CpuMeter:
    """Locust's CPU seconds at each progress line: CPU per request, robust to a busy host."""

    def __init__(self) -> None:
        self.proc: psutil.Process | None = None
        self.points: list[tuple[int, float]] = []

    def started(self, pid: int) -> None:
        self.proc = psutil.Process(pid)

    def progress(self, p: LocustProgress) -> None:
        if self.proc is not None and p.users > 0:
            with contextlib.suppress(psutil.Error):
                times = self.proc.cpu_times()
                self.points.append((p.requests, times.user + times.system))

    def us_per_request(self) -> float:
        (r0, c0), (r1, c1) = self.points[1], self.points[-1]  # skip the spawn second
        return (c1 - c0) / max(r1 - r0, 1) * 1e6


async def one_run(spec: LoadSpec, host: str, out: Path, request_log: bool) -> dict[str, Any]:
    meter = CpuMeter()
    result: LocustResult = await run_locust(
        spec, host=host, out_dir=out, log_path=out / "locust.log", request_log=request_log,
        on_started=meter.started, on_progress=meter.progress,
    )  # fmt: skip
    seconds = result.load_end - result.load_start
    return {
        "request_log": request_log,
        "requests": result.totals.requests,
        "rps": round(result.totals.requests / seconds, 1),
        "locust_cpu_us_per_request": round(meter.us_per_request(), 2),
        "logged_rows": len(read_request_logs(out)),
    }


class _Response:
    """What the listener reads of a FastHttpUser response."""

    status_code = 200
    content = b'{"instance": "12345", "id": 1}'


def listener_cost_us(n: int = 200_000) -> float:
    """CPU µs per request of the log's work (classify + write), measured in this process."""
    with tempfile.TemporaryDirectory() as tmp:
        log = RequestLogWriter(Path(tmp))
        response = _Response()
        began = time.process_time()
        for i in range(n):
            status = getattr(response, "status_code", 0) or 0
            outcome = classify(status, response.content, None)
            log.write(1_795_000_000.0 + i, "read", 1.234567, status, outcome)
        log.close()
        return (time.process_time() - began) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    spec = LoadSpec(
        stages=(Stage(args.seconds, args.users, float(args.users)),),
        think_time_s=(0.0, 0.0),
        requests=(RequestSpec("read", "GET", "/read", 1.0),),
    )
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pgstampede-bench-") as tmp:
        work = Path(tmp)
        (work / "benchapp.py").write_text(APP)
        port = free_port()
        with ManagedProcess(
            name="server", argv=server_argv(work, port), log_path=work / "server.log",
            ready_url=f"http://127.0.0.1:{port}/health",
        ):  # fmt: skip
            for i in range(args.repeats):
                for request_log in (True, False) if i % 2 else (False, True):  # ABBA order
                    out = work / f"run-{i}-{'log' if request_log else 'nolog'}"
                    runs.append(
                        asyncio.run(one_run(spec, f"http://127.0.0.1:{port}", out, request_log))
                    )

    def median(key: str, log: bool) -> float:
        return float(statistics.median(r[key] for r in runs if r["request_log"] is log))

    with_log, without = median("rps", True), median("rps", False)
    cpu_with, cpu_without = (median("locust_cpu_us_per_request", b) for b in (True, False))
    pairs = [  # each log-on run against the log-off run next to it (same ambient load)
        (on, off)
        for a, b in zip(runs[::2], runs[1::2], strict=True)
        for on, off in [(a, b) if a["request_log"] else (b, a)]
    ]
    paired = [1 - on["rps"] / off["rps"] for on, off in pairs]
    paired_cpu = [1 - off["locust_cpu_us_per_request"] / on["locust_cpu_us_per_request"]
                  for on, off in pairs]
    listener_us = listener_cost_us()
    print(
        json.dumps(
            {
                "users": args.users,
                "seconds": args.seconds,
                "runs": runs,
                "median_rps_with_log": with_log,
                "median_rps_without_log": without,
                "log_cost_percent": round((1 - with_log / without) * 100, 1),
                "median_cpu_us_per_request_with_log": cpu_with,
                "median_cpu_us_per_request_without_log": cpu_without,
                "log_cost_percent_by_cpu": round((1 - cpu_without / cpu_with) * 100, 1),
                "log_cost_percent_paired_median": round(statistics.median(paired) * 100, 1),
                "log_cost_percent_by_cpu_paired": round(statistics.median(paired_cpu) * 100, 1),
                "listener_us_per_request": round(listener_us, 2),
                "log_cost_percent_by_listener": round(listener_us / cpu_without * 100, 1),
                "goal": "log_cost_percent_by_cpu_paired <= 10",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
