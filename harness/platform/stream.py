"""Streamed responses on the platform: server-sent events (``/events``) and WebSockets.

The instance answers a streamed request with ``STREAM_START``, then one ``STREAM_CHUNK``
frame per chunk, then ``STREAM_END`` (harness.apphost.wire). The pool turns the start into a
``Reply`` carrying a ``StreamBody``; the gateway relays its chunks to the client
(``relay``) while the request keeps its slot on the instance, so a subscription counts
against ``instance_concurrency`` and keeps the instance busy (never frozen). A stream ends
when the instance ends it, when the client goes, or when the platform cuts it at
``max_duration``: in the last two cases the pool cancels it (``StreamBody.cancel``: the
framed kinds send ``CANCEL`` for the request) and waits for the instance's ``STREAM_END``
before the slot is freed (and the instance maybe frozen).

A WebSocket is the same thing with a handshake: the instance accepts it with a stream whose
chunks are its messages (``bytes`` or ``str``: binary or text), the gateway relays them with
``ws_relay`` and hands the client's messages to ``StreamBody.upstream`` when the instance
reads them (a command app; the built-in handler's /events twin reads nothing). Its end: the
instance ends the stream (close 1000), the client closes, or ``max_duration`` cuts it (close
1001 "going away" to the client, the instance's side cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
CUT_CLOSE_CODE = 1001  # "going away": the platform ended the connection (max_duration)
Chunk = bytes | str
Upstream = Callable[[Chunk], Awaitable[None]]

# how the relay of one stream ended
ENDED = "ended"  # the instance ended it
CLIENT_GONE = "client_gone"


class StreamBody:
    """The chunks of one streamed response, as the instance sends them (None = its end);
    ``cancel`` asks the instance to end it (its kind's way: a ``CANCEL`` frame)."""

    def __init__(self, status: int, cancel: Callable[[], None] | None = None,
                 upstream: Upstream | None = None) -> None:
        self.status = status
        self.chunks: asyncio.Queue[Chunk | None] = asyncio.Queue()
        self.ended = asyncio.Event()
        self._cancel = cancel
        self.upstream = upstream  # a WebSocket's messages from the client (None: not read)
        self.text = False  # a WebSocket's bytes chunks are text messages (UTF-8)
        self.subprotocol: str | None = None  # the WebSocket subprotocol the instance chose

    def cancel(self) -> None:
        if self._cancel is not None and not self.ended.is_set():
            self._cancel()

    def put(self, chunk: Chunk) -> None:
        if not self.ended.is_set():
            self.chunks.put_nowait(chunk)

    def end(self) -> None:
        if not self.ended.is_set():
            self.ended.set()
            self.chunks.put_nowait(None)


StreamSink = Callable[[StreamBody], Awaitable[str]]


async def relay(send: Send, receive: Receive, body: StreamBody) -> str:
    """Send the stream to the client until it ends or the client goes; ENDED or CLIENT_GONE.

    Cancelled (``max_duration``), it still ends the HTTP response, so the client sees the
    stream close rather than hang.
    """
    await send({"type": "http.response.start", "status": body.status, "headers": SSE_HEADERS})
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        while True:
            chunk = asyncio.ensure_future(body.chunks.get())
            await asyncio.wait({chunk, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not chunk.done():
                chunk.cancel()
                return CLIENT_GONE
            data = chunk.result()
            if data is None:
                return ENDED
            payload = data.encode() if isinstance(data, str) else data
            await send({"type": "http.response.body", "body": payload, "more_body": True})
    finally:
        gone.cancel()
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def ws_relay(send: Send, receive: Receive, body: StreamBody) -> str:
    """Accept the client's WebSocket (its ``websocket.connect`` was received already), relay
    the instance's messages to it and its messages to ``body.upstream`` until either side
    closes; ENDED or CLIENT_GONE. Cancelled (``max_duration``), it closes the client's
    connection with ``CUT_CLOSE_CODE``."""
    await send({"type": "websocket.accept", "subprotocol": body.subprotocol})
    closed = False
    incoming = asyncio.ensure_future(receive())
    try:
        while True:
            chunk = asyncio.ensure_future(body.chunks.get())
            await asyncio.wait({chunk, incoming}, return_when=asyncio.FIRST_COMPLETED)
            if chunk.done():
                data = chunk.result()
                if data is None:
                    closed = True
                    await send({"type": "websocket.close", "code": 1000})
                    return ENDED
                if isinstance(data, bytes) and body.text:
                    data = data.decode()
                key = "text" if isinstance(data, str) else "bytes"
                await send({"type": "websocket.send", key: data})
                continue
            chunk.cancel()
            message = incoming.result()
            if message["type"] == "websocket.disconnect":
                closed = True
                return CLIENT_GONE
            data_in = message.get("text") if message.get("text") is not None \
                else message.get("bytes")
            if body.upstream is not None and data_in is not None:
                await body.upstream(data_in)
            incoming = asyncio.ensure_future(receive())
    finally:
        incoming.cancel()
        if not closed:
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": CUT_CLOSE_CODE})
