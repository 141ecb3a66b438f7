"""Metrics of one variant run, computed from its frames (pure pandas).

Every name of ``harness.results.metrics.METRICS`` is produced, null when it does not
apply: ``pooler.*`` without a pooler, ``platform.*`` without platform frames,
``time_to_first_refusal_s`` without refusals, ``background.*`` without ``/background``
requests, ``state.*`` without ``/counter`` requests, ``host.*`` for an unrecorded role.

Windows. For the whole run:
- requests: every row of the per-request log (``http.rps`` divides by the load window);
- gauges (db, pooler, platform, host): peaks from the load start to the end of the
  recording (zombies keep their connections after the load stops), means over the load
  window ``[load_start, load_end]``;
- events (server log, cold starts, cumulative platform counters): from the load start on.
For a stage, everything is restricted to ``[stage.start, stage.end)``.

Background jobs: a job is *lost* when it never completed, *delayed* when it completed
more than ``BACKGROUND_TOLERANCE_MS`` after its ``due_at`` (``scheduled_at`` +
``background_delay_ms`` when ``due_at`` is missing). The work of a warm instance runs
within a few milliseconds of ``due_at`` (one timer and one UPDATE); a frozen instance
only runs it when thawed by its next request, hundreds of milliseconds or seconds later.
250 ms sits above event-loop stalls on a loaded 2-core machine and below a freeze.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.app_work import app_work_metrics
from harness.analysis.backends import exact_peak, usable_slots
from harness.analysis.busy import busy_ms
from harness.analysis.db_errors import before_final_stop
from harness.analysis.frames import (
    MONITOR_USER,
    endpoint_name,
    platform_live,
    pooler_totals,
)
from harness.analysis.host_saturation import host_metrics
from harness.analysis.inflight import in_flight_peak
from harness.analysis.poolers import pooler_metrics
from harness.analysis.realtime import realtime_metrics
from harness.analysis.workers import worker_metrics
from harness.results import metric_names as M
from harness.results.limit import LIMIT_METRICS_PREFIX
from harness.results.metrics import METRICS
from harness.results.records import StageWindow
from harness.results.saturation import busy_percent, saturated
from harness.results.summary import Metrics, StageSummary

BACKGROUND_TOLERANCE_MS = 250.0


@dataclass(frozen=True)
class VariantContext:
    """What the analysis needs to know about a variant run besides its frames."""

    load_start: float
    load_end: float
    max_connections: int
    pooler: str
    target: str
    stages: tuple[StageWindow, ...]
    background_delay_ms: float
    app: bool = False  # the user's own app ([app]): its unhandled exceptions are recorded


@dataclass(frozen=True)
class _Window:
    start: float
    end: float
    whole_run: bool

    @property
    def duration(self) -> float:
        return max(self.end - self.start, 1e-9)

    def rows(self, frame: pd.DataFrame, col: str = "t", kind: str = "event") -> pd.DataFrame:
        """Rows of ``frame`` in this window; ``kind`` is event, gauge, mean or request."""
        t = frame[col]
        if not self.whole_run:
            return frame[(t >= self.start) & (t < self.end)]
        if kind == "request":
            return frame
        if kind == "mean":
            return frame[(t >= self.start) & (t <= self.end)]
        return frame[t >= self.start]


def _num(value: float | np.floating | None, digits: int = 3) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), digits)


def _quantile(values: pd.Series, q: float) -> float | None:
    if values.empty:
        return None
    return _num(np.quantile(values.to_numpy(dtype="float64"), q))


def _http(requests: pd.DataFrame, window: _Window) -> Metrics:
    req = window.rows(requests, kind="request")
    n = len(req)
    kinds = req["kind"]
    failures = int((kinds != "").sum())
    latency = req["latency_ms"]
    out: Metrics = {
        M.HTTP_REQUESTS: n,
        M.HTTP_FAILURES: failures,
        M.HTTP_ERROR_RATE: _num(failures / n, 6) if n else None,
        M.HTTP_RPS: _num(n / window.duration),
        M.LATENCY_P50_MS: _quantile(latency, 0.50),
        M.LATENCY_P95_MS: _quantile(latency, 0.95),
        M.LATENCY_P99_MS: _quantile(latency, 0.99),
        M.LATENCY_MAX_MS: _num(latency.max()) if n else None,
        M.HTTP_IN_FLIGHT_PEAK: in_flight_peak(req),
    }
    counts = kinds.value_counts()
    for kind in M.ERROR_KINDS:
        out[M.error_count(kind)] = int(counts.get(kind, 0))
    return out


def _db(frames: Mapping[str, pd.DataFrame], ctx: VariantContext, window: _Window) -> Metrics:
    db, pglog = frames["db"], frames["pglog"]
    peak_rows = window.rows(db, kind="gauge")
    mean_rows = window.rows(db, kind="mean")
    sampled = int(peak_rows["total"].max()) if len(peak_rows) else None
    exact = exact_peak(pglog, window.start, None if window.whole_run else window.end)
    out: Metrics = {
        M.DB_CONNECTIONS_PEAK: _larger(exact, sampled),
        M.DB_CONNECTIONS_PEAK_SAMPLED: sampled,
        M.DB_CONNECTIONS_MEAN: _num(mean_rows["total"].mean()) if len(mean_rows) else None,
        M.DB_CONNECTIONS_IDLE_PEAK: int(peak_rows["idle"].max()) if len(peak_rows) else None,
        M.DB_CONNECTIONS_IDLE_MEAN: _num(mean_rows["idle"].mean()) if len(mean_rows) else None,
        M.DB_MAX_CONNECTIONS: ctx.max_connections,
        M.DB_CONNECTIONS_USABLE: usable_slots(ctx.max_connections),
        M.DB_CONNECTS: None,
        M.DB_REFUSED: None,
        M.DB_ERRORS: len(window.rows(before_final_stop(frames["db_errors"], pglog))),
        M.APP_EXCEPTIONS: len(window.rows(frames["app_exceptions"])) if ctx.app else None,
        M.TIME_TO_FIRST_REFUSAL_S: None,
    }
    if pglog.empty:
        return out
    events = window.rows(pglog)
    authorized = events[(events["event"] == "authorized") & (events["user"] != MONITOR_USER)]
    refused = events[events["event"] == "refused"]
    out[M.DB_CONNECTS] = len(authorized)
    out[M.DB_REFUSED] = len(refused)
    if len(refused):
        out[M.TIME_TO_FIRST_REFUSAL_S] = _num(refused["t"].min() - ctx.load_start)
    return out


def _larger(exact: int | None, sampled: int | None) -> int | None:
    """The peak: the server log's replay (every connection of the app's roles), or a sample
    when one saw more (a sample also holds other superuser sessions); either when alone."""
    if exact is None or sampled is None:
        return exact if exact is not None else sampled
    return max(exact, sampled)


def _pooler(pooler: pd.DataFrame, ctx: VariantContext, window: _Window) -> Metrics:
    names = (M.POOLER_CL_WAITING_PEAK, M.POOLER_MAXWAIT_MS_PEAK, M.POOLER_SV_ACTIVE_PEAK)
    totals = pooler_totals(pooler).reset_index()
    # An external target brings its own PgBouncer (its pooler is "none"): it is watched
    # through pgbouncer_admin_dsn, so its samples count.
    watched = ctx.pooler != "none" or ctx.target == "external"
    if not watched or totals.empty:
        return dict.fromkeys(names)
    rows = window.rows(totals, kind="gauge")
    if rows.empty:
        return dict.fromkeys(names)
    return {
        M.POOLER_CL_WAITING_PEAK: int(rows["cl_waiting"].max()),
        M.POOLER_MAXWAIT_MS_PEAK: _num(rows["maxwait_ms"].max()),
        M.POOLER_SV_ACTIVE_PEAK: int(rows["sv_active"].max()),
    }


def _counter_delta(frame: pd.DataFrame, col: str, window: _Window) -> int:
    """Increase of a cumulative counter over the window (0 before its first sample)."""
    inside = window.rows(frame)
    if inside.empty:
        return 0
    before = frame[frame["t"] < window.start]
    base = int(before.sort_values("t")[col].iloc[-1]) if len(before) else 0
    return max(0, int(inside[col].max()) - base)


def _platform(frames: Mapping[str, pd.DataFrame], window: _Window) -> Metrics:
    platform, cold = frames["platform"], frames["cold_starts"]
    names = [n for n in METRICS if n.startswith("platform.")]
    if platform.empty and cold.empty:
        return dict.fromkeys(names)
    starts = window.rows(cold)["duration_ms"]
    gauges = window.rows(platform, kind="gauge")
    out: Metrics = dict.fromkeys(names)
    out[M.PLATFORM_COLD_STARTS] = len(starts)
    out[M.PLATFORM_COLD_START_MS_P50] = _quantile(starts, 0.50)
    out[M.PLATFORM_COLD_START_MS_P95] = _quantile(starts, 0.95)
    cpu = window.rows(cold)["cpu_ms"].dropna()  # NaN: not read (or an older run folder)
    out[M.PLATFORM_COLD_START_CPU_MS_P50] = _quantile(cpu, 0.50)
    out[M.PLATFORM_COLD_START_CPU_MS_P95] = _quantile(cpu, 0.95)
    if platform.empty:
        return out
    if len(gauges):
        out[M.PLATFORM_INSTANCES_PEAK] = int(platform_live(gauges).max())
        out[M.PLATFORM_FROZEN_PEAK] = int(gauges["frozen"].max())
        out[M.PLATFORM_ZOMBIES_PEAK] = int(gauges["zombie"].max())
        out[M.PLATFORM_QUEUE_PEAK] = int(gauges["queue"].max())
        out[M.PLATFORM_BUSY_MS] = busy_ms(gauges)
    out[M.PLATFORM_REAPED] = _counter_delta(platform, "reaped", window)
    out[M.PLATFORM_THROTTLED] = _counter_delta(platform, "throttled", window)
    if "init_failures" in platform:  # recorded since apps run on the platform
        out[M.PLATFORM_INIT_FAILURES] = _counter_delta(platform, "init_failures", window)
    return out


def _background(
    frames: Mapping[str, pd.DataFrame], ctx: VariantContext, window: _Window, names: pd.Series
) -> Metrics:
    keys = [n for n in METRICS if n.startswith("background.")]
    if not bool((names == "background").any()):
        return _app_background(frames["platform"], window, ctx.app) or dict.fromkeys(keys)
    jobs = window.rows(frames["background"], col="scheduled_at")
    due = jobs["due_at"].fillna(jobs["scheduled_at"] + ctx.background_delay_ms / 1000.0)
    done = jobs["completed_at"].notna()
    late_ms = ((jobs["completed_at"] - due) * 1000.0).clip(lower=0.0)[done]
    return {
        M.BACKGROUND_COMPLETED: int(done.sum()),
        M.BACKGROUND_DELAYED: int((late_ms > BACKGROUND_TOLERANCE_MS).sum()),
        M.BACKGROUND_LOST: int((~done).sum()),
        M.BACKGROUND_DELAY_MS_P95: _quantile(late_ms, 0.95),
    }


APP_BACKGROUND = ("background_pending", "background_completed", "background_delayed",
                  "background_lost")


def _app_background(platform: pd.DataFrame, window: _Window, app: bool = False
                    ) -> Metrics | None:
    """An app's work after its responses, as the platform counted it (None when there was
    none, unless the variant runs a user's app: then none is 0 completed, 0 delayed, 0 lost,
    e.g. with ``adapter = "mangum"``, where the work ends inside the invocation): over the
    whole run, lost includes the work still pending (frozen) at the end of the recording."""
    if platform.empty or not set(APP_BACKGROUND) <= set(platform.columns):
        return None
    if not app and not bool((platform[list(APP_BACKGROUND)] > 0).any().any()):
        return None
    last = int(platform.sort_values("t")["background_pending"].iloc[-1])
    pending = last if window.whole_run else 0
    return {
        M.BACKGROUND_COMPLETED: _counter_delta(platform, "background_completed", window),
        M.BACKGROUND_DELAYED: _counter_delta(platform, "background_delayed", window),
        M.BACKGROUND_LOST: _counter_delta(platform, "background_lost", window) + pending,
        M.BACKGROUND_DELAY_MS_P95: None,
    }


def _state(requests: pd.DataFrame, window: _Window, names: pd.Series) -> Metrics:
    counter_rows = requests[names == "counter"]
    in_window = window.rows(counter_rows, kind="request")
    if in_window.empty:
        return {M.STATE_INSTANCES_SEEN: None, M.STATE_COUNTER_DIVERGENCE: None}
    ok = in_window[(in_window["kind"] == "") & (in_window["counter"] >= 0)]
    seen = ok.loc[ok["instance"] != "", "instance"].nunique()
    before = counter_rows[(counter_rows["t"] < window.start) & (counter_rows["counter"] >= 0)]
    base = before.groupby("instance")["counter"].max()
    top = ok.groupby("instance")["counter"].max()
    gained = (top - base.reindex(top.index).fillna(0)).clip(lower=0)
    highest = int(gained.max()) if len(gained) else 0
    # an increment whose answer was lost (a timeout after the commit) puts a shared counter
    # (state = "postgres") ahead of the answers: that is no divergence, hence never below 0
    return {M.STATE_INSTANCES_SEEN: int(seen),
            M.STATE_COUNTER_DIVERGENCE: max(0, len(ok) - highest)}


def _host(host: pd.DataFrame, window: _Window) -> Metrics:
    out: Metrics = {}
    cols = ["cpu_percent", "rss_mb", "processes"]
    if "wait_percent" in host.columns:  # run folders from before it was recorded lack it
        cols.append("wait_percent")
    per_role = host.groupby(["t", "role"], as_index=False)[cols].sum(min_count=1)
    means = window.rows(per_role, kind="mean")
    peaks = window.rows(per_role, kind="gauge")
    for role in M.HOST_ROLES:
        cpu = means.loc[means["role"] == role, "cpu_percent"]
        rss = peaks.loc[peaks["role"] == role, "rss_mb"]
        out[M.host_cpu_mean(role)] = _num(cpu.mean(), 2) if len(cpu) else None
        out[M.host_rss_peak_mb(role)] = _num(rss.max(), 1) if len(rss) else None
    out[M.LOAD_SATURATED] = _saturated(means)
    out.update(host_metrics(means))
    return out


def locust_workers(processes: pd.Series) -> pd.Series:
    """How many Locust processes generate load, from the ``locust`` role's process count.

    One process is a plain Locust. ``--processes N`` (N >= 2) shows N + 1: a master that
    only aggregates statistics (a few % of a core) and N forked workers that send the
    requests, so the load is spread over ``processes - 1`` workers. Two is ambiguous (a
    master and one worker, or a worker being forked or exiting) and counts as two.
    """
    return processes.where(processes < 3, processes - 1).clip(lower=1)


def _saturated(host_rows: pd.DataFrame) -> bool | None:
    """Locust busy above 90% of a core (per load-generating process) in more than 10% of
    samples, where busy = CPU used + time waiting for a CPU (run-queue wait, when recorded):
    a Locust held back by other processes on its core is as saturated as one using it all.
    """
    if host_rows.empty:
        return None
    locust = host_rows[(host_rows["role"] == "locust") & (host_rows["processes"] > 0)]
    if locust.empty:
        return None
    wait = locust["wait_percent"].fillna(0.0) if "wait_percent" in locust.columns \
        else pd.Series(0.0, index=locust.index)
    return saturated(busy_percent(float(cpu), float(w), int(n)) for cpu, w, n in zip(
        locust["cpu_percent"], wait, locust_workers(locust["processes"]), strict=True))


def _metrics(frames: Mapping[str, pd.DataFrame], ctx: VariantContext, window: _Window) -> Metrics:
    requests = frames["requests"]
    all_names = endpoint_name(requests["endpoint"])
    names = all_names.loc[window.rows(requests, kind="request").index]
    parts: Metrics = {}
    parts.update(_http(requests, window))
    parts.update(_db(frames, ctx, window))
    parts.update(_pooler(frames["pooler"], ctx, window))
    parts.update(_platform(frames, window))
    parts.update(_background(frames, ctx, window, names))
    parts.update(_state(requests, window, all_names))
    parts.update(_host(frames["host"], window))
    parts.update(worker_metrics(window.rows(frames["workers"], kind="mean")))
    if window.whole_run:  # pooler refusals and state leaks: over the whole run only
        parts.update(pooler_metrics(frames, ctx.pooler, ctx.load_start, all_names))
    if window.whole_run:  # [app.expect]: counted once, after the load
        parts.update(app_work_metrics(requests, frames["app_work"]))
    if window.whole_run:  # realtime: over the whole run only (subscriptions span stages)
        parts.update(realtime_metrics(frames["realtime"], frames["realtime_published"],
                                      frames["db_listen"]))
    return {name: parts.get(name) for name in METRICS
            if not name.startswith(LIMIT_METRICS_PREFIX)}  # limit.*: once per search


def compute_metrics(frames: Mapping[str, pd.DataFrame], ctx: VariantContext) -> Metrics:
    """Every metric of ``METRICS`` for one variant run (see the module doc for windows)."""
    return _metrics(frames, ctx, _Window(ctx.load_start, ctx.load_end, whole_run=True))


def stage_metrics(
    frames: Mapping[str, pd.DataFrame], ctx: VariantContext
) -> tuple[StageSummary, ...]:
    """The metrics of each stage window (``start_s``/``end_s`` from the load start)."""
    return tuple(
        StageSummary(
            stage=index,
            start_s=round(stage.start - ctx.load_start, 3),
            end_s=round(stage.end - ctx.load_start, 3),
            users=stage.users,
            metrics=_metrics(frames, ctx, _Window(stage.start, stage.end, whole_run=False)),
        )
        for index, stage in enumerate(ctx.stages)
    )
