"""Node.js cold starts: each program started bare (spawn to listening, no emulator) and as a
serverless instance of the emulator, as a ratio measured in the same run; beside the Python
fork cold start; and new Node instances per second, end to end. Prints JSON.

Programs: a plain ``node:http`` server (written to a temp folder), the Express example
(``node server.js``) and the Next.js example (``next start``, built once). The examples are
installed with ``npm ci`` into a cached copy (tests/nodehost.py, ``npm_app``).

Bare, two figures per start: ``listening_ms`` (spawn until the port accepts a connection,
polled every millisecond) and ``ready_ms`` (spawn until the ready request answers, the
criterion the emulator's cold start ends on). The ratio divides the emulator's cold start
p50 by the bare ``ready_ms`` p50 (goal: at most 1.2; with ``--n 3``, bench.py's --quick, the
ratio swings from 0.9 to 1.8 on a busy machine, so it is not judged there).

Scale-out: ``--burst`` concurrent requests to the plain server, one instance each
(``instance_concurrency`` 1, each request held 1 s so that no instance serves two): new
instances per second from the first request sent to the last instance ready (the last answer
less the hold). The Python fork cold start (the built-in handler's template) is measured
as the emulator's Node cold starts are: the platform's own cold-start durations, each start
with its idle instance reaped first.

    .venv/bin/python benchmarks/node_cold_start.py [--n 10] [--burst 40] [--skip-next]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from platform_common import cluster, gateway, get, stats, summary

from harness.runtime.ports import free_port

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.nodehost import built_next_app, node_binary, npm_app  # noqa: E402

PLAIN = """\
const http = require("node:http");
http.createServer((req, res) => {
  const hold = Number(new URL(req.url, "http://x").searchParams.get("hold") || 0);
  setTimeout(() => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ ok: true, pid: process.pid }));
  }, hold);
}).listen(Number(process.env.PORT), "127.0.0.1");
"""
HOLD_MS = 1000  # scale-out: each request keeps its instance busy, so each gets its own
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Program:
    name: str
    argv: tuple[str, ...]
    cwd: Path
    ready_path: str
    env: tuple[tuple[str, str], ...] = ()


def programs(skip_next: bool) -> Iterator[Program]:
    node = node_binary()
    plain = Path(tempfile.mkdtemp(prefix="pgstampede-node-bench-"))
    (plain / "server.js").write_text(PLAIN)
    yield Program("plain node:http", (node, "server.js"), plain, "/")
    express = npm_app(REPO / "examples" / "express-pg")
    yield Program("express-pg", (node, "server.js"), express, "/health",
                  (("DATABASE_URL", "postgresql://app@127.0.0.1:1/app"),))
    if not skip_next:
        nextjs = built_next_app(REPO / "examples" / "nextjs-postgres")
        yield Program("nextjs-postgres (next start)",
                      (node, "node_modules/next/dist/bin/next", "start", "-H", "127.0.0.1"),
                      nextjs, "/api/health",
                      (("DATABASE_URL", "postgresql://app@127.0.0.1:1/app"),
                       ("NEXT_TELEMETRY_DISABLED", "1")))


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            return False
    return True


def answers(port: int, path: str) -> bool:
    """True once GET path answers with a status below 500."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                         .encode())
            head = sock.recv(64)
    except OSError:
        return False
    parts = head.split(b" ", 2)
    return len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < 500


def bare_start(program: Program) -> tuple[float, float]:
    """(spawn to listening, spawn to the ready request answered), in ms."""
    port = free_port()
    env = {**os.environ, **dict(program.env), "PORT": str(port)}
    began = time.perf_counter()
    process = subprocess.Popen(list(program.argv), cwd=program.cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = began + START_TIMEOUT_S
        while not accepts(port):
            if process.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"{program.name} did not listen (exit {process.poll()})")
            time.sleep(0.001)
        listening = time.perf_counter()
        while not answers(port, program.ready_path):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{program.name} did not answer {program.ready_path}")
            time.sleep(0.001)
        ready = time.perf_counter()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return (listening - began) * 1000.0, (ready - began) * 1000.0


def bare(program: Program, n: int) -> dict[str, object]:
    bare_start(program)  # warm the page cache: every measured start reads the same files
    starts = [bare_start(program) for _ in range(n)]
    return {"listening_ms": summary([s[0] for s in starts]),
            "ready_ms": summary([s[1] for s in starts])}


def emulated(program: Program, dsn: str, n: int) -> dict[str, object]:
    """The program as serverless instances of the emulator (a command app): each request a
    cold start (the idle instance reaped at once); the platform's cold-start durations and the
    first responses through the gateway."""
    knobs = {"app_kind": "command", "app_command": program.argv, "app_root": str(program.cwd),
             "app_ready": f"GET {program.ready_path}", "app_env": dict(program.env),
             "idle_timeout_s": 0.0, "reap": "kill", "startup_timeout_s": START_TIMEOUT_S}
    with gateway(dsn, **knobs) as (host, port):
        latencies = []
        for _ in range(n + 1):
            status, _, ms = asyncio.run(get(host, port, program.ready_path))
            assert status < 500, status
            latencies.append(ms)
            wait_reaped(host, port)
        doc = stats(host, port)
    durations = [e["duration_ms"] for e in doc["cold_start_events"]][1:]  # the first warms
    return {"cold_start_ms": summary(durations), "first_response_ms": summary(latencies[1:])}


def wait_reaped(host: str, port: int, timeout_s: float = 30.0) -> None:
    """Until the gateway has no live instance (reaped once idle)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _, body, _ = asyncio.run(get(host, port, "/__platform/instances"))
        if not json.loads(body):
            return
        time.sleep(0.02)
    raise RuntimeError("the idle instance was not reaped")


def scale_out(program: Program, dsn: str, burst: int) -> dict[str, float]:
    """``burst`` concurrent requests, one instance each (Lambda-style)."""
    knobs = {"app_kind": "command", "app_command": program.argv, "app_root": str(program.cwd),
             "app_ready": f"GET {program.ready_path}", "app_env": dict(program.env),
             "instance_concurrency": 1, "scale_rate": 10000.0, "idle_timeout_s": 60.0,
             "max_instances": burst, "startup_timeout_s": START_TIMEOUT_S}
    with gateway(dsn, **knobs) as (host, port):

        async def burst_of_requests() -> list[int]:
            answers = await asyncio.gather(*(get(host, port, f"/?hold={HOLD_MS}")
                                             for _ in range(burst)))
            return [status for status, _, _ in answers]

        began = time.perf_counter()
        statuses = asyncio.run(burst_of_requests())
        took = time.perf_counter() - began - HOLD_MS / 1000  # to the last instance ready
        doc = stats(host, port)
    return {"requests": burst, "ok": sum(s < 500 for s in statuses),
            "cold_starts": doc["cold_starts"], "seconds": round(took, 3),
            "new_instances_per_s": round(doc["cold_starts"] / took, 1)}


def fork_cold_start(dsn: str, n: int) -> dict[str, float]:
    """The Python fork cold start of the built-in handler, measured the same way."""
    with gateway(dsn, cold_start="fork", idle_timeout_s=0.0, reap="kill") as (host, port):
        for _ in range(n + 1):
            status, _, _ = asyncio.run(get(host, port, "/health"))
            assert status == 200, status
            wait_reaped(host, port)
        doc = stats(host, port)
    return summary([e["duration_ms"] for e in doc["cold_start_events"]][1:])


def ratio(emulator: dict[str, object], bare_figures: dict[str, object]) -> float | None:
    cold = emulator["cold_start_ms"]
    ready = bare_figures["ready_ms"]
    if not isinstance(cold, dict) or not isinstance(ready, dict) or not ready.get("p50"):
        return None
    return round(float(cold["p50"]) / float(ready["p50"]), 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10, help="starts per program and way")
    parser.add_argument("--burst", type=int, default=40, help="instances started at once")
    parser.add_argument("--skip-next", action="store_true", help="leave the Next.js example out")
    args = parser.parse_args()
    out: dict[str, object] = {"node": subprocess.run([node_binary(), "--version"],
                                                     capture_output=True, text=True,
                                                     check=True).stdout.strip()}
    with cluster(max(100, args.burst + 10)) as pg:
        plain: Program | None = None
        for program in programs(args.skip_next):
            plain = plain or program
            figures: dict[str, object] = {"bare": bare(program, args.n),
                                          "emulator": emulated(program, pg.app_dsn, args.n)}
            figures["ratio_p50"] = ratio(figures["emulator"], figures["bare"])  # type: ignore[arg-type]
            out[program.name] = figures
        out["python fork cold_start_ms"] = fork_cold_start(pg.app_dsn, args.n)
        assert plain is not None
        out["scale_out plain node:http"] = scale_out(plain, pg.app_dsn, args.burst)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
