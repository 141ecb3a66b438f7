"""The exact peak: backends open at once, replayed from the server log's connection events."""

from __future__ import annotations

import pandas as pd

from harness.analysis.backends import exact_peak, open_backends, usable_slots
from harness.analysis.frames import MONITOR_USER


def log(*events: tuple[float, str, int, str]) -> pd.DataFrame:
    return pd.DataFrame([(t, e, pid, user, "") for t, e, pid, user in events],
                        columns=["t", "event", "pid", "user", "message"])


def test_a_burst_between_two_samples_is_counted() -> None:
    # five connections of 20 ms each, all open at 1.05 s: a 100 ms sampler can miss them all
    events = [(1.0 + i * 0.01, "authorized", 100 + i, "app") for i in range(5)]
    events += [(1.06 + i * 0.01, "disconnected", 100 + i, "app") for i in range(5)]
    frame = log(*sorted(events))
    assert exact_peak(frame, start=0.0) == 5
    assert list(open_backends(frame)["open"]) == [1, 2, 3, 4, 5, 4, 3, 2, 1, 0]


def test_backends_open_before_the_log_count_until_they_close() -> None:
    frame = log((2.0, "disconnected", 7, "app"), (3.0, "authorized", 8, "app"),
                (4.0, "disconnected", 8, "app"), (5.0, "disconnected", 9, "app"))
    # pids 7 and 9 were open before the first event: 2 open, then 8 joins pid 9 (7 closed)
    assert open_backends(frame).attrs["before"] == 2
    assert exact_peak(frame, start=0.0) == 2
    assert exact_peak(frame, start=2.5) == 2  # carried in: pid 9, then pid 8 too
    assert exact_peak(frame, start=4.5) == 1


def test_the_monitor_is_not_counted_and_a_restart_leaves_none_open() -> None:
    frame = log((1.0, "authorized", 1, "app"), (1.1, "authorized", 2, MONITOR_USER),
                (1.2, "authorized", 3, "app"), (2.0, "server_ready", 50, ""),
                (2.1, "authorized", 4, "app"), (3.0, "disconnected", 4, "app"))
    assert list(open_backends(frame)["open"]) == [1, 2, 0, 1, 0]
    assert exact_peak(frame, start=0.0) == 2
    assert exact_peak(frame, start=1.5, end=2.05) == 2  # open when the window starts
    assert exact_peak(frame, start=2.05) == 1


def test_no_connection_event_is_no_peak_and_usable_slots() -> None:
    assert exact_peak(log(), start=0.0) is None
    assert exact_peak(log((1.0, "refused", 1, "")), start=0.0) is None
    assert usable_slots(40) == 37 and usable_slots(2) == 0 and usable_slots(None) is None
