"""What a fault did: errors it caused, time to recover, whether the targets reconnected.

Definitions (per fault, from the per-request log):
- the *baseline error rate* is the failure ratio of the 5 s before the fault started (0 when
  there were no requests then);
- the fault *recovered* at the start of the first 1-second bin, at or after the fault's own
  end, from which two consecutive bins (or the last bin of the load) have requests and an
  error rate no higher than the baseline + 2 percentage points; ``recovery_s`` counts from
  the fault's start. A fault that never recovers gets ``recovery_s`` = the rest of the load
  (a lower bound) and ``recovered = false``;
- ``errors`` are the failed requests from the fault's start to its recovery;
- the targets *reconnected* when a database request (anything but /counter and /health)
  succeeded after the recovery point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from harness.results import metric_names as M
from harness.results.records import FaultEvent
from harness.results.summary import FaultEffect, Metrics

BEFORE_S = 5.0
TOLERANCE = 0.02
NO_DB = {"counter", "health"}


def _bins(requests: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
    """Requests and failures per 1-second bin from ``start`` to ``end``."""
    window = requests[(requests["t"] >= start) & (requests["t"] < end)]
    index = np.floor(window["t"].to_numpy() - start).astype("int64")
    failed = (window["kind"].to_numpy() != "").astype("int64")
    n = max(int(math.ceil(end - start)), 1)
    total = np.bincount(index, minlength=n)[:n]
    fails = np.bincount(index, weights=failed, minlength=n)[:n]
    return pd.DataFrame({"requests": total, "failures": fails})


def _recovery_bin(bins: pd.DataFrame, first: int, limit: float) -> int | None:
    ok = (bins["requests"] > 0) & (bins["failures"] / bins["requests"].clip(lower=1) <= limit)
    flags = ok.to_list()
    for i in range(first, len(flags)):
        if flags[i] and (i + 1 >= len(flags) or flags[i + 1]):
            return i
    return None


def fault_effect(requests: pd.DataFrame, fault: FaultEvent, load_start: float,
                 load_end: float, repeat: int = 1) -> FaultEffect:
    """The measured effect of one recorded fault on repeat ``repeat`` (see the module
    docstring)."""
    start, end = fault.start, max(fault.end, fault.start)
    before = requests[(requests["t"] >= max(load_start, start - BEFORE_S))
                      & (requests["t"] < start)]
    base_rate = float((before["kind"] != "").mean()) if len(before) else 0.0
    bins = _bins(requests, start, max(load_end, end + 1.0))
    rec = _recovery_bin(bins, int(end - start), base_rate + TOLERANCE)
    recovered_at = max(start + rec, end) if rec is not None else load_end
    during = requests[(requests["t"] >= start) & (requests["t"] < recovered_at)]
    after = requests[(requests["t"] >= recovered_at) & (requests["kind"] == "")
                     & (~requests["endpoint"].isin(NO_DB))]
    return FaultEffect(
        repeat=repeat, kind=fault.kind, at_s=round(start - load_start, 3),
        duration_s=round(end - start, 3), detail=fault.detail,
        ok=fault.ok, errors=int((during["kind"] != "").sum()),
        error_rate_before=round(base_rate, 4), recovered=rec is not None,
        recovery_s=round(recovered_at - start, 3), reconnected=bool(len(after)),
    )


def fault_metrics(effects: Sequence[FaultEffect]) -> Metrics:
    """The summary metrics of a variant run's faults (null without faults)."""
    if not effects:
        return {M.FAULTS_COUNT: None, M.FAULTS_ERRORS: None, M.FAULTS_RECOVERY_S_MAX: None,
                M.FAULTS_UNRECOVERED: None, M.FAULTS_RECONNECTED: None}
    return {
        M.FAULTS_COUNT: len(effects),
        M.FAULTS_ERRORS: sum(e.errors for e in effects),
        M.FAULTS_RECOVERY_S_MAX: max(e.recovery_s for e in effects),
        M.FAULTS_UNRECOVERED: sum(1 for e in effects if not e.recovered),
        M.FAULTS_RECONNECTED: all(e.reconnected for e in effects),
    }
