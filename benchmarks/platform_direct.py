"""The serverless handler served directly by uvicorn (no gateway), for overhead comparisons.

PGSTAMPEDE_DSN=... python -m uvicorn platform_direct:app --app-dir benchmarks --port P
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from harness.results.endpoints import EndpointRequest
from targets.serverless.handler import handler

Message = MutableMapping[str, Any]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    import json

    query = dict(parse_qsl(scope.get("query_string", b"").decode()))
    response = await handler(EndpointRequest(scope["method"], scope["path"], query, b""))
    body = json.dumps(response.body, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
