"""PlatformCollector against a real gateway (and PostgreSQL)."""

from __future__ import annotations

import asyncio
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from harness.collect.platform import COLD_START_COLUMNS, PLATFORM_COLUMNS, PlatformCollector
from harness.platform.config import PlatformConfig
from harness.runtime.ports import free_port
from harness.runtime.process import ManagedProcess, PostgresCluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return int(resp.status)


async def drive(url: str, collector: PlatformCollector) -> None:
    await collector.start()
    await collector.sample(time.time())
    loop = asyncio.get_running_loop()
    # three concurrent requests: three cold starts; then a warm one
    statuses = await asyncio.gather(
        *(loop.run_in_executor(None, get, f"{url}/slow?ms=500") for _ in range(3))
    )
    assert statuses == [200, 200, 200]
    for _ in range(3):
        await collector.sample(time.time())
    assert await loop.run_in_executor(None, get, f"{url}/read") == 200
    await collector.sample(time.time())
    await collector.stop()


def test_collector_records_counts_and_each_cold_start_once(tmp_path: Path) -> None:
    with PostgresCluster(workdir=tmp_path, max_connections=20,
                         log_path=tmp_path / "postgres.log") as pg:
        config = PlatformConfig(dsn=pg.app_dsn, idle_timeout_s=60.0)
        (tmp_path / "platform.json").write_text(config.to_json())
        port = free_port()
        argv = [sys.executable, "-m", "harness.platform.gateway", "--config",
                str(tmp_path / "platform.json"), "--port", str(port), "--workdir",
                str(tmp_path / "gw")]
        url = f"http://127.0.0.1:{port}"
        with ManagedProcess(name="gateway", argv=argv, log_path=tmp_path / "gateway.log",
                            cwd=REPO, ready_url=f"{url}/__platform/health"):
            collector = PlatformCollector(f"{url}/__platform/stats")
            asyncio.run(drive(url, collector))
    frames = collector.frames()
    platform, cold = frames["platform"], frames["cold_starts"]
    assert list(platform.columns) == ["t", *PLATFORM_COLUMNS]
    assert list(cold.columns) == list(COLD_START_COLUMNS)
    assert str(platform["frozen"].dtype) == "int64" and str(cold["t"].dtype) == "float64"
    assert len(platform) == 6  # five samples + the last one taken by stop()
    assert platform["cold_starts"].iloc[0] == 0 and platform["cold_starts"].iloc[-1] == 3
    assert platform["frozen"].iloc[-1] == 3 and platform["busy"].iloc[-1] == 0
    assert len(cold) == 3 and cold["instance"].is_unique
    assert (cold["duration_ms"] > 0).all()
    assert collector.latest()["platform.instances"] == 3.0
