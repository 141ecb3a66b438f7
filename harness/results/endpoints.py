"""The endpoint protocol of the built-in targets: one request, one response, one error shape.

The built-in targets (``targets/``: the persistent server and the serverless handler) turn
their requests into an ``EndpointRequest`` and answer with an ``EndpointResponse``; the
platform's instance runtime (harness.platform.instance) calls the serverless handler with
them. The types live here, below the platform and the targets, so that the harness never
imports its own demo servers (``targets`` imports the harness, not the reverse).

Endpoints, bodies and error kinds: docs/internals.md, "Targets: endpoints and environment".
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

WEBSOCKET = "WEBSOCKET"
"""The method of an ``EndpointRequest`` that asks for a WebSocket on its path (an upgrade):
a streamed answer is accepted, each chunk one text message; any other answer refuses it."""

After = Callable[[], Awaitable[None]]
Stream = Callable[[], AsyncGenerator[bytes, None]]


@dataclass(frozen=True)
class EndpointRequest:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class EndpointResponse:
    status: int
    body: dict[str, object]
    after: After | None = None  # work to run once the answer is sent (/background)
    stream: Stream | None = None  # a streamed body (text/event-stream) instead of ``body``


Handler = Callable[[EndpointRequest], Awaitable[EndpointResponse]]


def error_doc(kind: str, message: str, sqlstate: str = "") -> dict[str, object]:
    """An error body in the targets' shape: ``{"error": {"kind", "sqlstate", "message"}}``."""
    return {"error": {"kind": kind, "sqlstate": sqlstate, "message": message}}


def error_body(kind: str, message: str) -> bytes:
    """``error_doc`` as compact JSON bytes (the platform's own answers)."""
    return json.dumps(error_doc(kind, message), separators=(",", ":")).encode()
