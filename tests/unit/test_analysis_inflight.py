"""Requests in flight from the per-request log."""

from __future__ import annotations

import pandas as pd

from harness.analysis.inflight import in_flight_peak


def test_overlapping_requests_are_counted_and_touching_ones_not() -> None:
    requests = pd.DataFrame({"t": [0.0, 0.5, 0.9, 2.0, 3.0],
                             "latency_ms": [1000.0, 1000.0, 100.0, 1000.0, 10.0]})
    # 0.0-1.0, 0.5-1.5, 0.9-1.0 overlap (3); 2.0-3.0 then 3.0-3.01 touch (1)
    assert in_flight_peak(requests) == 3


def test_no_requests_is_not_measured() -> None:
    assert in_flight_peak(pd.DataFrame({"t": [], "latency_ms": []})) is None
