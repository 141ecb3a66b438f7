"""Time-aligned series of a variant run, ready to plot (pure pandas, no drawing).

Everything is binned per second since the load start (see ``frames``) over the load
window, then thinned to at most ``MAX_POINTS`` points per series so a chart of an
hour-long run stays small: gauges keep their maximum, rates their mean. The latency
CDF is read from quantiles of every request (the same set as the summary's
percentiles), not drawn point by point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.frames import (
    PLATFORM_STATES,
    bin_aggregate,
    bin_counts,
    bin_quantiles,
    bin_range,
    pooler_totals,
)
from harness.analysis.metrics import VariantContext
from harness.analysis.run import VariantRun

MAX_POINTS = 1200
CDF_QUANTILES: np.ndarray = np.unique(
    np.concatenate(
        [np.linspace(0.0, 0.99, 397), np.linspace(0.99, 0.999, 46), np.linspace(0.999, 1, 11)]
    )
)


@dataclass(frozen=True)
class VariantSeries:
    """Per-second series of one variant run (index: seconds since load start)."""

    name: str
    pooler: str
    max_connections: int
    users: pd.Series
    db_total: pd.Series
    requests_ok: pd.Series
    requests_failed: pd.Series
    errors_by_kind: pd.DataFrame
    latency: pd.DataFrame
    pooler_queue: pd.DataFrame
    platform_states: pd.DataFrame
    cold_starts: pd.Series
    cdf: pd.DataFrame
    faults: tuple[tuple[float, float, str], ...] = ()  # (start_s, end_s, kind)


def users_curve(ctx: VariantContext, bins: range) -> pd.Series:
    """Target users at each second: ramps toward each stage's users at its spawn rate."""
    seconds = np.asarray(list(bins), dtype="float64")
    users = np.zeros(seconds.size)
    current = 0.0
    for stage in ctx.stages:
        start = stage.start - ctx.load_start
        end = stage.end - ctx.load_start
        inside = (seconds >= start) & (seconds < end)
        rate = stage.spawn_rate if stage.spawn_rate > 0 else 1e12  # no rate: a step
        step = np.minimum((seconds[inside] - start) * rate, abs(stage.users - current))
        users[inside] = current + np.sign(stage.users - current) * step
        current = float(stage.users)
    return pd.Series(users, index=pd.Index(list(bins), name="second"), name="users")


def thin(frame: pd.DataFrame, how: str, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """At most ``max_points`` rows: consecutive seconds merged with ``how`` (max or mean)."""
    if len(frame) <= max_points:
        return frame
    width = math.ceil(len(frame) / max_points)
    groups = np.arange(len(frame)) // width
    merged = frame.groupby(groups).agg(how)
    merged.index = pd.Index(frame.index.to_numpy()[::width][: len(merged)], name="second")
    return merged


def _thin_series(series: pd.Series, how: str) -> pd.Series:
    return thin(series.to_frame(), how).iloc[:, 0]


def latency_cdf(latency_ms: pd.Series) -> pd.DataFrame:
    """The latency CDF from quantiles: columns ``latency_ms`` and ``fraction``."""
    if latency_ms.empty:
        return pd.DataFrame({"latency_ms": [], "fraction": []}, dtype="float64")
    values = np.quantile(latency_ms.to_numpy(dtype="float64"), CDF_QUANTILES)
    return pd.DataFrame({"latency_ms": values, "fraction": CDF_QUANTILES})


def _requests_series(requests: pd.DataFrame, ctx: VariantContext, bins: range
                     ) -> tuple[pd.Series, pd.Series, pd.DataFrame, pd.DataFrame]:
    failed = requests[requests["kind"] != ""]
    ok = bin_counts(requests[requests["kind"] == ""], ctx.load_start, bins)["count"]
    bad = bin_counts(failed, ctx.load_start, bins)["count"]
    kinds = bin_counts(failed, ctx.load_start, bins, by="kind") if len(failed) else (
        pd.DataFrame(index=ok.index)
    )
    quantiles = bin_quantiles(requests, "latency_ms", ctx.load_start, bins, (0.5, 0.95, 0.99))
    quantiles.columns = ["p50", "p95", "p99"]
    return (
        _thin_series(ok, "mean"),
        _thin_series(bad, "mean"),
        thin(kinds, "mean"),
        thin(quantiles, "max"),
    )


def _platform_series(run: VariantRun, ctx: VariantContext, bins: range
                     ) -> tuple[pd.DataFrame, pd.Series]:
    platform = run.frames["platform"]
    states = bin_aggregate(platform, ctx.load_start, bins, PLATFORM_STATES, how="mean")
    cold = run.frames["cold_starts"]
    starts = bin_counts(cold, ctx.load_start, bins)["count"] if len(cold) else (
        pd.Series(0, index=states.index, dtype="int64")
    )
    return thin(states, "max"), _thin_series(starts, "mean")


def variant_series(run: VariantRun) -> VariantSeries | None:
    """The plotted series of one variant run; None when its load never started."""
    ctx = run.ctx
    if ctx is None:
        return None
    bins = bin_range(ctx.load_start, ctx.load_end)
    requests = run.frames["requests"]
    ok, bad, kinds, latency = _requests_series(requests, ctx, bins)
    db = bin_aggregate(run.frames["db"], ctx.load_start, bins, ["total"], how="max")["total"]
    pooled = pooler_totals(run.frames["pooler"]).reset_index()
    queue = bin_aggregate(pooled, ctx.load_start, bins, ["cl_waiting", "sv_active"])
    states, starts = _platform_series(run, ctx, bins)
    return VariantSeries(
        name=run.name,
        pooler=ctx.pooler,
        max_connections=ctx.max_connections,
        users=_thin_series(users_curve(ctx, bins), "max"),
        db_total=_thin_series(db, "max"),
        requests_ok=ok,
        requests_failed=bad,
        errors_by_kind=kinds,
        latency=latency,
        pooler_queue=thin(queue, "max") if len(pooled) else queue.iloc[0:0],
        platform_states=states if len(run.frames["platform"]) else states.iloc[0:0],
        cold_starts=starts,
        cdf=latency_cdf(requests["latency_ms"]),
        faults=tuple((f.start - ctx.load_start, f.end - ctx.load_start, f.kind)
                     for f in run.faults),
    )


def run_series(runs: list[VariantRun]) -> list[VariantSeries]:
    """Series of the first measured repeat of each variant, in manifest order."""
    seen: set[str] = set()
    out: list[VariantSeries] = []
    for run in runs:
        if run.name in seen or run.ctx is None:
            continue
        series = variant_series(run)
        if series is not None:
            seen.add(run.name)
            out.append(series)
    return out
