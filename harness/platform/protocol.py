"""The gateway <-> instance wire format: length-prefixed frames over one Unix socket pair.

    frame   = header payload
    header  = !IIH  (payload length, message id, code)

    gateway -> instance   request    id >= 1, code 0, payload = JSON {"m", "p", "q", "b"}
                                     (method, path, raw query string, body as latin-1)
    instance -> gateway   ready      id 0, code 0, payload = JSON {"pid", "init_ms"}
                          response   id of the request, code = HTTP status,
                                     payload = the JSON body, passed to the client as is

Requests of one instance are multiplexed by id (``instance_concurrency`` > 1).
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass
from urllib.parse import parse_qsl

from targets.shared.endpoints import EndpointRequest

HEADER = struct.Struct("!IIH")
READY_ID = 0
MAX_PAYLOAD = 16 * 1024 * 1024


@dataclass(frozen=True)
class Frame:
    id: int
    code: int
    payload: bytes


def encode(msg_id: int, code: int, payload: bytes) -> bytes:
    return HEADER.pack(len(payload), msg_id, code) + payload


async def read_frame(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None at end of stream."""
    try:
        header = await reader.readexactly(HEADER.size)
        length, msg_id, code = HEADER.unpack(header)
        if length > MAX_PAYLOAD:
            raise ValueError(f"frame of {length} bytes exceeds {MAX_PAYLOAD}")
        payload = await reader.readexactly(length) if length else b""
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return Frame(msg_id, code, payload)


def encode_request(msg_id: int, method: str, path: str, query: str, body: bytes) -> bytes:
    doc = {"m": method, "p": path, "q": query, "b": body.decode("latin-1")}
    return encode(msg_id, 0, json.dumps(doc, separators=(",", ":")).encode())


def decode_request(payload: bytes) -> EndpointRequest:
    doc = json.loads(payload)
    return EndpointRequest(
        method=str(doc["m"]),
        path=str(doc["p"]),
        query=dict(parse_qsl(str(doc["q"]), keep_blank_values=True)),
        body=str(doc["b"]).encode("latin-1"),
    )


def error_body(kind: str, message: str) -> bytes:
    """A JSON error body in the targets' shape (docs/internals.md)."""
    doc = {"error": {"kind": kind, "sqlstate": "", "message": message}}
    return json.dumps(doc, separators=(",", ":")).encode()
