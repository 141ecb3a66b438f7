"""``[app.expect]``: the work the database should show, counted once the load is over.

Each entry pairs a request of ``[load.paths]`` with a query counting the work its 2xx
responses should have left in the database (``"POST /orders" = "SELECT count(*) FROM
emails"``). The count is taken when the platform would have finished or lost that work:

- persistent: ``[app] expect_grace`` (2 s) after the load, the server still running;
- serverless: after the end-of-run reap (``RunningTarget.end_of_run``: every instance
  killed, as the platform discards them; work still frozen in them is lost).

The ``app_work`` frame keeps each query's count (``t``, ``request``, ``query``, ``count``);
the analysis compares it with the 2xx responses of the request (harness.analysis.app_work).
"""

from __future__ import annotations

import time

import pandas as pd
import psycopg

from harness.errors import MeasurementError
from harness.results.frames import coerce_frame
from harness.results.redact import redact_text

QUERY_TIMEOUT_MS = 30_000


def count_expected_work(dsn: str, expect: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """The ``app_work`` frame: each ``(request, query)``'s count now; MeasurementError naming
    the request when a query fails or does not answer one integer."""
    rows = []
    try:
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
            conn.execute(f"SET statement_timeout = {QUERY_TIMEOUT_MS}")
            for request, query in expect:
                rows.append((time.time(), request, query, _count(conn, request, query)))
    except psycopg.Error as exc:
        raise MeasurementError(f"app.expect: cannot count the work: "
                               f"{redact_text(str(exc).strip())}") from None
    return coerce_frame("app_work", pd.DataFrame(rows, columns=["t", "request", "query",
                                                                "count"]))


def _count(conn: psycopg.Connection[tuple[object, ...]], request: str, query: str) -> int:
    try:
        row = conn.execute(query.encode()).fetchone()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MeasurementError(f"app.expect.\"{request}\": the query failed: {first}") from None
    value = row[0] if row else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MeasurementError(f"app.expect.\"{request}\": the query answered {value!r}, "
                               "expected one count (e.g. SELECT count(*) FROM emails)")
    return value
