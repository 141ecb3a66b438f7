"""Node.js cold starts: each program started bare (spawn to listening, no emulator) and as a
serverless instance of the emulator, as a ratio measured in the same run; beside the Python
fork cold start; and new Node instances per second, end to end. Prints JSON.

Programs: a plain ``node:http`` server (written to a temp folder), the Express example
(``node server.js``) and the Next.js example (``next start``, built once). The examples are
installed with ``npm ci`` into a cached copy (tests/nodehost.py, ``npm_app``).

Bare, two figures per start: ``listening_ms`` (spawn until the port accepts a connection,
polled every millisecond) and ``ready_ms`` (spawn until the ready request answers, the
criterion the emulator's cold start ends on). The ratio divides the emulator's cold start
p50 by the bare ``ready_ms`` p50 (goal: at most 1.2).

    .venv/bin/python benchmarks/node_cold_start.py [--n 10] [--burst 40] [--skip-next]
"""

from __future__ import annotations

import argparse
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

from platform_common import summary

from harness.runtime.ports import free_port

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.nodehost import built_next_app, node_binary, npm_app  # noqa: E402

PLAIN = """\
const http = require("node:http");
http.createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ ok: true, pid: process.pid }));
}).listen(Number(process.env.PORT), "127.0.0.1");
"""
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10, help="starts per program and way")
    parser.add_argument("--skip-next", action="store_true", help="leave the Next.js example out")
    args = parser.parse_args()
    out: dict[str, object] = {"node": subprocess.run([node_binary(), "--version"],
                                                     capture_output=True, text=True,
                                                     check=True).stdout.strip()}
    for program in programs(args.skip_next):
        out[program.name] = {"bare": bare(program, args.n)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
