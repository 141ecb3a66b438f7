"""Instance busy time from the platform's samples."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.analysis.busy import busy_ms


def test_each_sample_holds_until_the_next() -> None:
    gauges = pd.DataFrame({"t": [10.0, 10.5, 10.1, 11.0], "busy": [2, 0, 4, 7]})
    # sorted: 10.0 (2 for 0.1 s), 10.1 (4 for 0.4 s), 10.5 (0 for 0.5 s), 11.0 (last: 0 s)
    assert busy_ms(gauges) == pytest.approx(200.0 + 1600.0)


def test_one_sample_measures_nothing() -> None:
    assert busy_ms(pd.DataFrame({"t": [1.0], "busy": [3]})) is None
