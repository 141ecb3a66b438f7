"""[app.expect]: the database's counts against the 2xx responses, and the finding."""

from __future__ import annotations

import pandas as pd

from harness.analysis.app_work import app_work_finding, app_work_metrics
from harness.results.frames import coerce_frame, empty_frame


def requests(rows: list[tuple[str, int]]) -> pd.DataFrame:
    return coerce_frame("requests", pd.DataFrame(
        [(float(i), endpoint, 1.0, status, "", "", -1) for i, (endpoint, status)
         in enumerate(rows)],
        columns=["t", "endpoint", "latency_ms", "status", "kind", "instance", "counter"]))


def test_missing_work_is_counted_per_request_and_never_below_zero() -> None:
    log = requests([("POST /orders", 201)] * 5 + [("POST /orders", 503)] * 2
                   + [("POST /signup", 200)] * 3 + [("GET /items", 200)] * 9)
    counted = coerce_frame("app_work", pd.DataFrame(
        [(1.0, "POST /orders", "SELECT count(*) FROM emails", 3),
         (1.0, "POST /signup", "SELECT count(*) FROM welcome", 7)],  # more than its requests
        columns=["t", "request", "query", "count"]))
    m = app_work_metrics(log, counted)
    assert m == {"app.work.expected": 8, "app.work.missing": 2}
    assert app_work_metrics(log, empty_frame("app_work")) == {}


def test_the_finding_names_the_fixes() -> None:
    lost = app_work_finding("serverless", {"app.work.expected": 40, "app.work.missing": 7})
    assert lost is not None and lost.startswith("serverless: 7 of 40 units of work")
    assert "waitUntil" in lost and "a queue" in lost and "before responding" in lost
    assert app_work_finding("persistent", {"app.work.expected": 40, "app.work.missing": 0}) \
        == "persistent: the database shows all 40 units of work [app.expect] expected"
    assert app_work_finding("p", {"app.work.expected": None, "app.work.missing": None}) is None
