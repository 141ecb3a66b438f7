"""A raw ASGI app for an environment pinned to uvicorn 0.18.3: GET / answers its pid, GET
/raise raises; its lifespan records that it ran."""

from __future__ import annotations

import json
import os
from typing import Any

STARTED: list[int] = []


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                STARTED.append(os.getpid())
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/raise":
        raise ValueError("old uvicorn, same record")
    body = json.dumps({"pid": os.getpid(), "started": STARTED}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
