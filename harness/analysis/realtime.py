"""Realtime metrics (``/events`` subscribers, ``/publish``): pure functions over frames.

``realtime`` is what the subscribers logged (harness.results.realtime), ``realtime_published``
the table of published messages read after the load, ``db_listen`` the backends in ``LISTEN``
per sample. A *subscriber* is one subscribing window of a Locust user, across reconnects:
every message with an id above its first ``ready``'s ``after_id`` and published before its
last stream ended was due to it (``STOP_GRACE_S`` earlier when the load's end stopped it);
a due message it never received is lost (messages published while it was cut off and
reconnecting included). Delivered counts distinct (subscriber,
message) pairs, also those that arrived after the window (in flight at its end).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.results import metric_names as M
from harness.results.realtime import DISCONNECTS, END, MESSAGE, START, STOP_GRACE_S, STOPPED

Metrics = dict[str, float | int | None]
REALTIME_METRICS: tuple[str, ...] = (
    M.REALTIME_SUBSCRIBERS_PEAK,
    M.REALTIME_PUBLISHED,
    M.REALTIME_DELIVERED,
    M.REALTIME_LOST,
    M.REALTIME_DISCONNECTS,
    M.REALTIME_DELIVERY_MS_P95,
    M.REALTIME_LISTEN_CONNECTIONS_PEAK,
)


def realtime_metrics(realtime: pd.DataFrame, published: pd.DataFrame,
                     db_listen: pd.DataFrame) -> Metrics:
    """Every metric of ``REALTIME_METRICS``; all None when nobody subscribed or published."""
    if realtime.empty and published.empty:
        return dict.fromkeys(REALTIME_METRICS)
    messages = realtime[realtime["kind"] == MESSAGE]
    ends = realtime[realtime["kind"] == END]
    delays = messages["delay_ms"].astype(float)
    return {
        M.REALTIME_SUBSCRIBERS_PEAK: subscribers_peak(realtime),
        M.REALTIME_PUBLISHED: len(published),
        M.REALTIME_DELIVERED: int(len(messages.drop_duplicates(["subscriber", "message_id"]))),
        M.REALTIME_LOST: lost(realtime, published),
        M.REALTIME_DISCONNECTS: int(ends["reason"].isin(DISCONNECTS).sum()),
        M.REALTIME_DELIVERY_MS_P95: (round(float(np.percentile(delays, 95)), 3)
                                     if len(delays) else None),
        M.REALTIME_LISTEN_CONNECTIONS_PEAK: (int(db_listen["listen"].max())
                                             if not db_listen.empty else None),
    }


def subscribers_peak(realtime: pd.DataFrame) -> int:
    """Most streams open at once: from each ``start`` to its ``end`` (an end first on ties)."""
    starts = realtime[realtime["kind"] == START][["subscriber", "subscription", "t"]]
    ends = realtime[realtime["kind"] == END][["subscriber", "subscription", "t"]]
    paired = ends.merge(starts[["subscriber", "subscription"]], on=["subscriber",
                                                                    "subscription"])
    steps = pd.concat([pd.DataFrame({"t": starts["t"], "step": 1}),
                       pd.DataFrame({"t": paired["t"], "step": -1})], ignore_index=True)
    if steps.empty:
        return 0
    steps = steps.sort_values(["t", "step"], kind="stable")
    return int(max(0, steps["step"].cumsum().max()))


def lost(realtime: pd.DataFrame, published: pd.DataFrame) -> int:
    """Messages due to a subscriber (see the module doc) that it never received."""
    total = 0
    for _, rows in realtime.groupby("subscriber", sort=False):
        starts = rows[rows["kind"] == START]
        ends = rows[rows["kind"] == END]
        if starts.empty or ends.empty:
            continue
        after_id = int(starts.sort_values("t")["after_id"].iloc[0])
        last = ends.sort_values("t", kind="stable").iloc[-1]
        until = float(last["t"]) - (STOP_GRACE_S if last["reason"] == STOPPED else 0.0)
        due = published[(published["id"] > after_id) & (published["published_at"] <= until)]
        got = set(rows.loc[rows["kind"] == MESSAGE, "message_id"].astype(int))
        total += int((~due["id"].isin(got)).sum())
    return total
