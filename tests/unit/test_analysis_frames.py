"""Frame schemas (harness.results.frames) and 1-second binning (harness.analysis.frames)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.frames import (
    bin_aggregate,
    bin_counts,
    bin_quantiles,
    bin_range,
    endpoint_name,
    platform_live,
    pooler_totals,
    second_bins,
)
from harness.errors import IncompleteRunError
from harness.results.frames import FRAME_NAMES, FRAME_SCHEMAS, coerce_frame, empty_frame

START = 1_700_000_000.0


def _dtype_name(series: pd.Series) -> str:
    return "str" if pd.api.types.is_string_dtype(series) else str(series.dtype)


def documented_frames() -> set[str]:
    """The frame names listed in docs/internals.md, section "Frames (parquet columns)"."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "internals.md").read_text()
    section = text.split("### Frames (parquet columns)", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^- `([a-z_]+)`[ :]", section, flags=re.MULTILINE))


def test_every_internals_frame_has_a_schema() -> None:
    documented = documented_frames()
    assert {"requests", "db", "pglog", "platform", "background"} <= documented
    assert set(FRAME_NAMES) == documented
    assert list(FRAME_SCHEMAS["requests"]) == [
        "t", "endpoint", "latency_ms", "status", "kind", "instance", "counter"
    ]


def test_uncastable_column_names_the_frame_and_column() -> None:
    frame = pd.DataFrame({"t": [START], "instance": ["a"], "duration_ms": ["slow"]})
    with pytest.raises(IncompleteRunError, match="duration_ms"):
        coerce_frame("cold_starts", frame)


def test_missing_column_names_the_source_and_column() -> None:
    with pytest.raises(IncompleteRunError, match=r"db\.parquet: column 'total' is missing"):
        coerce_frame("db", pd.DataFrame({"t": [START]}), "x/db.parquet")


def test_coerce_keeps_extra_columns_and_fills_missing_text() -> None:
    raw = pd.DataFrame({"t": [START], "event": ["refused"], "pid": [1.0], "user": [None],
                        "message": ["x"], "extra": [1]})
    pglog = coerce_frame("pglog", raw)
    assert pglog["pid"].dtype == np.dtype("int64")
    assert pglog["user"].tolist() == [""]
    assert pglog["extra"].tolist() == [1]


def test_second_bins_floor_relative_to_load_start() -> None:
    t = pd.Series([START - 0.5, START, START + 0.999, START + 1.0, START + 59.9])
    assert second_bins(t, START).tolist() == [-1, 0, 0, 1, 59]
    assert bin_range(START, START + 59.2) == range(0, 59)
    assert bin_range(START, START + 60.0) == range(0, 60)
    assert bin_range(START, START) == range(0, 1)


def test_bin_counts_fills_empty_seconds_and_splits_by_column() -> None:
    frame = coerce_frame("requests", pd.DataFrame({
        "t": [START + 0.1, START + 0.2, START + 2.5, START + 2.6, START - 1, START + 9],
        "endpoint": "/read", "latency_ms": 1.0, "status": 200,
        "kind": ["", "timeout", "", "timeout", "", ""], "instance": "", "counter": -1,
    }))
    counts = bin_counts(frame, START, range(0, 4))
    assert counts["count"].tolist() == [2, 0, 2, 0]
    by_kind = bin_counts(frame, START, range(0, 4), by="kind")
    assert by_kind[""].tolist() == [1, 0, 1, 0]
    assert by_kind["timeout"].tolist() == [1, 0, 1, 0]
    assert bin_counts(empty_frame("requests"), START, range(0, 3))["count"].tolist() == [0, 0, 0]


def test_bin_aggregate_and_quantiles_per_second() -> None:
    frame = coerce_frame("requests", pd.DataFrame({
        "t": [START + 0.1, START + 0.2, START + 0.3, START + 0.4, START + 1.5],
        "endpoint": "/read", "latency_ms": [1.0, 2.0, 3.0, 4.0, 10.0], "status": 200,
        "kind": "", "instance": "", "counter": -1,
    }))
    peak = bin_aggregate(frame, START, range(0, 3), ["latency_ms"], how="max")
    assert peak["latency_ms"].tolist()[:2] == [4.0, 10.0]
    assert np.isnan(peak["latency_ms"].iloc[2])
    q = bin_quantiles(frame, "latency_ms", START, range(0, 2), (0.5, 0.99))
    assert q.loc[0, "q0.5"] == pytest.approx(2.5)
    assert q.loc[0, "q0.99"] == pytest.approx(3.97)
    assert q.loc[1, "q0.5"] == pytest.approx(10.0)


def test_pooler_totals_sum_pools_and_skip_the_admin_database() -> None:
    pooler = coerce_frame("pooler", pd.DataFrame({
        "t": [1.0, 1.0, 1.0, 2.0], "database": ["app", "app", "pgbouncer", "app"],
        "user": ["app", "other", "pgbouncer", "app"], "cl_active": [1, 2, 9, 3],
        "cl_waiting": [4, 5, 9, 0], "sv_active": [1, 1, 9, 2], "sv_idle": 0, "sv_used": 0,
        "sv_login": 0, "maxwait_ms": [10.0, 30.0, 99.0, 0.0],
    }))
    totals = pooler_totals(pooler)
    first = totals.iloc[0]
    assert totals.index[0] == 1.0
    assert (first["cl_waiting"], first["sv_active"], first["maxwait_ms"]) == (9, 2, 30.0)
    assert pooler_totals(empty_frame("pooler")).empty


def test_platform_live_counts_every_state_but_zombies() -> None:
    platform = coerce_frame("platform", pd.DataFrame({
        "t": [1.0], "starting": [1], "busy": [2], "warm": [3], "frozen": [4], "zombie": [5],
        "queue": [6], "cold_starts": [7], "reaped": [8], "throttled": [9],
        "init_failures": [0], "background_pending": [0], "background_completed": [0],
        "background_delayed": [0], "background_lost": [0], "init_error": [""],
    }))
    assert platform_live(platform).tolist() == [10]


def test_endpoint_name_strips_slash_and_query() -> None:
    names = endpoint_name(pd.Series(["/slow?ms=50", "/read", "counter"]))
    assert names.tolist() == ["slow", "read", "counter"]
