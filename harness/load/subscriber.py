"""The ``events`` request: subscribe to ``/events`` for ``subscribe_duration`` and log delivery.

Runs only inside the Locust subprocess (gevent). The stream is read with Locust's own
``HttpSession`` (requests, ``stream=True``: chunks arrive as the server sends them), so the
subscribe request itself goes through Locust's ``request`` event like every other request
(its latency: until the response's headers). What the subscriber then sees is written to the
realtime log (harness.load.realtime_log). A stream that closes before the window ends (cut
by the platform at ``max_duration``, or ended by the server) is reconnected at once, like an
``EventSource``; a failed subscribe is retried after ``RETRY_S``. At the window's end the
subscriber keeps reading for ``DRAIN_S`` so that messages in flight arrive: they count as
due if they were published before the window ended. A user stopped by the end of the load
logs its stream's end as ``stopped``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import gevent

from harness.load.realtime_log import RealtimeLogWriter
from harness.load.sse import Event, SseParser
from harness.results.realtime import (
    CUT,
    DONE,
    END,
    ERROR,
    MESSAGE,
    REFUSED,
    SERVER_END,
    START,
    STOPPED,
)

DRAIN_S = 1.0
KILL_WAIT_S = 1.0
RETRY_S = 0.5
_SUBSCRIBERS = itertools.count(1)


@dataclass
class _Stream:
    """How one stream went (filled by its reader greenlet)."""

    started: bool = False
    reason: str = ""
    end_t: float = 0.0


class Subscriber:
    """One subscribing window: streams (reconnected) until ``duration_s`` has passed."""

    def __init__(self, session: Any, log: RealtimeLogWriter, name: str,
                 connect_timeout_s: float) -> None:
        self.session = session
        self.log = log
        self.name = name
        self.connect_timeout_s = connect_timeout_s
        self.id = f"{os.getpid()}-{next(_SUBSCRIBERS)}"

    def run(self, duration_s: float, path: str = "/events") -> None:
        deadline = time.monotonic() + duration_s
        n = 0
        while (remaining := deadline - time.monotonic()) > 0:
            n += 1
            if not self._stream(n, path, remaining):
                gevent.sleep(min(RETRY_S, max(0.0, deadline - time.monotonic())))

    def _stream(self, n: int, path: str, remaining: float) -> bool:
        """One stream; False when the subscribe request failed."""
        resp = self.session.get(path, name=self.name, stream=True,
                                timeout=(self.connect_timeout_s, None))
        if resp.status_code != 200:
            resp.close()
            self.log.write(time.time(), self.id, n, END, reason=REFUSED)
            return False
        state = _Stream()
        reader = gevent.spawn(self._read, resp, n, state)
        end_t, reason = 0.0, STOPPED  # unless it ends before Locust stops this user
        try:
            reader.join(timeout=remaining)
            if reader.dead:
                end_t, reason = state.end_t, state.reason
            else:
                end_t, reason = time.time(), DONE
                reader.join(timeout=DRAIN_S)
        finally:
            end_t = end_t or time.time()
            reader.kill(block=True, timeout=KILL_WAIT_S)  # no read in flight when closing
            with contextlib.suppress(Exception):
                resp.close()
            self.log.write(end_t, self.id, n, END, reason=reason if state.started else REFUSED)
            self.log.flush()
        return True

    def _read(self, resp: Any, n: int, state: _Stream) -> None:
        parser = SseParser()
        try:
            for chunk in resp.iter_content(chunk_size=None):
                now = time.time()
                for event in parser.feed(chunk):
                    self._event(event, now, n, state)
            state.reason = state.reason or CUT
        except Exception:  # noqa: BLE001 - a broken stream is a disconnect, logged as such
            state.reason = state.reason or ERROR
        state.end_t = time.time()

    def _event(self, event: Event, now: float, n: int, state: _Stream) -> None:
        data = json.loads(event.data)
        if event.event == "ready":
            state.started = True
            self.log.write(now, self.id, n, START, after_id=int(data["after_id"]))
        elif event.event == "message":
            self.log.write(now, self.id, n, MESSAGE, message_id=int(data["id"]),
                           delay_ms=(now - float(data["t"])) * 1000.0)
        elif event.event == "end":
            state.reason = SERVER_END
