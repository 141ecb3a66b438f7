"""How many backends were open at once, from the server's own log: every connection counted.

``pg_stat_activity`` is sampled (every 100 ms): a burst of short connections between two
samples is never seen, so the sampled peak understates the truth. The server logs every
admitted connection (``connection authorized``) and every end of one (``disconnection``),
each with its backend pid, so replaying the log counts the backends open at every instant.

The replay (pure):

- ``authorized`` of a role other than the monitor opens a backend; its ``disconnected``
  closes it. A refusal after authorization has already withdrawn that ``authorized`` event
  (:mod:`harness.collect.pg_log`), and such a backend never logs a disconnection.
- A ``disconnected`` of a pid the replay never saw open was open before the log was read
  from (the collector keeps events from its start on): it counts as open from the first
  event until its disconnection.
- ``server_ready`` (a restarted server accepts connections again) leaves no backend open.

Both lines come a little late: a backend logs ``connection authorized`` after it took its
slot, and ``disconnection`` as it exits, after it gave the slot back (PostgreSQL runs the
shared-memory exit callbacks before the one that logs). Where a client drops a connection
and opens the next within milliseconds (a pooler handing a child to the next client), the
replay can show the old backend beside its successor for those milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.frames import MONITOR_USER

RESERVED_SLOTS = 3
"""PostgreSQL's default ``superuser_reserved_connections``: slots only a superuser may take."""

_KINDS = ("authorized", "disconnected", "server_ready")


def usable_slots(max_connections: int | None) -> int | None:
    """Connections an application role can open: ``max_connections`` less the reserved."""
    return None if max_connections is None else max(max_connections - RESERVED_SLOTS, 0)


def _connection_events(pglog: pd.DataFrame, exclude_user: str) -> pd.DataFrame:
    events = pglog[pglog["event"].isin(_KINDS)]
    return events[(events["event"] == "server_ready") | (events["user"] != exclude_user)]


def open_backends(pglog: pd.DataFrame, exclude_user: str = MONITOR_USER) -> pd.DataFrame:
    """``t``, ``open``: the backends open right after each connection event, in log order;
    the frame's ``attrs["before"]`` holds those open before its first event."""
    events = _connection_events(pglog, exclude_user)
    kinds = events["event"].to_numpy()
    pids = events["pid"].to_numpy()
    earlier = _opened_before(kinds, pids)
    before = len(earlier)
    live: set[int] = set()
    out = np.empty(len(kinds), dtype="int64")
    for i, (kind, raw) in enumerate(zip(kinds, pids, strict=True)):
        pid = int(raw)
        if kind == "authorized":
            live.add(pid)
        elif kind == "disconnected":
            if pid in live:
                live.discard(pid)
            else:
                earlier.discard(pid)
        else:  # server_ready: nothing survives a restart
            live.clear()
            earlier.clear()
        out[i] = len(live) + len(earlier)
    series = pd.DataFrame({"t": events["t"].to_numpy(dtype="float64"), "open": out})
    series.attrs["before"] = before
    return series


def _opened_before(kinds: np.ndarray, pids: np.ndarray) -> set[int]:
    """Backends the log shows closing but never opening, before the first restart."""
    seen: set[int] = set()
    before: set[int] = set()
    for kind, raw in zip(kinds, pids, strict=True):
        pid = int(raw)
        if kind == "server_ready":
            break
        if kind == "authorized":
            seen.add(pid)
        elif kind == "disconnected" and pid not in seen:
            before.add(pid)
    return before


def exact_peak(pglog: pd.DataFrame, start: float, end: float | None = None,
               exclude_user: str = MONITOR_USER) -> int | None:
    """Most backends open at once in ``[start, end]`` (``end`` None: to the log's end),
    counting those already open at ``start``; None when the log holds no connection event."""
    series = open_backends(pglog, exclude_user)
    if series.empty:
        return None
    t = series["t"].to_numpy()
    counts = series["open"].to_numpy()
    inside = t >= start if end is None else (t >= start) & (t <= end)
    earlier = counts[t < start]
    at_start = int(earlier[-1]) if len(earlier) else int(series.attrs["before"])
    return max([at_start, *(int(c) for c in counts[inside])])
