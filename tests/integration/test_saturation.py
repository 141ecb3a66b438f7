"""Load-generator saturation end to end: a CPU-bound Locust is flagged, a light one is not.

The target is a tiny asyncio HTTP server started by the test (an external target; a
PostgreSQL cluster of the test's own is the watched database). ``GET /big`` answers a
350 KB JSON document that costs the server a memcpy and Locust a JSON decode per request
(the harness classifies every JSON body), so Locust, not the server, runs out of CPU:
with 10 users and no think time it wants far more than the one core a Locust process can
use. ``GET /slow`` answers after 100 ms: 10 users make ~100 requests/s, a few % of a core.

The machine is shared (other test runs, 2 cores): another session can hold a CPU-bound
Locust well below 90% of a core, and the harness's rule looks at CPU *used*. So the test
raises the priority of the Locust processes it finds (their session's autogroup and their
nice value, by PID; root only): the starved Locust then does use a whole core.

A Locust starved by a busy process on its own core uses only ~50% of it, but waits for a
CPU the rest of the time: the host collector records that run-queue wait and the rule
counts it (``test_locust_held_back_by_a_busy_core_is_flagged``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from harness.runtime.ports import free_port
from harness.runtime.process import ManagedProcess, PostgresCluster
from harness.services.collectors import is_locust
from tests.integration.pipeline_helpers import (
    ROOT,
    marked_env,
    marked_processes,
    metrics,
    new_mark,
    read_json,
    temp_dirs,
    write_scenario,
)

pytestmark = pytest.mark.integration

SERVER_SOURCE = '''
import asyncio, json, sys
BIG = json.dumps({"values": [i / 7 for i in range(20000)]}).encode()


def reply(body):
    head = (b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\n"
            b"Content-Length: %d\\r\\n\\r\\n")
    return head % len(body) + body


BIG_REPLY, SMALL_REPLY = reply(BIG), reply(b'{"ok": true}')


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            path = head.split(b" ", 2)[1]
            if path.startswith(b"/slow"):
                await asyncio.sleep(0.1)
            writer.write(BIG_REPLY if path.startswith(b"/big") else SMALL_REPLY)
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()


asyncio.run(main())
'''

VARIANT = """
[[variants]]
name = "{name}"
target = "external"
url = "{url}"
watch_dsn = "{dsn}"
paths = {{ "{path}" = 1 }}
"""


@dataclass(frozen=True)
class Target:
    url: str
    watch_dsn: str


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    folder = tmp_path_factory.mktemp("saturation")
    folder.chmod(0o755)
    script = folder / "server.py"
    script.write_text(SERVER_SOURCE)
    port = free_port()
    with PostgresCluster(workdir=folder, max_connections=10,
                         log_path=folder / "postgres.log") as pg, \
            ManagedProcess(name="server", argv=[sys.executable, str(script), str(port)],
                           log_path=folder / "server.log",
                           ready_url=f"http://127.0.0.1:{port}/health"):
        yield Target(url=f"http://127.0.0.1:{port}", watch_dsn=pg.monitor_dsn)


def scenario_text(target: Target, duration_s: int, variants: dict[str, str]) -> str:
    head = f"""
name = "saturation"
[load]
stages = [{{ duration = "{duration_s}s", users = 10, spawn_rate = 100 }}]
"""
    return head + "".join(VARIANT.format(name=name, url=target.url, dsn=target.watch_dsn,
                                         path=path) for name, path in variants.items())


class LocustWatcher(threading.Thread):
    """Calls ``on_locust(pid)`` once for each Locust process the harness ``harness_pid``
    starts (its direct children running Locust), until stopped."""

    def __init__(self, harness_pid: int, on_locust: Callable[[int], None]) -> None:
        super().__init__(daemon=True)
        self.harness_pid = harness_pid
        self.on_locust = on_locust
        self.stopped = threading.Event()
        self.seen: set[int] = set()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                children = psutil.Process(self.harness_pid).children()
            except psutil.Error:
                return
            for child in children:
                if child.pid in self.seen:
                    continue
                with contextlib.suppress(psutil.Error, ProcessLookupError):
                    if is_locust(child.cmdline()):
                        self.on_locust(child.pid)
                        self.seen.add(child.pid)
            self.stopped.wait(0.05)


def run_harness(scenario: Path, out: Path, mark: str,
                on_locust: Callable[[int], None]) -> tuple[int, str, int]:
    """The real CLI in a subprocess; ``on_locust`` is applied to each Locust it starts.
    Returns (exit code, output, number of Locust processes seen)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(scenario), "--out", str(out), "--quiet"],
        cwd=ROOT, env=marked_env(mark), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    watcher = LocustWatcher(proc.pid, on_locust)
    watcher.start()
    try:
        output, _ = proc.communicate(timeout=300)
    finally:
        watcher.stopped.set()
        watcher.join(timeout=5)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, output, len(watcher.seen)


def boost(pid: int) -> None:
    """Give a Locust process (its own session) the first claim on a core."""
    os.setpriority(os.PRIO_PROCESS, pid, -20)
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():  # with autogroup scheduling, nice only counts within a session
        autogroup.write_text("-20")


def pin_to_core_0(pid: int) -> None:
    os.sched_setaffinity(pid, {0})


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="raising a priority needs root")


@needs_root
def test_cpu_bound_locust_is_flagged_and_a_light_one_is_not(target: Target,
                                                            tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, scenario_text(
        target, 10, {"starved": "GET /big", "light": "GET /slow"}))
    out, mark = tmp_path / "run", new_mark()
    code, output, seen = run_harness(scenario, out, mark, boost)
    assert code == 0, output[-3000:]
    assert seen == 2
    starved, light = metrics(out, "starved"), metrics(out, "light")
    assert starved["load.saturated"] is True, starved["host.cpu.locust.mean"]
    assert light["load.saturated"] is False, light["host.cpu.locust.mean"]
    assert starved["host.cpu.locust.mean"] > 80 > 30 > light["host.cpu.locust.mean"]
    assert starved["http.failures"] == 0 and light["http.failures"] == 0
    # the terminal warning, the report banner and the findings name the starved variant only
    assert "warning: starved: Locust ran above 90% of a core" in " ".join(output.split())
    assert "warning: light" not in output
    assert output.count("warning:") == 1
    html = (out / "index.html").read_text()
    assert "Locust was CPU-saturated in starved:" in html
    summary = read_json(out / "summary.json")
    saturated = [f for f in summary["findings"] if "CPU-saturated" in f]
    assert [f.split(":")[0] for f in saturated] == ["starved"]
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()


def test_locust_held_back_by_a_busy_core_is_flagged(target: Target, tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, scenario_text(target, 6, {"starved": "GET /big"}))
    out, mark = tmp_path / "run", new_mark()
    busy = subprocess.Popen(
        [sys.executable, "-c", "import os\nos.sched_setaffinity(0, {0})\nwhile True: pass"])
    try:
        code, output, seen = run_harness(scenario, out, mark, pin_to_core_0)
    finally:
        busy.kill()
        busy.wait()
    assert code == 0, output[-3000:]
    assert seen == 1
    assert marked_processes(mark) == set()
    starved = metrics(out, "starved")
    assert starved["host.cpu.locust.mean"] is not None
    assert starved["load.saturated"] is True, starved["host.cpu.locust.mean"]
