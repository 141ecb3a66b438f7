"""A standard-library-only ASGI app (no database): it runs in a bare virtualenv."""

from __future__ import annotations

import json
import sys
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise ValueError(f"only http, not {scope['type']}")  # no lifespan support
    body = json.dumps({"prefix": sys.prefix}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
