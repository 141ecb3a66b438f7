"""Per-worker figures of a distributed variant: what each worker sent, its CPU, whether lost.

Pure functions over what the coordinator and the Locust master gathered (the request logs
are only counted). A worker host is *saturated* by the saturation rule
(``harness.results.saturation``) over its Locust's samples of the load window: CPU used plus
run-queue wait, as for a local Locust.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.load.coordinator import WorkerOutcome
from harness.load.messages import CpuSample
from harness.results.frames import coerce_frame, empty_frame
from harness.results.saturation import busy_percent, saturated


@dataclass(frozen=True)
class WorkerRecord:
    """One worker's part in one distributed variant (``<variant>/<n>/locust/workers.json``)."""

    name: str
    host: str
    address: str  # where it reached the master from
    cores: int
    done: bool  # it shipped its logs and said so
    locust_rc: int | None  # its Locust worker's exit code
    locust_requests: int  # Locust's own count, from the worker's reports to the master
    locust_failures: int
    logged_requests: int  # rows of the request logs it shipped
    last_heard: float  # epoch seconds
    missing_at: float | None  # when Locust saw it stop answering heartbeats
    cpu_host_mean: float | None  # % of all the host's cores, over the load window
    cpu_locust_mean: float | None  # % of one core
    saturated: bool | None
    cpu: tuple[CpuSample, ...]


def locust_saturated(cpu: Sequence[CpuSample]) -> bool | None:
    """The saturation rule (``harness.results.saturation``) over the worker's Locust samples,
    CPU used plus run-queue wait (None: empty)."""
    return saturated(busy_percent(locust, wait) for _, _, locust, wait in cpu)


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def logged_rows(paths: Sequence[Path]) -> int:
    """Request rows in the uploaded logs (lines minus one header each; 0 if missing)."""
    rows = 0
    for path in paths:
        try:
            with path.open("rb") as f:
                rows += max(sum(1 for _ in f) - 1, 0)
        except OSError:
            continue
    return rows


def worker_record(outcome: WorkerOutcome, locust: Sequence[Mapping[str, Any]], out_dir: Path,
                  window: tuple[float, float] | None = None) -> WorkerRecord:
    """The record of one worker from the coordinator's outcome and the master's totals."""
    cpu = tuple(s for s in outcome.cpu
                if window is None or window[0] <= s[0] <= window[1]) or tuple(outcome.cpu)
    missing = [float(r["missing_at"]) for r in locust if r.get("missing_at") is not None]
    return WorkerRecord(
        name=outcome.name, host=outcome.host, address=outcome.address, cores=outcome.cores,
        done=outcome.done,
        locust_rc=outcome.locust_rc,
        locust_requests=sum(int(r.get("requests", 0)) for r in locust),
        locust_failures=sum(int(r.get("failures", 0)) for r in locust),
        logged_requests=logged_rows([out_dir / name for name in outcome.logs]),
        last_heard=outcome.last_heard, missing_at=min(missing) if missing else None,
        cpu_host_mean=_mean([s[1] for s in cpu]), cpu_locust_mean=_mean([s[2] for s in cpu]),
        saturated=locust_saturated(cpu), cpu=cpu)


def workers_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The ``workers`` frame (one row per CPU sample) of records as written to JSON."""
    rows = [{"t": t, "worker": r["name"], "host": r["host"], "address": r["address"],
             "host_cpu_percent": host, "locust_cpu_percent": locust,
             "locust_wait_percent": wait}
            for r in records for t, host, locust, wait in r.get("cpu") or ()]
    if not rows:
        return empty_frame("workers")
    return coerce_frame("workers", pd.DataFrame(rows)).sort_values("t", kind="stable")


def lost_problem(record: WorkerRecord, load_end: float) -> str | None:
    """Why the variant is incomplete because of this worker, or None when it was not lost."""
    lost_during_load = record.missing_at is not None and (
        not math.isfinite(load_end) or record.missing_at < load_end)
    if record.done and not lost_during_load:
        return None
    when = record.missing_at if record.missing_at is not None else record.last_heard
    where = record.address or record.host or "unknown address"
    return (f"worker {record.name} ({where}) lost at {when:.3f} "
            f"after {record.locust_requests} requests (Locust's count); the remaining load "
            "fell below the plan")
