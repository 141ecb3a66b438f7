"""The parquet frames of a run folder: their columns and dtypes (the bottom of the stack).

Every frame of ``docs/internals.md`` ("Frames") is declared here. Collectors and the Locust
boundary build their frames with :func:`coerce_frame` before they are written; the run-folder
reader (:mod:`harness.results.folder`) reads them back with the same schemas. Adding a column
to a frame is a change to :data:`FRAME_SCHEMAS` (and to the collector that fills it), and to
:data:`ADDED_COLUMNS` so that older run folders, which lack it, still read.

Time is wall-clock epoch seconds (column ``t``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.errors import IncompleteRunError

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
    "db_errors": {"t": "float64", "pid": "int64", "level": "str", "sqlstate": "str",
                  "message": "str"},
    # unhandled exceptions that escaped the user's app (harness.apphost.exceptions): the
    # platform's instances (harness.collect.platform) or the persistent server's workers
    # (harness.collect.app_exceptions)
    "app_exceptions": {"t": "float64", "instance": "str", "type": "str", "message": "str",
                       "where": "str"},
    "pooler_log": {"t": "float64", "event": "str", "message": "str"},
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
        "wait_percent": "float64",
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
        "init_failures": "int64",
        "background_pending": "int64",
        "background_completed": "int64",
        "background_delayed": "int64",
        "background_lost": "int64",
        "init_error": "str",
    },
    "cold_starts": {"t": "float64", "instance": "str", "duration_ms": "float64",
                    "cpu_ms": "float64"},
    "background": {
        "id": "int64",
        "instance": "str",
        "scheduled_at": "float64",
        "due_at": "float64",
        "completed_at": "float64",
    },
    # realtime (/events, /publish): what the subscribers saw (harness.load.realtime_log), the
    # table of published messages, and the backends in LISTEN (harness.collect.pg_activity)
    "realtime": {
        "t": "float64",
        "subscriber": "str",
        "subscription": "int64",
        "kind": "str",
        "message_id": "int64",
        "after_id": "int64",
        "delay_ms": "float64",
        "reason": "str",
    },
    "realtime_published": {"id": "int64", "published_at": "float64"},
    # [app.expect]: each query's count, taken after the load (harness.run.app_work)
    "app_work": {"t": "float64", "request": "str", "query": "str", "count": "int64"},
    "db_listen": {"t": "float64", "listen": "int64"},
    # distributed runs only (--workers): each worker's CPU samples (harness.load.distributed)
    "workers": {
        "t": "float64",
        "worker": "str",
        "host": "str",
        "address": "str",
        "host_cpu_percent": "float64",
        "locust_cpu_percent": "float64",
        "locust_wait_percent": "float64",  # its Locust's run-queue wait (% of one core)
    },
}

ADDED_COLUMNS: dict[str, dict[str, float]] = {
    "workers": {"locust_wait_percent": float("nan")},
    "cold_starts": {"cpu_ms": float("nan")},
}
"""Columns declared after run folders were written without them: frame -> column -> the value
an older frame reads as (NaN: not recorded)."""

FRAME_NAMES: tuple[str, ...] = tuple(FRAME_SCHEMAS)

MONITOR_USER = "pgstampede_monitor"
"""The collectors' superuser role: its own connections are never counted."""


def empty_frame(name: str) -> pd.DataFrame:
    """An empty frame ``name`` with its declared columns and dtypes."""
    schema = FRAME_SCHEMAS[name]
    return pd.DataFrame({col: pd.Series([], dtype=dtype) for col, dtype in schema.items()})


def coerce_frame(name: str, frame: pd.DataFrame, source: str = "") -> pd.DataFrame:
    """``frame`` with every declared column of ``name`` cast to its dtype (extras kept).

    IncompleteRunError naming ``source`` and the column when one is missing or uncastable.
    """
    where = source or f"frame {name!r}"
    out = frame.copy()
    for col, dtype in FRAME_SCHEMAS[name].items():
        if col not in out.columns and col in ADDED_COLUMNS.get(name, {}):
            out[col] = ADDED_COLUMNS[name][col]
        if col not in out.columns:
            raise IncompleteRunError(f"{where}: column {col!r} is missing (expected {dtype})")
        try:
            if dtype == "str":
                out[col] = out[col].fillna("").astype("str")
            else:
                out[col] = out[col].astype(np.dtype(dtype))
        except (TypeError, ValueError) as exc:
            raise IncompleteRunError(f"{where}: column {col!r} is not {dtype} ({exc})") from exc
    return out.reset_index(drop=True)
