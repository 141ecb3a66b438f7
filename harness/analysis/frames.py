"""The frames of a variant run: their schemas, loading them, and 1-second bins.

Every frame of ``docs/internals.md`` ("Frames") is declared here with its columns and
dtypes. ``load_frames`` reads a variant run folder into pandas, coercing each column to
its declared dtype; a frame whose file is absent (no pooler, no platform) is an empty
frame with the right columns, so analysis code never tests for missing files.

Time is wall-clock epoch seconds (column ``t``). The binning helpers turn it into whole
seconds since the variant's load start: bin ``k`` holds ``load_start + k <= t < load_start
+ k + 1``; bins before the load start are negative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import InputError

Schema = dict[str, str]

FRAME_SCHEMAS: dict[str, Schema] = {
    "requests": {
        "t": "float64",
        "endpoint": "str",
        "latency_ms": "float64",
        "status": "int64",
        "kind": "str",
        "instance": "str",
        "counter": "int64",
    },
    "db": {
        "t": "float64",
        "total": "int64",
        "active": "int64",
        "idle": "int64",
        "idle_in_transaction": "int64",
        "other": "int64",
    },
    "db_groups": {
        "t": "float64",
        "state": "str",
        "application_name": "str",
        "usename": "str",
        "count": "int64",
    },
    "pglog": {"t": "float64", "event": "str", "pid": "int64", "user": "str", "message": "str"},
    "pooler": {
        "t": "float64",
        "database": "str",
        "user": "str",
        "cl_active": "int64",
        "cl_waiting": "int64",
        "sv_active": "int64",
        "sv_idle": "int64",
        "sv_used": "int64",
        "sv_login": "int64",
        "maxwait_ms": "float64",
    },
    "pooler_stats": {
        "t": "float64",
        "database": "str",
        "total_xact_count": "int64",
        "total_query_count": "int64",
        "total_wait_time_us": "int64",
        "avg_wait_time_us": "float64",
    },
    "host": {
        "t": "float64",
        "role": "str",
        "cpu_percent": "float64",
        "rss_mb": "float64",
        "processes": "int64",
    },
    "platform": {
        "t": "float64",
        "starting": "int64",
        "busy": "int64",
        "warm": "int64",
        "frozen": "int64",
        "zombie": "int64",
        "queue": "int64",
        "cold_starts": "int64",
        "reaped": "int64",
        "throttled": "int64",
    },
    "cold_starts": {"t": "float64", "instance": "str", "duration_ms": "float64"},
    "background": {
        "id": "int64",
        "instance": "str",
        "scheduled_at": "float64",
        "due_at": "float64",
        "completed_at": "float64",
    },
}

FRAME_NAMES: tuple[str, ...] = tuple(FRAME_SCHEMAS)

PLATFORM_STATES: tuple[str, ...] = ("starting", "busy", "warm", "frozen", "zombie")
"""Instance states of the ``platform`` frame, in lifecycle order."""

LIVE_STATES: tuple[str, ...] = PLATFORM_STATES[:-1]
"""States of live instances: zombies (reaped, abandoned) are counted apart, as the gateway
does for ``max_instances``, although their connections stay open."""

MONITOR_USER = "pgstampede_monitor"
"""The collectors' superuser role: its own connections are never counted."""


def empty_frame(name: str) -> pd.DataFrame:
    """An empty frame ``name`` with its declared columns and dtypes."""
    schema = FRAME_SCHEMAS[name]
    return pd.DataFrame({col: pd.Series([], dtype=dtype) for col, dtype in schema.items()})


def coerce_frame(name: str, frame: pd.DataFrame, source: str = "") -> pd.DataFrame:
    """``frame`` with every declared column of ``name`` cast to its dtype (extras kept)."""
    where = source or f"frame {name!r}"
    out = frame.copy()
    for col, dtype in FRAME_SCHEMAS[name].items():
        if col not in out.columns:
            raise InputError(f"{where}: column {col!r} is missing (expected {dtype})")
        try:
            if dtype == "str":
                out[col] = out[col].fillna("").astype("str")
            else:
                out[col] = out[col].astype(np.dtype(dtype))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{where}: column {col!r} is not {dtype} ({exc})") from exc
    return out.reset_index(drop=True)


def load_frame(variant_dir: Path, name: str) -> pd.DataFrame:
    """Frame ``name`` of a variant run folder; empty (right columns) when the file is absent."""
    path = variant_dir / f"{name}.parquet"
    if not path.is_file():
        return empty_frame(name)
    try:
        raw = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read parquet file ({exc})") from exc
    return coerce_frame(name, raw, str(path))


def load_frames(variant_dir: Path) -> dict[str, pd.DataFrame]:
    """Every frame of a variant run folder, by name (see ``FRAME_SCHEMAS``)."""
    return {name: load_frame(variant_dir, name) for name in FRAME_NAMES}


# --- 1-second bins relative to the load start -------------------------------------------


def seconds_since(t: pd.Series, load_start: float) -> pd.Series:
    """Seconds since the load start (float)."""
    return t - load_start


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
