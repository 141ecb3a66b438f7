"""Subscribing to ``/events`` (server-sent events, or its WebSocket twin) and logging delivery.

Runs only inside the Locust subprocess (gevent). An ``events`` request stays subscribed for
``subscribe_duration``; a ``SubscriberUser`` (``[load] subscribers``) for the whole run.
Each stream is opened by a transport: ``SseTransport`` reads it with Locust's own
``HttpSession`` (requests, ``stream=True``), so the subscribe request goes through Locust's
``request`` event like every other request (its latency: until the response's headers);
``WsTransport`` opens the WebSocket twin (``websockets``' sync client, on gevent) and reports
its handshake through the same event (an accepted one as status 101). What the subscriber
then sees is written to the realtime log (harness.load.realtime_log). A stream that closes
before the window ends (cut by the platform at ``max_duration``, or ended by the server) is
reconnected at once, like an ``EventSource`` or a reconnecting WebSocket client; a failed
subscribe is retried after ``RETRY_S``. At the window's end the subscriber keeps reading for
``DRAIN_S`` so that messages in flight arrive: they count as due if they were published
before the window ended. A user stopped by the end of the load logs its stream's end as
``stopped``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import gevent

from harness.load.realtime_log import RealtimeLogWriter
from harness.load.sse import SseParser
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

Events = Iterator[tuple[str, dict[str, Any]]]  # (event name, data) as they arrive


class Stream(Protocol):
    """One open subscription: its events, and how to close it."""

    def events(self) -> Events: ...

    def close(self) -> None: ...


class Transport(Protocol):
    def open(self, path: str) -> Stream | None:
        """The open stream, or None when the subscribe request failed (already reported)."""


@dataclass
class _Stream:
    """How one stream went (filled by its reader greenlet)."""

    started: bool = False
    reason: str = ""
    end_t: float = 0.0


class Subscriber:
    """One subscribing window: streams (reconnected) until ``duration_s`` has passed."""

    def __init__(self, transport: Transport, log: RealtimeLogWriter) -> None:
        self.transport = transport
        self.log = log
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
        stream = self.transport.open(path)
        if stream is None:
            self.log.write(time.time(), self.id, n, END, reason=REFUSED)
            return False
        state = _Stream()
        reader = gevent.spawn(self._read, stream, n, state)
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
                stream.close()
            self.log.write(end_t, self.id, n, END, reason=reason if state.started else REFUSED)
            self.log.flush()
        return True

    def _read(self, stream: Stream, n: int, state: _Stream) -> None:
        try:
            for event, data in stream.events():
                self._event(event, data, time.time(), n, state)
            state.reason = state.reason or CUT
        except Exception:  # noqa: BLE001 - a broken stream is a disconnect, logged as such
            state.reason = state.reason or ERROR
        state.end_t = time.time()

    def _event(self, event: str, data: dict[str, Any], now: float, n: int,
               state: _Stream) -> None:
        if event == "ready":
            state.started = True
            self.log.write(now, self.id, n, START, after_id=int(data["after_id"]))
        elif event == "message":
            self.log.write(now, self.id, n, MESSAGE, message_id=int(data["id"]),
                           delay_ms=(now - float(data["t"])) * 1000.0)
        elif event == "end":
            state.reason = SERVER_END


class SseTransport:
    """``GET /events`` as server-sent events, through Locust's ``HttpSession``."""

    def __init__(self, session: Any, name: str, connect_timeout_s: float) -> None:
        self.session = session
        self.name = name
        self.connect_timeout_s = connect_timeout_s

    def open(self, path: str) -> Stream | None:
        resp = self.session.get(path, name=self.name, stream=True,
                                timeout=(self.connect_timeout_s, None))
        if resp.status_code != 200:
            resp.close()
            return None
        return _SseStream(resp)


class _SseStream:
    def __init__(self, resp: Any) -> None:
        self.resp = resp

    def events(self) -> Events:
        parser = SseParser()
        for chunk in self.resp.iter_content(chunk_size=None):
            for event in parser.feed(chunk):
                yield event.event, json.loads(event.data)

    def close(self) -> None:
        self.resp.close()


Fire = Callable[..., None]  # Locust's ``environment.events.request.fire``


class WsTransport:
    """The WebSocket twin of ``/events``: ``{"event", "data"}`` text messages."""

    def __init__(self, host: str, fire: Fire, name: str, connect_timeout_s: float) -> None:
        self.base = "ws" + host.removeprefix("http")  # http://h:p -> ws://h:p
        self.fire = fire
        self.name = name
        self.connect_timeout_s = connect_timeout_s

    def open(self, path: str) -> Stream | None:
        from websockets.exceptions import InvalidStatus, WebSocketException
        from websockets.sync.client import connect

        began, t0 = time.perf_counter(), time.time()
        try:
            ws = connect(self.base + path, open_timeout=self.connect_timeout_s,
                         compression=None, max_size=None, proxy=None)
        except InvalidStatus as exc:
            self._report(began, t0, _Handshake(exc.response.status_code,
                                               bytes(exc.response.body or b"")), None)
            return None
        except (WebSocketException, OSError, TimeoutError) as exc:
            self._report(began, t0, None, exc)
            return None
        self._report(began, t0, _Handshake(101, b""), None)
        return _WsStream(ws)

    def _report(self, began: float, t0: float, answer: _Handshake | None,
                error: BaseException | None) -> None:
        self.fire(request_type="WS", name=self.name, start_time=t0,
                  response_time=(time.perf_counter() - began) * 1000.0,
                  response_length=len(answer.content) if answer else 0, response=answer,
                  context={}, exception=error or (None if answer and answer.status_code == 101
                                                  else RuntimeError("upgrade refused")))


@dataclass(frozen=True)
class _Handshake:
    """The answer to a WebSocket upgrade, as the request log reads a response."""

    status_code: int
    content: bytes
    headers: tuple[()] = ()


class _WsStream:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    def events(self) -> Events:
        from websockets.exceptions import ConnectionClosedOK

        with contextlib.suppress(ConnectionClosedOK):  # closed: cut (1001) or ended (1000)
            for message in self.ws:
                doc = json.loads(message)
                yield str(doc["event"]), dict(doc["data"])

    def close(self) -> None:
        self.ws.close()
