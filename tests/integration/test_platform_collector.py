"""PlatformCollector against a real gateway (and PostgreSQL)."""

from __future__ import annotations

import asyncio
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from harness.collect.platform import (
    COLD_START_COLUMNS,
    PLATFORM_COLUMNS,
    TEXT_COLUMNS,
    PlatformCollector,
)
from harness.platform.config import PlatformConfig
from harness.runtime.ports import free_port
from harness.runtime.process import ManagedProcess, PostgresCluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "tests" / "fixtures" / "apps"


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


def start_gateway(tmp: Path, config: PlatformConfig) -> tuple[str, ManagedProcess]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "platform.json").write_text(config.to_json())
    port = free_port()
    argv = [sys.executable, "-m", "harness.platform.gateway", "--config",
            str(tmp / "platform.json"), "--port", str(port), "--workdir", str(tmp / "gw")]
    url = f"http://127.0.0.1:{port}"
    proc = ManagedProcess(name="gateway", argv=argv, log_path=tmp / "gateway.log", cwd=REPO,
                          ready_url=f"{url}/__platform/health")
    return url, proc


async def drive_app(url: str, collector: PlatformCollector, out: Path) -> None:
    """One request whose work outlives its response; sample until the instance is reaped."""
    loop = asyncio.get_running_loop()
    await collector.start()
    status = await loop.run_in_executor(None, get, f"{url}/background?ms=500&file={out}")
    assert status == 200
    await collector.sample(time.time())
    deadline = time.monotonic() + 60
    while collector.latest()["platform.instances"] > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        await collector.sample(time.time())
    await collector.stop()


def test_collector_records_an_apps_background_work_and_init_failures(tmp_path: Path) -> None:
    app: dict[str, Any] = {"app_kind": "asgi", "app_entry": "stdlib_asgi:app",
                           "app_root": str(APPS)}
    url, proc = start_gateway(tmp_path / "ok", PlatformConfig(**app, idle_timeout_s=1.0))
    with proc:
        collector = PlatformCollector(f"{url}/__platform/stats")
        asyncio.run(drive_app(url, collector, tmp_path / "done.txt"))
    platform = collector.frames()["platform"]
    assert platform["background_pending"].iloc[0] == 1
    assert platform["background_lost"].iloc[-1] == 1 and platform["reaped"].iloc[-1] == 1
    assert platform["background_completed"].max() == 0 and platform["init_failures"].max() == 0
    assert (platform["init_error"] == "").all()

    broken = PlatformConfig(**app, app_env={"FAIL_IMPORT": "no module named shop"})
    url, proc = start_gateway(tmp_path / "broken", broken)
    with proc:
        collector = PlatformCollector(f"{url}/__platform/stats")

        async def one_failure() -> None:
            await collector.start()
            with pytest.raises(urllib.error.HTTPError) as err:
                await asyncio.get_running_loop().run_in_executor(None, get, f"{url}/x")
            err.value.close()
            assert err.value.code == 502
            await collector.stop()

        asyncio.run(one_failure())
    platform = collector.frames()["platform"]
    assert platform["init_failures"].iloc[-1] == 1
    # the error, then the app's line that raised it
    assert re.fullmatch(r"ImportError: no module named shop \(stdlib_asgi\.py:\d+\)",
                        platform["init_error"].iloc[-1])
    assert collector.latest()["platform.init_failures"] == 1.0


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
    assert list(platform.columns) == ["t", *PLATFORM_COLUMNS, *TEXT_COLUMNS]
    assert list(cold.columns) == list(COLD_START_COLUMNS)
    assert str(platform["frozen"].dtype) == "int64" and str(cold["t"].dtype) == "float64"
    assert len(platform) == 6  # five samples + the last one taken by stop()
    assert platform["cold_starts"].iloc[0] == 0 and platform["cold_starts"].iloc[-1] == 3
    assert platform["frozen"].iloc[-1] == 3 and platform["busy"].iloc[-1] == 0
    assert len(cold) == 3 and cold["instance"].is_unique
    assert (cold["duration_ms"] > 0).all()
    assert collector.latest()["platform.instances"] == 3.0
