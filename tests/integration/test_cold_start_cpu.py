"""Cold starts that travel: under CPU hogs a cold start's wall time grows much more than its
CPU time (the kernel's per-task accounting), and a run on a saturated machine gives both
figures in its finding. Ratios are compared, never absolute times: the machine is shared."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import metrics, read_json, run_cli, write_scenario
from tests.integration.test_platform_apps import ASGI, gateway, wait_until

pytestmark = pytest.mark.integration

HOGS = 6  # busy loops on a 2-core machine: a starting instance waits for its share


@contextmanager
def cpu_hogs(count: int = HOGS) -> Iterator[None]:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


def cold_starts(gw: object, n: int) -> list[tuple[float, float]]:
    """``n`` cold starts one after the other (each instance reaped before the next request):
    their (wall ms, CPU ms)."""
    before = len(gw.stats()["cold_start_events"])  # type: ignore[attr-defined]
    for _ in range(n):
        assert gw.get("/hello").status == 200  # type: ignore[attr-defined]
        assert wait_until(lambda: gw.instances() == [])  # type: ignore[attr-defined]
    events = gw.stats()["cold_start_events"][before:]  # type: ignore[attr-defined]
    assert len(events) == n
    return [(e["duration_ms"], e["cpu_ms"]) for e in events]


def ratio(starts: list[tuple[float, float]]) -> tuple[float, float, float]:
    wall = statistics.median(w for w, _ in starts)
    cpu = statistics.median(c for _, c in starts)
    return wall, cpu, wall / cpu


def test_under_cpu_hogs_the_wall_grows_much_more_than_the_cpu(tmp_path: Path) -> None:
    knobs = {**ASGI, "cold_start": "exec", "idle_timeout_s": 0.2}
    with gateway(tmp_path, **knobs) as gw:
        idle = ratio(cold_starts(gw, 5))
        with cpu_hogs():
            busy = ratio(cold_starts(gw, 5))
    assert idle[1] > 5.0  # a fresh interpreter's start takes some CPU
    assert busy[2] > 2.0 * idle[2], (idle, busy)  # waiting for a CPU, not working more
    assert busy[1] < 3.0 * idle[1], (idle, busy)


SCENARIO = """
name = "hogged"
[database]
max_connections = 20
[load]
endpoints = { read = 1.0 }
think_time = "50ms"
stages = [{ duration = "4s", users = 4, spawn_rate = 20 }]
[target.serverless]
cold_start = "exec"
idle_timeout = "300ms"
[[variants]]
name = "serverless"
target = "serverless"
"""


def test_a_saturated_run_gives_the_cold_starts_wall_and_cpu(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with cpu_hogs(3):  # enough to saturate 2 cores, few enough to let the run start soon
        done = run_cli("run", str(write_scenario(tmp_path, SCENARIO)), "--out", str(out),
                       "--quiet")
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    m = metrics(out, "serverless")
    assert m["host.saturated"] is True
    wall, cpu = m["platform.cold_start_ms.p50"], m["platform.cold_start_cpu_ms.p50"]
    assert cpu is not None and 0 < cpu < wall
    cold = next(f for f in read_json(out / "summary.json")["findings"]
                if f.startswith("serverless: ") and "cold starts" in f)
    assert "wall but" in cold and "of CPU: about" in cold and "on an idle core" in cold
