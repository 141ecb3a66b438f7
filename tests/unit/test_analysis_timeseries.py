"""Plotted series: users curve, thinning, CDF from quantiles (harness.analysis.timeseries)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.analysis.metrics import StageWindow, VariantContext
from harness.analysis.run import VariantRun
from harness.analysis.timeseries import (
    MAX_POINTS,
    latency_cdf,
    thin,
    users_curve,
    variant_series,
)
from harness.results.frames import FRAME_NAMES, coerce_frame, empty_frame
from tests.synthetic import bare_record

START = 1_000.0


def test_users_curve_ramps_at_each_stage_spawn_rate() -> None:
    ctx = VariantContext(START, START + 30, 100, "none", "persistent", (
        StageWindow(START, START + 10, 10, spawn_rate=5),
        StageWindow(START + 10, START + 20, 30, spawn_rate=10),
        StageWindow(START + 20, START + 30, 0, spawn_rate=100),
    ), 0.0)
    users = users_curve(ctx, range(0, 30))
    assert users.loc[[0, 1, 2, 5, 9]].tolist() == [0, 5, 10, 10, 10]
    assert users.loc[[10, 11, 12, 15]].tolist() == [10, 20, 30, 30]
    assert users.loc[[20, 21, 29]].tolist() == [30, 0, 0]


def test_thin_keeps_at_most_max_points_and_the_peak() -> None:
    frame = pd.DataFrame({"v": np.arange(3600, dtype="float64")},
                         index=pd.Index(range(3600), name="second"))
    frame.loc[1234, "v"] = 1e6
    thinned = thin(frame, "max")
    assert len(thinned) <= MAX_POINTS
    assert thinned["v"].max() == 1e6
    assert thinned.index[0] == 0 and thinned.index.is_monotonic_increasing
    short = frame.iloc[:10]
    assert thin(short, "max") is short


def test_latency_cdf_from_quantiles() -> None:
    values = pd.Series(np.linspace(1.0, 1000.0, 100_000))
    cdf = latency_cdf(values)
    assert cdf["fraction"].iloc[0] == 0.0 and cdf["fraction"].iloc[-1] == 1.0
    assert cdf["latency_ms"].iloc[0] == 1.0 and cdf["latency_ms"].iloc[-1] == 1000.0
    assert cdf["latency_ms"].is_monotonic_increasing
    assert len(cdf) < 500
    median = cdf["latency_ms"].iloc[int((cdf["fraction"] - 0.5).abs().to_numpy().argmin())]
    assert median == pytest.approx(500.5, rel=1e-3)
    assert latency_cdf(pd.Series([], dtype="float64")).empty


def test_variant_series_bins_requests_and_gauges() -> None:
    ctx = VariantContext(START, START + 3, 100, "none", "persistent",
                         (StageWindow(START, START + 3, 5),), 0.0)
    frames = {n: empty_frame(n) for n in FRAME_NAMES}
    frames["requests"] = coerce_frame("requests", pd.DataFrame({
        "t": [START + 0.1, START + 0.2, START + 1.1, START + 2.5], "endpoint": "/read",
        "latency_ms": [1.0, 3.0, 5.0, 7.0], "status": [200, 503, 200, 200],
        "kind": ["", "db_too_many_connections", "", ""], "instance": "", "counter": -1}))
    frames["db"] = coerce_frame("db", pd.DataFrame({
        "t": [START + 0.5, START + 0.9, START + 2.2], "total": [3, 8, 4], "active": 1,
        "idle": 0, "idle_in_transaction": 0, "other": 0}))
    series = variant_series(VariantRun(bare_record("v"), Path("."), frames, (), ctx))
    assert series is not None
    assert series.requests_ok.tolist() == [1, 1, 1]
    assert series.requests_failed.tolist() == [1, 0, 0]
    assert series.errors_by_kind["db_too_many_connections"].tolist() == [1, 0, 0]
    assert series.db_total.tolist()[0] == 8 and np.isnan(series.db_total.tolist()[1])
    assert series.latency.loc[0, "p50"] == pytest.approx(2.0)
    assert series.pooler_queue.empty and series.platform_states.empty
    no_load = VariantRun(bare_record("v", status="failed", error="x"), Path("."), frames, (),
                         None)
    assert variant_series(no_load) is None
