"""The app's unhandled exceptions through the gateway's stats: counted, kept with their own
cursor, read back strictly, and turned into the app_exceptions frame by the collector."""

from __future__ import annotations

import json

from harness.platform.kind import app_exception
from harness.platform.stats import StatsBook
from harness.results.platform_stats import PlatformStats, RaisedException


def raised(i: int) -> RaisedException:
    return RaisedException(float(i), f"i{i}", "KeyError", "'user'", "app/routes.py:17")


def test_exceptions_have_their_own_cursor_and_round_trip() -> None:
    book = StatsBook()
    for i in range(3):
        book.raised(raised(i))
    book.cold_start(0.0, "i1", 12.0)
    first = book.snapshot(9.0, [], 0, 0, since=0, exceptions_since=0)
    assert first.counters.exceptions == 3 and first.exception_cursor == 3
    assert [e.instance for e in first.exceptions] == ["i0", "i1", "i2"]
    later = book.snapshot(9.5, [], 0, 0, since=first.cursor, exceptions_since=2)
    assert [e.instance for e in later.exceptions] == ["i2"] and later.events == []
    doc = json.loads(json.dumps(first.to_dict()))
    assert doc["exception_events"][0] == {"t": 0.0, "instance": "i0", "type": "KeyError",
                                          "message": "'user'", "where": "app/routes.py:17"}
    assert PlatformStats.from_dict(doc) == first


def test_an_instances_report_reads_missing_keys_as_empty() -> None:
    error = app_exception({"type": "ValueError", "message": "boom"})
    assert (error.type, error.message, error.where) == ("ValueError", "boom", "")
