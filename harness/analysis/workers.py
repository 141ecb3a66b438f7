"""Per-worker-host load metrics of a distributed run (``pgstampede run --workers N``).

The ``workers`` frame holds each worker's CPU samples (``t``, ``worker``, ``host``,
``address``, ``host_cpu_percent`` of all its cores, ``locust_cpu_percent`` and
``locust_wait_percent`` of one core); a local run has none and these metrics are null there.
A worker host is saturated by the saturation rule of a local Locust
(``harness.results.saturation``: CPU used plus run-queue wait) over its Locust's samples of
the load window.
"""

from __future__ import annotations

import pandas as pd

from harness.results import metric_names as M
from harness.results.saturation import busy_percent, saturated
from harness.results.summary import Metrics

WORKER_METRICS = (M.LOAD_WORKERS, M.LOAD_WORKERS_SATURATED, M.LOAD_WORKERS_CPU_LOCUST_MAX,
                  M.LOAD_WORKERS_CPU_HOST_MAX)


def saturated_workers(rows: pd.DataFrame) -> list[str]:
    """The workers whose Locust was saturated in ``rows`` (already cut to the window)."""
    if rows.empty:
        return []
    busy = rows.assign(wait=rows["locust_wait_percent"].fillna(0.0))  # NaN: not recorded
    return sorted(str(worker) for worker, samples in busy.groupby("worker")
                  if saturated(busy_percent(float(c), float(w)) for c, w in zip(
                      samples["locust_cpu_percent"], samples["wait"], strict=True)))


def worker_metrics(rows: pd.DataFrame) -> Metrics:
    """``load.workers*`` from the ``workers`` rows of the load window (null when none)."""
    if rows.empty:
        return dict.fromkeys(WORKER_METRICS)
    means = rows.groupby("worker")[["locust_cpu_percent", "host_cpu_percent"]].mean()
    return {
        M.LOAD_WORKERS: int(rows["worker"].nunique()),
        M.LOAD_WORKERS_SATURATED: len(saturated_workers(rows)),
        M.LOAD_WORKERS_CPU_LOCUST_MAX: round(float(means["locust_cpu_percent"].max()), 2),
        M.LOAD_WORKERS_CPU_HOST_MAX: round(float(means["host_cpu_percent"].max()), 2),
    }
