"""Shared bits of the platform benchmarks: a cluster, a gateway, a tiny async HTTP client."""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.platform.config import PlatformConfig
from harness.runtime.ports import free_port
from harness.runtime.process import ManagedProcess, PostgresCluster

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def cluster(max_connections: int) -> Iterator[PostgresCluster]:
    tmp = Path(tempfile.mkdtemp(prefix="pgstampede-bench-"))
    try:
        with PostgresCluster(
            workdir=tmp,
            max_connections=max_connections,
            log_path=tmp / "postgres.log",
            settings={"log_connections": "off", "log_disconnections": "off"},
        ) as pg:
            yield pg
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def gateway(dsn: str, **knobs: Any) -> Iterator[tuple[str, int]]:
    tmp = Path(tempfile.mkdtemp(prefix="pgstampede-gw-"))
    config = PlatformConfig(dsn=dsn, **knobs)
    (tmp / "platform.json").write_text(config.to_json())
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "harness.platform.gateway",
        "--config",
        str(tmp / "platform.json"),
        "--port",
        str(port),
        "--workdir",
        str(tmp / "gw"),
    ]
    try:
        with ManagedProcess(
            name="gateway",
            argv=argv,
            log_path=tmp / "gateway.log",
            cwd=REPO,
            ready_url=f"http://127.0.0.1:{port}/__platform/health",
            ready_timeout_s=60.0,
        ):
            yield "127.0.0.1", port
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def get(host: str, port: int, path: str, method: str = "GET") -> tuple[int, bytes, float]:
    """One request on a new connection: (status, body, latency in ms)."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(
            int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length")
        )
        body = await reader.readexactly(length)
    finally:
        writer.close()
    return status, body, (time.perf_counter() - start) * 1000.0


def stats(host: str, port: int) -> dict[str, Any]:
    status, body, _ = asyncio.run(get(host, port, "/__platform/stats"))
    doc: dict[str, Any] = json.loads(body)
    return doc


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(values),
        "p50": round(statistics.median(ordered), 2),
        "p95": round(pick(0.95), 2),
        "p99": round(pick(0.99), 2),
        "max": round(ordered[-1], 2),
    }
