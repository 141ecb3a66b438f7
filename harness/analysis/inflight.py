"""Requests in flight: how many requests were open at once (from the per-request log)."""

from __future__ import annotations

import pandas as pd


def in_flight_peak(requests: pd.DataFrame) -> int | None:
    """The most requests open at once: each from its start ``t`` for ``latency_ms`` (a request
    ending when another starts does not overlap it). None without requests. A subscription
    (``events``) counts until its response's headers, like its latency."""
    if requests.empty:
        return None
    starts = requests["t"].astype(float)
    ends = starts + requests["latency_ms"].astype(float) / 1000.0
    steps = pd.concat([pd.DataFrame({"t": starts, "step": 1}),
                       pd.DataFrame({"t": ends, "step": -1})], ignore_index=True)
    steps = steps.sort_values(["t", "step"], kind="stable")
    return int(steps["step"].cumsum().max())
