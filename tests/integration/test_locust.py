"""Real Locust runs against a tiny HTTP server started by the test."""

from __future__ import annotations

import asyncio
import csv
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import psutil
import pytest

from harness.errors import LoadError
from harness.load.progress import LocustProgress
from harness.load.runner import LocustResult, read_request_logs, run_locust
from harness.runtime.ports import free_port
from harness.scenario import LoadSpec, RequestSpec, Stage

pytestmark = pytest.mark.integration

TIMEOUT_S = 1.5  # every endpoint but /sleep answers far sooner, even on a loaded machine

BUSY = {"error": {"kind": "db_too_many_connections", "sqlstate": "53300", "message": "full"}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        return None

    def reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = self.path.split("?")[0]
        count = self.server.hit(path)
        if path == "/ok":
            self.reply(200, json.dumps({"instance": "srv-1"}).encode())
        elif path == "/counter":
            self.reply(200, json.dumps({"counter": count, "instance": "srv-1"}).encode())
        elif path == "/busy":
            self.reply(503, json.dumps({**BUSY, "instance": "srv-1"}).encode())
        elif path == "/throttle":
            self.reply(429, b"slow down", "text/plain")
        elif path == "/oops":
            self.reply(500, b"<html>Internal Server Error</html>", "text/html")
        elif path == "/sleep":
            time.sleep(TIMEOUT_S * 4)
            self.reply(200, b"{}")
        else:
            self.reply(404, b"{}")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    def hit(self, path: str) -> int:
        with self.lock:
            self.hits[path] += 1
            return self.hits[path]


@pytest.fixture()
def server() -> Iterator[Server]:
    srv = Server(free_port())
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=10)


def url(srv: Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


def mixed_requests(refused_port: int) -> tuple[RequestSpec, ...]:
    return (
        RequestSpec("ok", "GET", "/ok", 0.3),
        RequestSpec("counter", "GET", "/counter", 0.15),
        RequestSpec("busy", "GET", "/busy", 0.15),
        RequestSpec("throttle", "GET", "/throttle", 0.1),
        RequestSpec("oops", "GET", "/oops", 0.1),
        RequestSpec("missing", "GET", "/missing", 0.1),
        RequestSpec("sleep", "GET", "/sleep", 0.05),
        RequestSpec("refused", "GET", f"http://127.0.0.1:{refused_port}/x", 0.05),
    )


def locust_csv_counts(out: Path) -> dict[str, int]:
    with (out / "locust_stats.csv").open(newline="") as f:
        return {r["Name"]: int(r["Request Count"]) for r in csv.DictReader(f)}


def run(spec: LoadSpec, host: str, out: Path) -> tuple[LocustResult, list[LocustProgress], float]:
    progress: list[LocustProgress] = []
    began = time.monotonic()
    result = asyncio.run(
        run_locust(spec, host=host, out_dir=out, log_path=out / "locust.log",
                   on_progress=progress.append)
    )  # fmt: skip
    return result, progress, time.monotonic() - began


def test_every_request_is_logged_with_its_kind(server: Server, tmp_path: Path) -> None:
    spec = LoadSpec(
        stages=(Stage(3.0, 6, 20.0), Stage(2.0, 2, 20.0)),
        think_time_s=(0.005, 0.02),
        requests=mixed_requests(free_port()),
        request_timeout_s=TIMEOUT_S,
    )
    result, progress, wall = run(spec, url(server), tmp_path)
    frame = read_request_logs(tmp_path)

    # the shape stops Locust on time
    assert 5.0 - 0.5 <= result.load_end - result.load_start <= 5.0 + 3.0
    assert wall < 5.0 + 45.0
    assert progress and progress[-1] == result.last_progress
    assert progress[-1].requests == result.totals.requests

    kinds = frame.groupby("endpoint")["kind"].agg(lambda k: set(k)).to_dict()
    assert kinds == {
        "ok": {""},
        "counter": {""},
        "busy": {"db_too_many_connections"},
        "throttle": {"http_429"},
        "oops": {"http_5xx"},
        "missing": {"http_4xx"},
        "sleep": {"timeout"},
        "refused": {"connection_error"},
    }
    statuses = frame.groupby("endpoint")["status"].agg(lambda s: set(s)).to_dict()
    assert statuses["busy"] == {503} and statuses["throttle"] == {429}
    assert statuses["sleep"] == {0} and statuses["refused"] == {0} and statuses["ok"] == {200}

    # Locust's own counts: total, failures and per endpoint
    assert len(frame) == result.totals.requests > 50
    assert int((frame["kind"] != "").sum()) == result.totals.failures
    per_endpoint = frame["endpoint"].value_counts().to_dict()
    assert per_endpoint == {
        k: v for k, v in locust_csv_counts(tmp_path).items() if k != "Aggregated"
    }

    # what the server saw (a request in flight when Locust stopped is not logged)
    for name in ("ok", "counter", "busy", "throttle", "oops", "missing"):
        assert per_endpoint[name] <= server.hits[f"/{name}"] <= per_endpoint[name] + 6

    # body fields, timing and precision
    counters = frame.loc[frame["endpoint"] == "counter", "counter"]
    assert counters.min() >= 1 and counters.is_unique
    assert (frame.loc[frame["endpoint"] != "counter", "counter"] == -1).all()
    assert set(frame.loc[frame["endpoint"].isin(["ok", "busy"]), "instance"]) == {"srv-1"}
    assert set(frame.loc[frame["endpoint"] == "throttle", "instance"]) == {""}
    sleeps = frame.loc[frame["endpoint"] == "sleep", "latency_ms"]
    assert sleeps.between(TIMEOUT_S * 1000 * 0.9, TIMEOUT_S * 1000 * 3).all()
    assert (frame["latency_ms"] % 1 != 0).any()  # sub-millisecond precision
    assert frame["t"].between(result.load_start - 1, result.load_end + 1).all()
    assert (tmp_path / "locust_stats_history.csv").is_file()


def test_two_processes_merge_to_locust_totals(server: Server, tmp_path: Path) -> None:
    spec = LoadSpec(
        stages=(Stage(4.0, 4, 20.0),),
        think_time_s=(0.01, 0.01),
        requests=(RequestSpec("ok", "GET", "/ok", 0.8), RequestSpec("busy", "GET", "/busy", 0.2)),
        processes=2,
    )
    result, _, _ = run(spec, url(server), tmp_path)
    logs = sorted(tmp_path.glob("requests-*.csv"))
    assert len(logs) == 2
    assert all(len(pd.read_csv(p)) > 0 for p in logs)
    frame = read_request_logs(tmp_path)
    assert len(frame) == result.totals.requests > 0
    assert int((frame["kind"] != "").sum()) == result.totals.failures
    assert locust_csv_counts(tmp_path)["Aggregated"] == len(frame)
    assert frame["t"].is_monotonic_increasing


def locust_processes() -> list[psutil.Process]:
    me = psutil.Process()
    return [p for p in me.children(recursive=True) if "locust" in " ".join(p.cmdline())]


def test_cancellation_terminates_the_whole_process_group(server: Server, tmp_path: Path) -> None:
    spec = LoadSpec(
        stages=(Stage(120.0, 2, 10.0),),
        think_time_s=(0.05, 0.05),
        requests=(RequestSpec("ok", "GET", "/ok", 1.0),),
        processes=2,
    )
    seen: list[psutil.Process] = []
    parents: dict[int, int] = {}
    leader: list[int] = []

    async def scenario() -> None:
        started = asyncio.Event()

        def on_progress(p: LocustProgress) -> None:
            if p.requests > 0:
                started.set()

        task = asyncio.create_task(
            run_locust(spec, host=url(server), out_dir=tmp_path, log_path=tmp_path / "l.log",
                       on_progress=on_progress, on_started=leader.append)
        )  # fmt: skip
        async with asyncio.timeout(90):
            await started.wait()
        seen.extend(locust_processes())
        parents.update({p.pid: p.ppid() for p in seen})
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert len(seen) >= 3  # the master and two workers
    assert leader and leader[0] in {p.pid for p in seen}
    assert all(pid == leader[0] or ppid == leader[0] for pid, ppid in parents.items())
    deadline = time.monotonic() + 30
    while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in seen):
        assert time.monotonic() < deadline, "Locust processes survived the cancellation"
        time.sleep(0.1)
    assert len(read_request_logs(tmp_path)) > 0  # what was measured until then is readable


def test_locust_failure_is_a_load_error_naming_the_log(server: Server, tmp_path: Path) -> None:
    spec = LoadSpec(
        stages=(Stage(1.0, 1, 1.0),),
        think_time_s=(0.0, 0.0),
        requests=(RequestSpec("ok", "GET", "/ok", 1.0),),
        processes=-5,  # Locust refuses it
    )
    with pytest.raises(LoadError, match=r"exited with code .*see its log: .*locust\.log"):
        run(spec, url(server), tmp_path)


def test_locust_running_past_the_shape_is_stopped(server: Server, tmp_path: Path) -> None:
    spec = LoadSpec(
        stages=(Stage(30.0, 1, 1.0),),
        think_time_s=(0.1, 0.1),
        requests=(RequestSpec("ok", "GET", "/ok", 1.0),),
    )

    async def scenario() -> None:
        await run_locust(spec, host=url(server), out_dir=tmp_path,
                         log_path=tmp_path / "locust.log", grace_s=-27.0)  # fmt: skip

    began = time.monotonic()
    with pytest.raises(LoadError, match="still running"):
        asyncio.run(scenario())
    assert time.monotonic() - began < 20
    assert locust_processes() == []
