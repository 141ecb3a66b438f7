"""Streamed responses on the platform (server-sent events, ``/events``).

The instance answers a streamed request with ``STREAM_START``, then one ``STREAM_CHUNK``
frame per chunk, then ``STREAM_END`` (harness.apphost.wire). The pool turns the start into a
``Reply`` carrying a ``StreamBody``; the gateway relays its chunks to the client
(``relay``) while the request keeps its slot on the instance, so a subscription counts
against ``instance_concurrency`` and keeps the instance busy (never frozen). A stream ends
when the instance ends it, when the client goes, or when the platform cuts it at
``max_duration``: in the last two cases the pool cancels it (``StreamBody.cancel``: the
framed kinds send ``CANCEL`` for the request) and waits for the instance's ``STREAM_END``
before the slot is freed (and the instance maybe frozen).
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

# how the relay of one stream ended
ENDED = "ended"  # the instance ended it
CLIENT_GONE = "client_gone"


class StreamBody:
    """The chunks of one streamed response, as the instance sends them (None = its end);
    ``cancel`` asks the instance to end it (its kind's way: a ``CANCEL`` frame)."""

    def __init__(self, status: int, cancel: Callable[[], None] | None = None) -> None:
        self.status = status
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.ended = asyncio.Event()
        self._cancel = cancel

    def cancel(self) -> None:
        if self._cancel is not None and not self.ended.is_set():
            self._cancel()

    def put(self, chunk: bytes) -> None:
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
            await send({"type": "http.response.body", "body": data, "more_body": True})
    finally:
        gone.cancel()
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
