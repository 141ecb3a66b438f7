"""Distributed load: ``pgstampede run --workers N`` drives Locust workers on other machines.

:class:`DistributedRunner` is the run's load seam (``harness.run.seams.LoadRunner``) when
``--workers`` is given. It serves the control channel (``harness.load.coordinator``) on
``--bind ADDRESS:PORT`` for the whole run, and for each variant:

1. waits for N idle ``pgstampede worker`` processes (LoadError after ``wait_s``, naming the
   workers it did hear from);
2. offers them the variant's load plan and runs a Locust master on ``PORT + 1`` that waits
   for their N Locust workers and drives the stages (it sends no requests itself);
3. waits for every worker's request log and CPU figures (uploads), and writes
   ``workers.json`` beside Locust's files: one :class:`WorkerRecord` per worker;
4. a worker that disconnected (no ``done``, or Locust saw it stop answering) is a problem:
   the load it carried was missing from the plan for the rest of the variant.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from harness.errors import InputError, LoadError
from harness.load.config import LoadConfig
from harness.load.coordinator import WORKERS_FILE, Coordinator, Offer, WorkerOutcome
from harness.load.runner import (
    LocustProgress,
    LocustTotals,
    MasterSettings,
    read_request_logs,
    run_locust,
)
from harness.load.worker_stats import WorkerRecord, lost_problem, worker_record, workers_frame
from harness.results.codec import dumps, encode
from harness.runtime.loopback import is_loopback
from harness.scenario import ExternalSpec, Variant
from harness.scenario.records import LoadSpec

RECORDS_FILE = "workers.json"
POLL_S = 0.2


@dataclass(frozen=True)
class DistributedResult:
    """What a distributed variant's load reports back (``LoadWindow`` and more)."""

    load_start: float
    load_end: float
    totals: LocustTotals
    workers: tuple[WorkerRecord, ...]
    problems: tuple[str, ...]


class DistributedRunner:
    """The load seam of ``--workers N``: a context manager serving the control channel."""

    def __init__(self, workers: int, bind_host: str, bind_port: int, *,
                 wait_s: float = 120.0, upload_s: float = 60.0,
                 on_problem: Callable[[str], None] | None = None) -> None:
        self.workers = workers
        self.bind_host, self.bind_port = bind_host, bind_port
        self.wait_s, self.upload_s = wait_s, upload_s
        self.on_problem = on_problem
        self.coordinator = Coordinator(bind_host, bind_port)

    def __enter__(self) -> DistributedRunner:
        self.coordinator.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.coordinator.close(linger_s=2.0)  # polling workers hear "done"

    async def run(self, load: LoadSpec, *, host: str, out_dir: Path, log_path: Path,
                  on_progress: Callable[[LocustProgress], None]) -> DistributedResult:
        self._check_reachable(host)
        await self._wait_for_workers()
        out_dir.mkdir(parents=True, exist_ok=True)
        plan = encode(LoadConfig.from_spec(load, out_dir=out_dir))
        offer = self.coordinator.open_offer(plan, self.bind_port + 1, out_dir, self.workers)
        master = MasterSettings(workers=self.workers, bind_host=self.bind_host,
                                port=self.bind_port + 1, max_wait_s=self.wait_s)
        try:
            result = await run_locust(load, host=host, out_dir=out_dir, log_path=log_path,
                                      on_progress=on_progress, master=master)
        finally:
            self.coordinator.close_offer()
            await self._wait_for_uploads(offer)
            self.coordinator.forget(offer)
        records = self._records(offer, out_dir, result.load_start, result.load_end)
        problems = tuple(p for r in records if (p := lost_problem(r, result.load_end)))
        return DistributedResult(load_start=result.load_start, load_end=result.load_end,
                                 totals=result.totals, workers=records, problems=problems)

    def requests(self, out_dir: Path) -> pd.DataFrame:
        return read_request_logs(out_dir)

    def frames(self, out_dir: Path) -> dict[str, pd.DataFrame]:
        """The ``workers`` frame: every worker's CPU samples in the load window."""
        return {"workers": workers_frame(_json_rows(out_dir / RECORDS_FILE))}

    def check_targets(self, variants: Sequence[Variant]) -> None:
        """InputError (before anything starts) for a variant whose target the harness starts
        on 127.0.0.1 when the workers are on other machines (a non-loopback ``--bind``)."""
        if is_loopback(self.bind_host):
            return
        for v in variants:
            if not isinstance(v.target, ExternalSpec):
                raise InputError(
                    f"--workers with --bind {self.bind_host}: variant '{v.name}' has a "
                    f"{v.target.kind} target, which the harness starts on 127.0.0.1 where workers "
                    "on other machines cannot reach it; use an external target "
                    "(docs/distributed.md)")

    # ---- steps ------------------------------------------------------------------------------

    def _check_reachable(self, url: str) -> None:
        host = urlsplit(url).hostname or ""
        if is_loopback(host) and not is_loopback(self.bind_host):
            raise LoadError(f"--workers: the target {url} listens on loopback, which workers on "
                            "other machines cannot reach; give an external target at an "
                            "address they can reach (docs/distributed.md)")

    async def _wait_for_workers(self) -> None:
        deadline = time.monotonic() + self.wait_s
        while len(idle := self.coordinator.idle_workers()) < self.workers:
            if time.monotonic() > deadline:
                heard = ", ".join(idle) or "none"
                raise LoadError(
                    f"--workers {self.workers}: waited {self.wait_s:g}s at "
                    f"{self.bind_host}:{self.bind_port}, {len(idle)} idle worker(s) ({heard}); "
                    f"start `pgstampede worker --master {self.bind_host}:{self.bind_port}` "
                    "on each load machine")
            await asyncio.sleep(POLL_S)

    async def _wait_for_uploads(self, offer: Offer) -> None:
        deadline = time.monotonic() + self.upload_s
        while self.coordinator.pending(offer) and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)

    def _records(self, offer: Offer, out_dir: Path, start: float, end: float
                 ) -> tuple[WorkerRecord, ...]:
        locust = _json_rows(out_dir / WORKERS_FILE)
        window = (start, end) if math.isfinite(start) and math.isfinite(end) else None
        with self.coordinator.lock:
            outcomes: list[WorkerOutcome] = list(offer.taken.values())
        records = tuple(worker_record(o, [t for t in locust if t.get("worker") == o.name],
                                      out_dir, window) for o in outcomes)
        (out_dir / RECORDS_FILE).write_text(dumps(records, indent=1), encoding="utf-8")
        return records


def _json_rows(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON list file (empty when there is none: the variant ended early)."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
