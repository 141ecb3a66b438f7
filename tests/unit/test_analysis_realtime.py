"""Realtime metrics from hand-made frames: peak, delivered, lost against the table, disconnects."""

from __future__ import annotations

import pandas as pd
import pytest

from harness.analysis.realtime import REALTIME_METRICS, realtime_metrics
from harness.results.frames import coerce_frame, empty_frame


def realtime(rows: list[tuple[float, str, int, str, int, int, float, str]]) -> pd.DataFrame:
    cols = ["t", "subscriber", "subscription", "kind", "message_id", "after_id", "delay_ms",
            "reason"]
    return coerce_frame("realtime", pd.DataFrame(rows, columns=cols))


def published(rows: list[tuple[int, float]]) -> pd.DataFrame:
    return coerce_frame("realtime_published", pd.DataFrame(rows, columns=["id", "published_at"]))


# subscriber a: subscribed at 10 after id 1, gets 2 and 3, cut at 13 (message 4 published at
# 13.5 while it reconnects: lost), back at 14 after id 4, gets 5, done at 20; 6 at 21 not due.
# subscriber b: subscribed at 11 after id 2, gets 3 and 5 but not 4 (lost), done at 20;
# a refused subscribe of c counts nothing.
ROWS = [
    (10.0, "a", 1, "start", 0, 1, 0.0, ""),
    (11.0, "b", 1, "start", 0, 2, 0.0, ""),
    (12.01, "a", 1, "message", 2, 0, 10.0, ""),
    (12.52, "a", 1, "message", 3, 0, 20.0, ""),
    (12.53, "b", 1, "message", 3, 0, 30.0, ""),
    (13.0, "a", 1, "end", 0, 0, 0.0, "cut"),
    (14.0, "a", 2, "start", 0, 4, 0.0, ""),
    (15.04, "a", 2, "message", 5, 0, 40.0, ""),
    (15.05, "b", 1, "message", 5, 0, 50.0, ""),
    (15.5, "c", 1, "end", 0, 0, 0.0, "refused"),
    (20.0, "a", 2, "end", 0, 0, 0.0, "done"),
    (20.0, "b", 1, "end", 0, 0, 0.0, "done"),
]
PUBLISHED = [(1, 9.0), (2, 12.0), (3, 12.5), (4, 13.5), (5, 15.0), (6, 21.0)]


def test_counts_against_the_published_table() -> None:
    listen = pd.DataFrame({"t": [10.0, 11.0, 12.0], "listen": [1, 2, 1]})
    metrics = realtime_metrics(realtime(ROWS), published(PUBLISHED), listen)
    assert metrics["realtime.published"] == 6
    assert metrics["realtime.delivered"] == 5
    assert metrics["realtime.lost"] == 2  # 4 to a (cut off), 4 to b (never arrived)
    assert metrics["realtime.disconnects"] == 1
    assert metrics["realtime.subscribers.peak"] == 2
    assert metrics["realtime.listen_connections.peak"] == 2
    assert metrics["realtime.delivery_ms.p95"] == pytest.approx(48.0)


def test_a_duplicate_delivery_counts_once_and_a_message_after_the_window_is_not_due() -> None:
    rows = ROWS + [(20.5, "b", 1, "message", 5, 0, 50.0, ""),
                   (20.6, "b", 1, "message", 6, 0, 10.0, "")]
    metrics = realtime_metrics(realtime(rows), published(PUBLISHED), empty_frame("db_listen"))
    assert metrics["realtime.delivered"] == 6
    assert metrics["realtime.lost"] == 2
    assert metrics["realtime.listen_connections.peak"] is None


def test_streams_ending_and_starting_at_the_same_moment_do_not_overlap() -> None:
    rows = [(1.0, "a", 1, "start", 0, 0, 0.0, ""), (2.0, "a", 1, "end", 0, 0, 0.0, "cut"),
            (2.0, "a", 2, "start", 0, 0, 0.0, ""), (3.0, "a", 2, "end", 0, 0, 0.0, "done")]
    metrics = realtime_metrics(realtime(rows), published([]), empty_frame("db_listen"))
    assert metrics["realtime.subscribers.peak"] == 1
    assert metrics["realtime.lost"] == 0 and metrics["realtime.delivery_ms.p95"] is None


def test_nothing_subscribed_or_published_is_not_measured() -> None:
    metrics = realtime_metrics(empty_frame("realtime"), empty_frame("realtime_published"),
                               empty_frame("db_listen"))
    assert metrics == dict.fromkeys(REALTIME_METRICS)


def test_a_subscriber_stopped_by_the_load_end_is_not_owed_its_last_second() -> None:
    rows = [(1.0, "a", 1, "start", 0, 0, 0.0, ""), (5.0, "a", 1, "end", 0, 0, 0.0, "stopped")]
    metrics = realtime_metrics(realtime(rows), published([(1, 3.9), (2, 4.5)]),
                               empty_frame("db_listen"))
    assert metrics["realtime.lost"] == 1  # 1 was due; 2 may have been in flight
    assert metrics["realtime.disconnects"] == 0
