"""``[app.expect]``: the work the database should show against what it shows.

For each request of ``[app.expect]``, the expected work is its number of 2xx responses in the
per-request log (the whole run); the ``app_work`` frame holds what the query counted once the
platform had finished or lost that work (harness.run.app_work). ``app.work.expected`` sums
the former; ``app.work.missing`` sums, per request, how far the count falls short (never
below 0: work the app also does elsewhere is not "found"). Null without ``[app.expect]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from harness.results import metric_names as M
from harness.results.summary import Metrics
from harness.units import format_count


def app_work_metrics(requests: pd.DataFrame, app_work: pd.DataFrame) -> Metrics:
    if app_work.empty:
        return {}
    ok = requests[(requests["status"] >= 200) & (requests["status"] < 300)]
    answered = ok.groupby("endpoint").size()
    expected = missing = 0
    for request, counted in app_work.groupby("request")["count"].last().items():
        due = int(answered.get(request, 0))
        expected += due
        missing += max(0, due - int(counted))
    return {M.APP_WORK_EXPECTED: expected, M.APP_WORK_MISSING: missing}


def app_work_finding(name: str, m: Mapping[str, Any]) -> str | None:
    """How much work the database does not show, and the fixes; None without [app.expect]."""
    expected, missing = m.get(M.APP_WORK_EXPECTED), m.get(M.APP_WORK_MISSING)
    if expected is None or missing is None:
        return None
    if not missing:
        return f"{name}: the database shows all {format_count(expected)} units of work " \
               "[app.expect] expected"
    return (f"{name}: {format_count(missing)} of {format_count(expected)} units of work "
            "[app.expect] expected are missing from the database: the work the app did after "
            "its responses was frozen with its instances and lost when they were reaped; "
            "keep the instance alive until it is done (waitUntil), hand it to a queue, or "
            "finish it before responding")
