"""WebSockets to a command app's instance: the gateway as a client of the program's port.

``open_websocket`` makes the upgrade (the client's headers and subprotocols passed on, the
handshake's own headers made anew); a refusal is the program's HTTP answer as a ``Reply``.
``pump`` feeds the program's messages into the stream the gateway relays (text as ``str``,
binary as ``bytes``) until the connection closes. The ``websockets`` package (the harness's,
with uvicorn) is imported only here, when a command app opens a WebSocket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.apphost.wire import HttpRequest
from harness.platform.kind import Reply
from harness.platform.stream import StreamBody

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

OWN_HEADERS = frozenset({"host", "connection", "upgrade", "sec-websocket-key",
                         "sec-websocket-version", "sec-websocket-extensions",
                         "sec-websocket-protocol", "content-length", "transfer-encoding"})


async def open_websocket(host: str, request: HttpRequest) -> ClientConnection | Reply:
    """The open connection, or the program's answer refusing it; ConnectionError when the
    program answered no HTTP at all."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidHandshake, InvalidStatus
    from websockets.typing import Subprotocol

    target = request.raw_path or request.path
    uri = f"ws://{host}{target}" + (f"?{request.query}" if request.query else "")
    headers = [(n, v) for n, v in request.headers if n.lower() not in OWN_HEADERS]
    offered = [Subprotocol(p.strip()) for n, v in request.headers
               if n.lower() == "sec-websocket-protocol" for p in v.split(",") if p.strip()]
    try:
        return await connect(uri, additional_headers=headers, user_agent_header=None,
                             subprotocols=offered or None, compression=None, open_timeout=None,
                             ping_interval=None, max_size=None, proxy=None)
    except InvalidStatus as exc:
        answer = exc.response
        return Reply(answer.status_code, bytes(answer.body or b""),
                     tuple((k.lower(), v) for k, v in answer.headers.raw_items()))
    except (InvalidHandshake, OSError) as exc:
        raise ConnectionError(f"WebSocket handshake failed: {exc}") from None


async def pump(conn: ClientConnection, body: StreamBody,
               closed: Callable[[ClientConnection], None]) -> None:
    """The program's messages into ``body`` until the connection closes; then ``closed``."""
    from websockets.exceptions import ConnectionClosed

    try:
        async for message in conn:
            body.put(message)
    except ConnectionClosed:
        pass
    finally:
        body.end()
        closed(conn)
