"""`[load] processes = 2` through the whole pipeline: the summary counts every worker's requests.

Locust runs with ``--processes 2`` (a master and two forked workers, each writing its own
per-request log); the harness merges the logs into requests.parquet. The summary's
``http.requests`` / ``http.failures`` must equal Locust's own totals (the ``Aggregated`` row
of ``<run>/<variant>/1/locust/locust_stats.csv``, which the master writes from the workers'
reports), and the host collector must see all three Locust processes.

The last test runs Locust's master and two workers by hand with the harness's locustfile,
as docs/distributed.md tells: the workers' request logs add up to Locust's own total.
The last tests run ``pgstampede run --workers 2`` with two ``pgstampede worker``s on
127.0.0.1 over two variants (a harness-started persistent target, and serverless behind
PgBouncer), and a worker whose Locust cannot start; the same over a network:
test_distributed_netns.py.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from harness.load.coordinator import Coordinator
from harness.load.worker import MasterClient, WorkerOptions, run_variant
from harness.runtime.ports import free_port
from tests.integration.pipeline_helpers import (
    ROOT,
    marked_env,
    marked_processes,
    metrics,
    new_mark,
    read_json,
    run_cli,
    temp_dirs,
    write_scenario,
)

pytestmark = pytest.mark.integration

SCENARIO = """
name = "distributed"
description = "two Locust worker processes"
[database]
max_connections = 20
[load]
processes = 2
endpoints = { read = 0.7, write = 0.2, counter = 0.1 }
think_time = "20ms"
stages = [{ duration = "6s", users = 8, spawn_rate = 20 }]
[check]
min_coverage = 0.5  # a loaded 2-core CI machine: this test is about Locust's processes
[target.persistent]
pool_max = 4
[[variants]]
name = "persistent"
"""


def locust_totals(locust_dir: Path) -> tuple[int, int]:
    """Locust's own (requests, failures): the ``Aggregated`` row of its stats CSV."""
    with (locust_dir / "locust_stats.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    assert len(rows) == 1
    return int(rows[0]["Request Count"]), int(rows[0]["Failure Count"])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("distributed")
    mark = new_mark()
    out = folder / "run"
    result = run_cli("run", str(write_scenario(folder, SCENARIO)), "--out", str(out),
                     "--quiet", mark=mark)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()
    return out


def test_summary_counts_equal_locusts_own_totals(run_dir: Path) -> None:
    m = metrics(run_dir, "persistent")
    locust_dir = run_dir / "persistent" / "1" / "locust"
    requests, failures = locust_totals(locust_dir)
    assert requests > 100
    assert m["http.requests"] == requests
    assert m["http.failures"] == failures
    frame = pd.read_parquet(run_dir / "persistent" / "1" / "requests.parquet")
    assert len(frame) == requests
    assert int((frame["kind"] != "").sum()) == failures


def test_each_worker_logged_its_own_requests(run_dir: Path) -> None:
    locust_dir = run_dir / "persistent" / "1" / "locust"
    logs = sorted(locust_dir.glob("requests-*.csv"))
    assert len(logs) == 2
    sizes = [len(pd.read_csv(p)) for p in logs]
    assert all(n > 0 for n in sizes)
    frame = pd.read_parquet(run_dir / "persistent" / "1" / "requests.parquet")
    assert sum(sizes) == len(frame)
    assert frame["t"].is_monotonic_increasing
    assert set(frame["endpoint"]) == {"read", "write", "counter"}


def test_the_host_collector_sees_the_master_and_both_workers(run_dir: Path) -> None:
    host = pd.read_parquet(run_dir / "persistent" / "1" / "host.parquet")
    locust = host[host["role"] == "locust"]
    assert int(locust["processes"].max()) == 3
    m = metrics(run_dir, "persistent")
    assert m["host.cpu.locust.mean"] is not None and m["host.cpu.locust.mean"] > 0
    assert m["load.saturated"] is False
    manifest = read_json(run_dir / "manifest.json")
    assert manifest["scenario"]["source"]["load"]["processes"] == 2


# ------------------------------------------------------------------ by hand (docs/distributed.md)

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"instance": "by-hand"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._reply()

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self._reply()


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture()
def http_server() -> Iterator[str]:
    server = _Server(("127.0.0.1", free_port()), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _locust(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "locust", "-f",
                                 str(ROOT / "harness" / "load" / "locustfile.py"), *args],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def test_master_and_workers_by_hand(http_server: str, tmp_path: Path) -> None:
    load_dir = tmp_path / "load"
    load_dir.mkdir()
    plan = {"out_dir": str(load_dir),
            "stages": [{"duration_s": 4, "users": 6, "spawn_rate": 20}],
            "think_time_s": [0.01, 0.03],
            "requests": [{"name": "read", "method": "GET", "path": "/read", "weight": 0.8},
                         {"name": "write", "method": "POST", "path": "/write", "weight": 0.2}],
            "request_timeout_s": 30, "request_log": True, "progress_interval_s": 1,
            "locustfile": ""}
    (tmp_path / "load_config.json").write_text(json.dumps(plan))
    mark = new_mark()
    env = {**marked_env(mark), "PGSTAMPEDE_LOAD_CONFIG_FILE": str(tmp_path / "load_config.json")}
    port = str(free_port())
    procs = [_locust(["--worker", "--master-host", "127.0.0.1", "--master-port", port], env,
                     tmp_path / f"worker{i}.log") for i in (1, 2)]
    try:
        master = _locust(["--master", "--headless", "--expect-workers", "2",
                          "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                          "--host", http_server, "--csv", str(load_dir / "locust"),
                          "--exit-code-on-error", "0", "--stop-timeout", "0", "--only-summary"],
                         env, tmp_path / "master.log")
        procs.append(master)
        assert master.wait(timeout=120) == 0, (tmp_path / "master.log").read_text()[-2000:]
        assert all(p.wait(timeout=30) == 0 for p in procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    worker_logs = sorted(load_dir.glob("requests-*.csv"))
    assert len(worker_logs) == 2  # the master sends no requests
    requests, failures = locust_totals(load_dir)
    logged = [pd.read_csv(p) for p in worker_logs]
    assert requests > 50 and failures == 0
    assert all(len(frame) > 0 for frame in logged)
    assert sum(len(frame) for frame in logged) == requests
    assert set(pd.concat(logged)["endpoint"]) == {"read", "write"}
    assert marked_processes(mark) == set()


def test_a_worker_whose_locust_cannot_start_says_why(tmp_path: Path) -> None:
    plan = {"out_dir": "/unused", "stages": [{"duration_s": 2, "users": 1, "spawn_rate": 1}],
            "think_time_s": [0, 0], "requests": [], "request_timeout_s": 5,
            "request_log": True, "progress_interval_s": 1,
            "locustfile": str(tmp_path / "missing_locustfile.py")}
    said: list[str] = []
    with Coordinator("127.0.0.1", free_port()) as coordinator:
        offer = coordinator.open_offer(plan, free_port(), tmp_path, wanted=1)
        client = MasterClient("127.0.0.1", coordinator.port)
        reply = client.poll("w1")
        options = WorkerOptions(master_host="127.0.0.1", master_port=coordinator.port,
                                name="w1")
        run_variant(client, options, reply, said.append)
        outcome = offer.taken["w1"]
    assert outcome.done and outcome.locust_rc not in (None, 0)
    assert outcome.logs == []
    assert "missing_locustfile.py" in said[-1]


# ------------------------------------------------------- pgstampede run --workers, on loopback

WORKERS_SCENARIO = """
name = "workers-local"
description = "two pgstampede workers on this machine, two variants in a row"
[database]
max_connections = 20
[load]
endpoints = { read = 0.8, write = 0.2 }
think_time = "50ms"
stages = [{ duration = "4s", users = 6, spawn_rate = 20 }]
[check]
min_coverage = 0.5  # a loaded 2-core CI machine: this test is about the workers
[target.persistent]
pool_max = 4
[target.serverless]
instance_concurrency = 1
max_instances = 8
[[variants]]
name = "persistent"
[[variants]]
name = "serverless"
target = "serverless"
pooler = "pgbouncer"
"""


def test_run_with_two_local_workers_over_two_variants(tmp_path: Path) -> None:
    mark = new_mark()
    port = free_port()
    workers = []
    for name in ("w1", "w2"):
        with (tmp_path / f"{name}.log").open("wb") as out:
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "harness", "worker", "--master", f"127.0.0.1:{port}",
                 "--name", name, "--wait", "120"], cwd=ROOT, env=marked_env(mark),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    try:
        result = run_cli("run", str(write_scenario(tmp_path, WORKERS_SCENARIO)), "--out",
                         str(tmp_path / "run"), "--quiet", "--workers", "2", "--bind",
                         f"127.0.0.1:{port}", mark=mark)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert [w.wait(timeout=60) for w in workers] == [0, 0]  # told the run is over
    finally:
        for proc in workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    for variant in ("persistent", "serverless"):
        locust_dir = tmp_path / "run" / variant / "1" / "locust"
        records = json.loads((locust_dir / "workers.json").read_text())
        assert sorted(r["name"] for r in records) == ["w1", "w2"]
        sent = [r["locust_requests"] for r in records]
        assert all(n > 0 for n in sent)
        assert [r["logged_requests"] for r in records] == sent
        m = metrics(tmp_path / "run", variant)
        assert m["http.requests"] == sum(sent) == locust_totals(locust_dir)[0]
        assert m["db.connections.peak"] is not None and m["load.workers"] == 2
    m = metrics(tmp_path / "run", "serverless")
    assert m["platform.instances.peak"] is not None and m["platform.instances.peak"] >= 1
    assert m["pooler.sv_active.peak"] is not None
    assert marked_processes(mark) == set()
    assert temp_dirs(mark) == set()


def test_a_waiting_worker_stops_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "harness", "worker", "--master",
                                 f"127.0.0.1:{free_port()}", "--name", "w1"], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while b"waiting for the master" not in log.read_bytes():
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 3
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "pgstampede: interrupted" in log.read_text()
