"""Frames in analysis: platform states, pooler and platform totals, and 1-second bins.

The schemas themselves live at the bottom of the stack (:mod:`harness.results.frames`);
the run-folder reader hands analysis frames with every declared column, a frame whose file
is absent (no pooler, no platform) being empty with the right columns.

Time is wall-clock epoch seconds (column ``t``). The binning helpers turn it into whole
seconds since the variant's load start: bin ``k`` holds ``load_start + k <= t < load_start
+ k + 1``; bins before the load start are negative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from harness.results.frames import MONITOR_USER as MONITOR_USER

PLATFORM_STATES: tuple[str, ...] = ("starting", "busy", "warm", "frozen", "zombie")
"""Instance states of the ``platform`` frame, in lifecycle order."""

LIVE_STATES: tuple[str, ...] = PLATFORM_STATES[:-1]
"""States of live instances: zombies (reaped, abandoned) are counted apart, as the gateway
does for ``max_instances``, although their connections stay open."""

# --- 1-second bins relative to the load start -------------------------------------------


def second_bins(t: pd.Series, load_start: float) -> pd.Series:
    """The 1-second bin of each timestamp: ``floor(t - load_start)`` as int64."""
    return ((t - load_start) // 1).astype("int64")


def bin_range(load_start: float, load_end: float) -> range:
    """The whole seconds of the load window: 0 .. floor(load_end - load_start) - 1.

    A trailing partial second is left out: a bin a few milliseconds wide would show
    throughput falling to zero at the end of every run.
    """
    return range(0, max(1, math.floor(load_end - load_start)))


def bin_counts(
    frame: pd.DataFrame, load_start: float, bins: range, by: str | None = None
) -> pd.DataFrame:
    """Rows per second (index ``second``), one column per value of ``by`` (or ``count``).

    Every bin of ``bins`` is present, empty ones as 0; rows outside ``bins`` are dropped.
    """
    index = pd.Index(list(bins), name="second")
    if frame.empty:
        return pd.DataFrame({"count": np.zeros(len(index), dtype="int64")}, index=index)
    sec = second_bins(frame["t"], load_start)
    inside = (sec >= bins.start) & (sec < bins.stop)
    if by is None:
        counts = sec[inside].value_counts()
        out = pd.DataFrame({"count": counts})
    else:
        keys = frame.loc[inside, by].astype("str")
        out = pd.crosstab(sec[inside], keys)
    return out.reindex(index, fill_value=0).astype("int64").rename_axis("second")


def bin_aggregate(
    frame: pd.DataFrame,
    load_start: float,
    bins: range,
    columns: Sequence[str],
    how: str = "max",
) -> pd.DataFrame:
    """Gauge ``columns`` aggregated per second with ``how`` (NaN where no sample)."""
    index = pd.Index(list(bins), name="second")
    if frame.empty:
        return pd.DataFrame({c: np.full(len(index), np.nan) for c in columns}, index=index)
    sec = second_bins(frame["t"], load_start)
    inside = (sec >= bins.start) & (sec < bins.stop)
    grouped = frame.loc[inside, list(columns)].astype("float64").groupby(sec[inside])
    return grouped.agg(how).reindex(index).rename_axis("second")


def bin_quantiles(
    frame: pd.DataFrame,
    column: str,
    load_start: float,
    bins: range,
    quantiles: Iterable[float],
) -> pd.DataFrame:
    """Per-second quantiles of ``column`` (linear interpolation), one column per quantile."""
    qs = list(quantiles)
    index = pd.Index(list(bins), name="second")
    names = [f"q{q:g}" for q in qs]
    if frame.empty:
        return pd.DataFrame({n: np.full(len(index), np.nan) for n in names}, index=index)
    sec = second_bins(frame["t"], load_start)
    inside = (sec >= bins.start) & (sec < bins.stop)
    values = frame.loc[inside, column].astype("float64")
    table = values.groupby(sec[inside]).quantile(np.asarray(qs)).unstack()
    table.columns = names
    return table.reindex(index).rename_axis("second")


def time_sum(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` summed over the rows that share a timestamp (index ``t``, sorted)."""
    if frame.empty:
        return pd.DataFrame({c: pd.Series([], dtype="float64") for c in columns})
    return frame.groupby("t")[list(columns)].sum().sort_index()


def pooler_totals(pooler: pd.DataFrame) -> pd.DataFrame:
    """PgBouncer pools summed per sample (admin pseudo-database excluded), index ``t``.

    Columns: ``cl_active``, ``cl_waiting``, ``sv_active``, ``sv_idle`` (sums) and
    ``maxwait_ms`` (the largest wait of any pool at that sample).
    """
    pools = pooler[pooler["database"] != "pgbouncer"]
    sums = time_sum(pools, ["cl_active", "cl_waiting", "sv_active", "sv_idle"])
    if pools.empty:
        sums["maxwait_ms"] = pd.Series([], dtype="float64")
        return sums
    sums["maxwait_ms"] = pools.groupby("t")["maxwait_ms"].max()
    return sums


def platform_live(platform: pd.DataFrame) -> pd.Series:
    """Live instances (``LIVE_STATES``: zombies excluded) at each platform sample."""
    return platform[list(LIVE_STATES)].sum(axis=1)


def endpoint_name(endpoint: pd.Series) -> pd.Series:
    """Endpoint names without leading slash or query string (``/slow?ms=5`` → ``slow``)."""
    codes, uniques = pd.factorize(endpoint)  # a handful of distinct names: map those
    names = np.array([str(u).split("?", 1)[0].lstrip("/") for u in uniques] + [""], dtype=object)
    return pd.Series(names[codes], index=endpoint.index, dtype="str")
