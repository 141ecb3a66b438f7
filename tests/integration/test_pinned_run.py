"""``[host] pin = true`` end to end: during a real run, PostgreSQL and the target run on the
system-under-test cores, Locust on the load cores; the split is in the manifest."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from harness.runtime.pinning import available_cores, split_cores
from harness.services.collectors import is_locust
from tests.integration.pipeline_helpers import (
    ROOT,
    marked_env,
    marked_processes,
    new_mark,
    read_json,
    write_scenario,
)

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(len(available_cores()) < 2, reason="needs two cores")]

SCENARIO = """
name = "pinned"
[host]
pin = true
[database]
max_connections = 20
[load]
endpoints = { read = 1.0 }
stages = [{ duration = "6s", users = 3, spawn_rate = 30 }]
[[variants]]
name = "persistent"
target = "persistent"
"""


def kind(cmdline: list[str]) -> str:
    if is_locust(cmdline):
        return "locust"
    if any(Path(part).name == "postgres" for part in cmdline[:1]):
        return "postgres"
    return "other"


class AffinityWatch(threading.Thread):
    """Records the cores of the harness's children (by kind) while it runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.stopped = threading.Event()
        self.seen: dict[str, set[frozenset[int]]] = {}

    def run(self) -> None:
        while not self.stopped.wait(0.1):
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(self.pid).children():
                    with contextlib.suppress(psutil.Error):
                        cores = frozenset(child.cpu_affinity() or ())
                        self.seen.setdefault(kind(child.cmdline()), set()).add(cores)


def test_a_pinned_run_places_each_side_on_its_cores(tmp_path: Path) -> None:
    split = split_cores(available_cores())
    assert split is not None
    scenario = write_scenario(tmp_path, SCENARIO)
    out, mark = tmp_path / "run", new_mark()
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", str(scenario), "--out", str(out), "--quiet"],
        cwd=ROOT, env=marked_env(mark), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    watch = AffinityWatch(proc.pid)
    watch.start()
    try:
        output, _ = proc.communicate(timeout=300)
    finally:
        watch.stopped.set()
        watch.join(timeout=5)
    assert proc.returncode == 0, output[-3000:]
    assert marked_processes(mark) == set()
    variant = read_json(out / "manifest.json")["variants"][0]
    assert variant["config"]["host"] == {"pin": True}
    assert variant["target_info"]["pin"] == split.describe()
    # once placed, each side stays on its cores (a first look may precede the placement)
    assert split.sut in watch.seen["postgres"]
    assert split.load in watch.seen["locust"]
    assert split.load not in watch.seen["postgres"] and split.sut not in watch.seen["locust"]
