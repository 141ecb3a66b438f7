"""Realtime on both targets: ``POST /publish``, ``GET /events`` (server-sent events) and its
WebSocket twin (a WebSocket on ``/events``).

``/publish`` inserts one row into ``realtime_messages`` and sends ``NOTIFY`` on the channel
``pgstampede_events`` in the same statement, so a message is notified exactly when its row
commits. ``/events`` subscribes to a ``Hub``: the process's one ``LISTEN`` connection (opened
for the first subscriber, closed after the last) fans every notification out to all its
subscribers. The persistent target has one hub for all its clients; every serverless
instance has its own, so N subscribing instances hold N ``LISTEN`` connections.

The stream, one SSE event per message::

    event: ready      data: {"after_id": N, "instance": ID}   once LISTEN is active; every
                                                              message with id > N is delivered
    event: message    data: {"id": ID, "t": EPOCH_S}          t = the row's published_at
    event: end        data: {"reason": "listen connection lost"}   the hub's connection died

The WebSocket twin sends the same events, one text message each:
``{"event": "ready" | "message" | "end", "data": {...}}``; it reads nothing from the client.

A subscription ends when the client goes, the platform cuts it, or the hub's connection is
lost (then every subscriber gets ``end``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable
from typing import Any

CHANNEL = "pgstampede_events"
PUBLISH_SQL = (
    "WITH m AS (INSERT INTO realtime_messages(source, payload) VALUES ($1, $2) "
    "RETURNING id, extract(epoch FROM published_at)::float8 AS t) "
    "SELECT m.id, m.t, pg_notify($3, json_build_object('id', m.id, 't', m.t)::text) FROM m"
)
LAST_ID_SQL = "SELECT coalesce(max(id), 0) FROM realtime_messages"
# LISTEN is repeated (a no-op) after the last-id query so that the connection's last statement
# in pg_stat_activity says LISTEN: how the harness counts listening backends
LISTEN_SQL = f'LISTEN "{CHANNEL}"'

Connect = Callable[[], Any]  # an awaitable returning an asyncpg connection
Message = dict[str, Any] | None  # None: the hub lost its connection


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def ws_message(event: str, data: dict[str, Any]) -> bytes:
    """One WebSocket text message (the WebSocket twin of ``sse``)."""
    return json.dumps({"event": event, "data": data}, separators=(",", ":")).encode()


Encode = Callable[[str, dict[str, Any]], bytes]


class Subscription:
    """One subscriber's queue of messages, and the last message id it was not listening for."""

    def __init__(self, after_id: int) -> None:
        self.after_id = after_id
        self.queue: asyncio.Queue[Message] = asyncio.Queue()


class Hub:
    """One ``LISTEN`` connection per process, fanned out to every subscription."""

    def __init__(self, connect: Connect) -> None:
        self.connect = connect
        self.conn: Any = None
        self.subscribers: set[Subscription] = set()
        self.lock = asyncio.Lock()

    async def subscribe(self) -> Subscription:
        async with self.lock:
            if self.conn is None or self.conn.is_closed():
                await self._open()
            sub = Subscription(0)
            self.subscribers.add(sub)  # before reading the last id: nothing falls in between
            try:
                sub.after_id = int(await self.conn.fetchval(LAST_ID_SQL))
                await self.conn.execute(LISTEN_SQL)
            except BaseException:
                self.subscribers.discard(sub)
                raise
            return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        async with self.lock:
            self.subscribers.discard(sub)
            if not self.subscribers and self.conn is not None:
                conn, self.conn = self.conn, None
                if not conn.is_closed():
                    try:
                        await asyncio.wait_for(conn.close(), 5.0)
                    except Exception:
                        conn.terminate()

    async def _open(self) -> None:
        conn = await self.connect()
        try:
            conn.add_termination_listener(self._lost)
            await conn.add_listener(CHANNEL, self._notified)
        except BaseException:
            conn.terminate()
            raise
        self.conn = conn

    def _notified(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        message = json.loads(payload)
        for sub in self.subscribers:
            sub.queue.put_nowait(message)

    def _lost(self, conn: Any) -> None:
        if conn is not self.conn:
            return
        self.conn = None
        for sub in self.subscribers:
            sub.queue.put_nowait(None)


async def publish(conn: Any, source: str, payload: str) -> tuple[int, float]:
    """Record one message and notify it; its id and published_at (epoch seconds)."""
    row = await conn.fetchrow(PUBLISH_SQL, source, payload, CHANNEL)
    return int(row["id"]), float(row["t"])


async def event_stream(hub: Hub, sub: Subscription, instance: str,
                       encode: Encode = sse) -> AsyncGenerator[bytes, None]:
    """The events of one subscription (SSE, or ``ws_message`` for the WebSocket twin);
    unsubscribes however it ends."""
    try:
        yield encode("ready", {"after_id": sub.after_id, "instance": instance})
        while True:
            message = await sub.queue.get()
            if message is None:
                yield encode("end", {"reason": "listen connection lost"})
                return
            yield encode("message", message)
    finally:
        await hub.unsubscribe(sub)
