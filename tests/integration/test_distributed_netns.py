"""``pgstampede run --workers 2`` with two ``pgstampede worker``s in their own network namespaces.

The test builds, on this machine, the project's own test network: two namespaces, each joined
to the root namespace by a veth pair (10.213.N.1 on the root side, 10.213.N.2 inside, a /30
each, the inside's default route through the root side). In the root namespace it starts
PostgreSQL and PgBouncer (session mode) on 127.0.0.1 and a small application on 10.213.1.1
(the root side of the first pair), then runs ``pgstampede run --workers 2 --bind
10.213.1.1:PORT --allow-address 10.213.1.1``: the workers reach the master and the
application over the veths, never over loopback. ``--allow-address`` accepts 10.213.1.1 only
because it is an address of this machine's own interface (the namespaces are the run's own
test hosts); load never leaves the machine.

Needs root and iproute2 (``ip netns``); the namespaces and veths are removed even on failure.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.load.progress import PROGRESS_FILE, LocustProgress, ProgressReader
from harness.runtime.managed import ManagedProcess
from harness.runtime.pgbouncer import PgBouncer
from harness.runtime.ports import free_port
from harness.runtime.postgres import PostgresCluster
from tests.integration.pipeline_helpers import (
    ROOT,
    marked_env,
    marked_processes,
    metrics,
    new_mark,
    read_json,
    write_scenario,
)
from tests.integration.test_external import APP_SOURCE

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                       reason="needs root and iproute2 (ip netns)"),
]

MASTER_ADDRESS = "10.213.1.1"
REPORT_WAIT_S = 4.5  # Locust's WORKER_REPORT_INTERVAL (3 s) + the progress file's 1 s

SCENARIO = """
name = "distributed-netns"
description = "two workers in their own network namespaces"
[load]
stages = [{{ duration = "{duration}", users = 10, spawn_rate = 20 }}]
think_time = "50ms"
[check]
min_coverage = 0.5  # a loaded 2-core CI machine: this test is about the workers, not the sampler
[[variants]]
name = "ext"
target = "external"
url = "{url}"
watch_dsn = "{watch_dsn}"
pgbouncer_admin_dsn = "{admin_dsn}"
paths = {{ "GET /items" = 0.9, "POST /items" = 0.1 }}
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass(frozen=True)
class Namespace:
    name: str
    inside: str  # the worker's address


@contextlib.contextmanager
def netns_pairs() -> Iterator[list[Namespace]]:
    """Two namespaces joined to this one by veth pairs; removed whatever happens."""
    tag = f"{os.getpid() % 100000}"
    made: list[Namespace] = []
    try:
        for n in (1, 2):
            ns, outer, inner = f"pgst{tag}n{n}", f"pg{tag}o{n}", f"pg{tag}i{n}"
            ip("netns", "add", ns)
            made.append(Namespace(ns, f"10.213.{n}.2"))
            ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            ip("link", "set", inner, "netns", ns)
            ip("addr", "add", f"10.213.{n}.1/30", "dev", outer)
            ip("link", "set", outer, "up")
            ip("-n", ns, "addr", "add", f"10.213.{n}.2/30", "dev", inner)
            ip("-n", ns, "link", "set", inner, "up")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "route", "add", "default", "via", f"10.213.{n}.1")
        yield made
    finally:
        for n in (1, 2):
            subprocess.run(["ip", "link", "del", f"pg{tag}o{n}"], capture_output=True,
                           timeout=30)  # deletes its peer too
        for space in made:
            subprocess.run(["ip", "netns", "del", space.name], capture_output=True, timeout=30)


@dataclass(frozen=True)
class Services:
    url: str
    watch_dsn: str
    admin_dsn: str


@contextlib.contextmanager
def services(folder: Path) -> Iterator[Services]:
    """PostgreSQL and PgBouncer on 127.0.0.1, the application on the master's veth."""
    (folder / "extapp.py").write_text(APP_SOURCE)
    logs = folder / "service-logs"
    with PostgresCluster(workdir=folder, max_connections=30,
                         log_path=logs / "postgres.log") as pg, \
            PgBouncer(upstream_port=pg.port, log_path=logs / "pgbouncer.log", workdir=folder,
                      pool_mode="session", pool_size=10) as bouncer:
        port = free_port()
        env = {"EXTAPP_DSN": bouncer.app_dsn, "EXTAPP_POOL": "5", "EXTAPP_SLEEP_MS": "5"}
        argv = [sys.executable, "-m", "uvicorn", "extapp:app", "--app-dir", str(folder),
                "--host", MASTER_ADDRESS, "--port", str(port), "--no-access-log",
                "--log-level", "warning"]
        url = f"http://{MASTER_ADDRESS}:{port}"
        with ManagedProcess(name="extapp", argv=argv, env={**os.environ, **env},
                            log_path=logs / "app.log", ready_url=f"{url}/health"):
            yield Services(url=url, watch_dsn=pg.monitor_dsn, admin_dsn=bouncer.admin_dsn)


def start_worker(ns: Namespace, port: int, log: Path, mark: str) -> subprocess.Popen[bytes]:
    argv = ["ip", "netns", "exec", ns.name, sys.executable, "-m", "harness", "worker",
            "--master", f"{MASTER_ADDRESS}:{port}", "--name", ns.name, "--wait", "120"]
    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=marked_env(mark), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def start_run(folder: Path, scenario: Path, port: int, mark: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "harness", "run", str(scenario), "--out", str(folder / "run"),
            "--quiet", "--workers", "2", "--bind", f"{MASTER_ADDRESS}:{port}",
            "--allow-address", MASTER_ADDRESS, "--workers-timeout", "120"]
    with (folder / "run.log").open("wb") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=marked_env(mark), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass(frozen=True)
class Result:
    returncode: int
    run_dir: Path
    output: str
    worker_codes: tuple[int | None, ...]


def first_progress(locust_dir: Path, proc: subprocess.Popen[bytes]) -> LocustProgress | None:
    """Block until the master's progress shows requests sent (None if the run ended first)."""
    reader = ProgressReader(locust_dir / PROGRESS_FILE)
    while proc.poll() is None:
        for record in reader.read_new():
            if isinstance(record, LocustProgress) and record.requests > 0:
                return record
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.2)
    return None


def distributed_run(folder: Path, duration: str, kill_second: bool = False) -> Result:
    mark = new_mark()
    port = free_port()
    with netns_pairs() as namespaces, services(folder) as svc:
        scenario = write_scenario(folder, SCENARIO.format(duration=duration, url=svc.url,
                                                          watch_dsn=svc.watch_dsn,
                                                          admin_dsn=svc.admin_dsn))
        workers = [start_worker(ns, port, folder / f"{ns.name}.log", mark) for ns in namespaces]
        procs = list(workers)
        try:
            run = start_run(folder, scenario, port, mark)
            procs.append(run)
            if kill_second:
                locust_dir = folder / "run" / "ext" / "1" / "locust"
                assert first_progress(locust_dir, run) is not None, \
                    (folder / "run.log").read_text()[-3000:]
                # The first progress may come from the other worker: a Locust worker reports
                # to the master every 3 s from its own start, so wait until both have reported.
                time.sleep(REPORT_WAIT_S)
                os.killpg(workers[1].pid, signal.SIGKILL)
            returncode = run.wait(timeout=600)
            codes = tuple(w.wait(timeout=60) if not kill_second or i == 0 else w.poll()
                          for i, w in enumerate(workers))
        finally:
            stop(procs)
    assert marked_processes(mark) == set()
    output = (folder / "run.log").read_text() + "".join(
        p.read_text() for p in folder.glob("pgst*.log"))
    return Result(returncode, folder / "run", output, codes)


def locust_aggregated(locust_dir: Path) -> int:
    with (locust_dir / "locust_stats.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    return int(rows[0]["Request Count"])


def worker_records(run_dir: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((run_dir / "ext" / "1" / "locust" / "workers.json").read_text())
    return {r["name"]: r for r in data}


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Result:
    folder = tmp_path_factory.mktemp("netns")
    folder.chmod(0o755)
    return distributed_run(folder, "6s")


def test_merged_requests_equal_the_workers_locust_totals(two_workers: Result) -> None:
    assert two_workers.returncode == 0, two_workers.output[-4000:]
    assert two_workers.worker_codes == (0, 0)
    records = worker_records(two_workers.run_dir)
    assert len(records) == 2
    assert {r["address"] for r in records.values()} == {"10.213.1.2", "10.213.2.2"}
    per_worker = [r["locust_requests"] for r in records.values()]
    assert all(n > 20 for n in per_worker)
    assert [r["logged_requests"] for r in records.values()] == per_worker
    frame = pd.read_parquet(two_workers.run_dir / "ext" / "1" / "requests.parquet")
    locust_dir = two_workers.run_dir / "ext" / "1" / "locust"
    assert len(frame) == sum(per_worker) == locust_aggregated(locust_dir)
    m = metrics(two_workers.run_dir, "ext")
    assert m["http.requests"] == sum(per_worker)


def test_the_summary_has_database_and_pooler_metrics(two_workers: Result) -> None:
    m = metrics(two_workers.run_dir, "ext")
    assert m["db.connections.peak"] is not None and m["db.connections.peak"] >= 1
    assert m["pooler.sv_active.peak"] is not None and m["pooler.sv_active.peak"] >= 1
    assert m["pooler.cl_waiting.peak"] is not None
    assert read_json(two_workers.run_dir / "manifest.json")["status"] == "complete"


def test_saturation_and_cpu_per_worker_host(two_workers: Result) -> None:
    frame = pd.read_parquet(two_workers.run_dir / "ext" / "1" / "workers.parquet")
    assert set(frame["address"]) == {"10.213.1.2", "10.213.2.2"}
    assert (frame["locust_cpu_percent"] > 0).any()
    m = metrics(two_workers.run_dir, "ext")
    assert m["load.workers"] == 2
    assert m["load.workers.cpu.locust.max"] is not None and m["load.workers.cpu.locust.max"] > 0
    saturated = [r for r in worker_records(two_workers.run_dir).values() if r["saturated"]]
    assert m["load.workers.saturated"] == len(saturated)
    for record in worker_records(two_workers.run_dir).values():
        assert record["done"] is True and record["locust_rc"] == 0
        assert record["cpu"], record
        assert record["cpu_host_mean"] is not None and record["cpu_locust_mean"] > 0
        assert record["saturated"] in (True, False)


def test_a_worker_killed_mid_run_leaves_the_variant_incomplete(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    result = distributed_run(tmp_path, "10s", kill_second=True)
    assert result.returncode == 3, result.output[-4000:]
    manifest = read_json(result.run_dir / "manifest.json")
    variant = manifest["variants"][0]
    assert variant["status"] == "incomplete" and variant["error"] is None
    by_address = {r["address"]: r for r in worker_records(result.run_dir).values()}
    survivor, lost = by_address["10.213.1.2"], by_address["10.213.2.2"]
    assert survivor["done"] is True and lost["done"] is False
    assert lost["locust_requests"] > 0  # what it had sent, as Locust counted it
    reasons = [p["reason"] for p in variant["problems"] if p["source"] == "load"]
    assert len(reasons) == 1
    assert reasons[0].startswith(f"worker {lost['name']} (10.213.2.2) lost at")
    assert f"after {lost['locust_requests']} requests" in reasons[0]
    assert lost["missing_at"] is not None or lost["last_heard"] > 0  # when
    frame = pd.read_parquet(result.run_dir / "ext" / "1" / "requests.parquet")
    assert len(frame) == survivor["logged_requests"] == survivor["locust_requests"] > 0
