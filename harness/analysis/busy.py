"""Instance busy time: how long instances were kept unfrozen with work in flight."""

from __future__ import annotations

import pandas as pd


def busy_ms(gauges: pd.DataFrame) -> float | None:
    """The integral of the platform's ``busy`` instance count over the samples (in ms): each
    sample's count held until the next sample. None with fewer than two samples."""
    if len(gauges) < 2:
        return None
    rows = gauges.sort_values("t", kind="stable")
    dt = rows["t"].diff().shift(-1).fillna(0.0)
    return round(float((rows["busy"] * dt).sum()) * 1000.0, 3)
