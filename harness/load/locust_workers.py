"""Locust's own channel, as pgstampede uses it in distributed runs (inside Locust only).

A Locust worker started by ``pgstampede worker`` carries its worker name in the environment
(``PGSTAMPEDE_WORKER_NAME``) and adds it to every statistics report it sends the master
(Locust's ``report_to_master`` event). The master (Locust's ``worker_report`` event) adds up
each worker's requests and failures from those reports, watches Locust's heartbeat state of
every worker, and when it quits writes ``locust_workers.json`` in its out dir: one object per
Locust worker, ``{"client_id", "worker", "requests", "failures", "last_report",
"missing_at"}`` (``missing_at``: when Locust first saw the worker stop answering its
heartbeats, epoch seconds, or null). ``harness.load.distributed`` reads it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, Runner, WorkerRunner

from harness.load.coordinator import WORKER_ENV, WORKERS_FILE

WORKER_KEY = "pgstampede_worker"
WATCH_S = 0.5


@dataclass
class LocustWorkerTotals:
    """What the master heard from one Locust worker (mutable: filled from its reports)."""

    client_id: str
    worker: str = ""
    requests: int = 0
    failures: int = 0
    last_report: float | None = None
    missing_at: float | None = None


def attach(environment: Environment, runner: Runner, out_dir: Path) -> None:
    """pgstampede's listeners for a distributed master or worker (nothing for a local run)."""
    if isinstance(runner, WorkerRunner):
        _tag_reports(environment, os.environ.get(WORKER_ENV, ""))
    elif isinstance(runner, MasterRunner):
        _watch_workers(environment, runner, out_dir)


def _tag_reports(environment: Environment, name: str) -> None:
    def on_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        data[WORKER_KEY] = name

    environment.events.report_to_master.add_listener(on_report)  # type: ignore[no-untyped-call]


def _watch_workers(environment: Environment, runner: MasterRunner, out_dir: Path) -> None:
    totals: dict[str, LocustWorkerTotals] = {}

    def entry(client_id: str) -> LocustWorkerTotals:
        return totals.setdefault(client_id, LocustWorkerTotals(client_id=client_id))

    def on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        found = entry(client_id)
        total = data.get("stats_total") or {}
        found.requests += int(total.get("num_requests", 0))
        found.failures += int(total.get("num_failures", 0))
        found.worker = str(data.get(WORKER_KEY) or found.worker)
        found.last_report = time.time()

    def watch() -> None:
        while True:
            gevent.sleep(WATCH_S)
            for client in runner.clients.all:
                found = entry(str(client.id))
                if client.state == STATE_MISSING and found.missing_at is None:
                    found.missing_at = time.time()

    def on_quitting(environment: Environment, **_: Any) -> None:
        watcher.kill(block=False)
        rows = [asdict(t) for t in totals.values()]
        (out_dir / WORKERS_FILE).write_text(json.dumps(rows, indent=1), encoding="utf-8")

    environment.events.worker_report.add_listener(on_worker_report)  # type: ignore[no-untyped-call]
    watcher = gevent.spawn(watch)
    environment.events.quitting.add_listener(on_quitting)  # type: ignore[no-untyped-call]
