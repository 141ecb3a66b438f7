"""Pooler metrics and reconnect storms, from a variant run's frames (pure pandas).

- ``pooler.refused``: clients the pooler itself turned away (``pooler_log`` events
  ``refused``: PgBouncer's ``max_client_conn``, pgpool's "Sorry, too many clients
  already") from the load start on; null without a pooler.
- ``pooler.state_leaks``: ``/read_state`` answers that found another request's session
  state (their ``counter`` is 1; see ``targets/shared/session_state.py``); null without
  ``/read_state`` requests.

Reconnect storms, over every ``restart_postgres`` / ``restart_pgbouncer`` fault of the run,
in its *recovery window*: from the fault's start to its end plus ``RECOVERY_S``:

- ``faults.connects_per_s.peak``: most connections PostgreSQL authorised in one second
  (server log ``authorized``);
- ``faults.refused_53300``: connections refused with 53300 (too many clients);
- ``faults.refused_57p03``: connections refused with 57P03 (the database system is starting
  up);
- ``faults.pool_refill_s.max``: seconds from the fault's end until the server holds as many
  client backends as it held just before the fault (the most in the ``BEFORE_S`` before it;
  ``db`` frame ``total``) — for a pooler, the time until its pool is full again. A pool
  that never refills gets the rest of the recording (a lower bound).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from harness.results import metric_names as M
from harness.results.records import FaultEvent
from harness.results.summary import Metrics

RECOVERY_S = 10.0
BEFORE_S = 5.0
STORM_FAULTS = ("restart_postgres", "restart_pgbouncer")
STORM_METRICS = (M.FAULTS_CONNECTS_PER_S_PEAK, M.FAULTS_REFUSED_53300, M.FAULTS_REFUSED_57P03,
                 M.FAULTS_POOL_REFILL_S_MAX)


def pooler_metrics(frames: Mapping[str, pd.DataFrame], pooler: str, load_start: float,
                   endpoint_names: pd.Series) -> Metrics:
    """``pooler.refused`` and ``pooler.state_leaks`` (see the module doc)."""
    log = frames["pooler_log"]
    refused = None if pooler == "none" else \
        int(((log["event"] == "refused") & (log["t"] >= load_start)).sum())
    requests = frames["requests"]
    reads = requests[(endpoint_names == "read_state") & (requests["kind"] == "")]
    leaks = int((reads["counter"] == 1).sum()) if len(reads) else None
    return {M.POOLER_REFUSED: refused, M.POOLER_STATE_LEAKS: leaks}


def _events_in(pglog: pd.DataFrame, event: str, start: float, end: float) -> pd.Series:
    rows = pglog[(pglog["event"] == event) & (pglog["t"] >= start) & (pglog["t"] < end)]
    return rows["t"]


def _peak_per_second(times: pd.Series, start: float) -> int:
    if times.empty:
        return 0
    return int(np.bincount(np.floor(times.to_numpy() - start).astype("int64")).max())


def refill_s(db: pd.DataFrame, fault: FaultEvent) -> float | None:
    """Seconds from the fault's end until ``db.total`` is back at its level before the
    fault; None without samples before it."""
    before = db[(db["t"] >= fault.start - BEFORE_S) & (db["t"] < fault.start)]
    after = db[db["t"] >= fault.end]
    if before.empty or after.empty:
        return None
    level = int(before["total"].max())
    full = after[after["total"] >= level]
    end = full["t"].iloc[0] if len(full) else after["t"].iloc[-1]
    return round(max(float(end) - fault.end, 0.0), 3)


def storm_metrics(frames: Mapping[str, pd.DataFrame], faults: Sequence[FaultEvent]) -> Metrics:
    """The reconnect-storm metrics over the run's restart faults; null without one."""
    restarts = [f for f in faults if f.kind in STORM_FAULTS and f.ok]
    if not restarts:
        return dict.fromkeys(STORM_METRICS)
    pglog, db = frames["pglog"], frames["db"]
    peak = refused = starting = 0
    refills: list[float] = []
    for fault in restarts:
        end = max(fault.end, fault.start) + RECOVERY_S
        peak = max(peak, _peak_per_second(_events_in(pglog, "authorized", fault.start, end),
                                          fault.start))
        refused += len(_events_in(pglog, "refused", fault.start, end))
        starting += len(_events_in(pglog, "starting_up", fault.start, end))
        refill = refill_s(db, fault)
        if refill is not None:
            refills.append(refill)
    return {M.FAULTS_CONNECTS_PER_S_PEAK: peak, M.FAULTS_REFUSED_53300: refused,
            M.FAULTS_REFUSED_57P03: starting,
            M.FAULTS_POOL_REFILL_S_MAX: max(refills) if refills else None}
