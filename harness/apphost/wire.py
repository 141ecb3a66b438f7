"""The gateway <-> instance wire format: length-prefixed frames over one Unix socket pair.

    frame   = header payload
    header  = !IIH  (payload length, message id, code)

Requests have an id >= 1; control frames have id 0 (``CONTROL_ID``)::

    gateway -> instance  request       id, code 0 (built-in handler): JSON {"m", "p", "q", "b"}
                         app request   id, code 1 (``APP_REQUEST``): head + body (see ``pack``)
                                       head = {"m", "p", "rp", "q", "h", "c", "s"}: method, path,
                                       raw path, raw query, headers [[name, value]], client
                                       and server [host, port] (strings are latin-1)
    instance -> gateway  response      id, code = HTTP status; built-in handler: the JSON body;
                                       app: head {"h", "pending"} + body, where ``pending`` is
                                       the number of units of work still running once the
                                       response was complete
                         ready         id 0, code 0 (``READY``): JSON {"pid", "init_ms"}
                         init failed   id 0, code 1 (``INIT_FAILED``): JSON {"error"}; the
                                       instance then exits
                         background    id 0, code 2 (``BACKGROUND_DONE``): JSON {"r", "ms",
                                       "late"}: one pending unit of request ``r`` finished
                                       ``ms`` after its response, ``late`` if the instance was
                                       frozen and thawed in between
                         hold          id 0, code 3 (``HOLD``): JSON {"r"}: keep request ``r``'s
                                       slot after its response, until ``RELEASE`` (code 4,
                                       JSON {"r"}): its work after the response is done
                                       (built-in handler, ``background = "wait_until"``)
                         exception     id 0, code 5 (``EXCEPTION``): JSON {"type", "message",
                                       "where"}: an unhandled exception escaped the app
                                       (harness.apphost.exceptions)
                         stream        id, code 1000 (``STREAM_START``): JSON {"status"};
                                       then code 1001 (``STREAM_CHUNK``): body bytes, one frame
                                       per chunk; code 1002 (``STREAM_END``): the stream ended
                                       (built-in handler only, harness.platform.stream)
    gateway -> instance  cancel        id, code 2 (``CANCEL``): stop the request's stream (the
                                       client went, or ``max_duration``); the instance answers
                                       ``STREAM_END``

An app payload (``pack``) is ``!I`` (head length) + the JSON head + the body bytes.
"""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass
from typing import Any

HEADER = struct.Struct("!IIH")
HEAD_LENGTH = struct.Struct("!I")
MAX_PAYLOAD = 16 * 1024 * 1024

CONTROL_ID = 0
# control frames' codes (instance -> gateway)
READY = 0
INIT_FAILED = 1
BACKGROUND_DONE = 2
HOLD = 3
RELEASE = 4
EXCEPTION = 5
# request frames' codes (gateway -> instance)
HANDLER_REQUEST = 0
APP_REQUEST = 1
CANCEL = 2
# a streamed response's frames (instance -> gateway, on the request's id; above HTTP statuses)
STREAM_START = 1000
STREAM_CHUNK = 1001
STREAM_END = 1002

Header = tuple[str, str]
Address = tuple[str, int]


@dataclass(frozen=True)
class Frame:
    id: int
    code: int
    payload: bytes


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as the gateway received it (header names lower case, latin-1)."""

    method: str
    path: str
    query: str = ""
    body: bytes = b""
    headers: tuple[Header, ...] = ()
    raw_path: str = ""
    client: Address = ("127.0.0.1", 0)
    server: Address = ("127.0.0.1", 80)


@dataclass(frozen=True)
class HttpResponse:
    """An app's complete response, and how many units of its work were still running."""

    status: int
    headers: tuple[Header, ...] = ()
    body: bytes = b""
    pending: int = 0


def encode(msg_id: int, code: int, payload: bytes) -> bytes:
    return HEADER.pack(len(payload), msg_id, code) + payload


def control(code: int, doc: dict[str, Any]) -> bytes:
    """A control frame (id 0) with a JSON payload."""
    return encode(CONTROL_ID, code, json.dumps(doc, separators=(",", ":")).encode())


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


def pack(head: dict[str, Any], body: bytes) -> bytes:
    text = json.dumps(head, separators=(",", ":")).encode()
    return HEAD_LENGTH.pack(len(text)) + text + body


def unpack(payload: bytes) -> tuple[dict[str, Any], bytes]:
    if len(payload) < HEAD_LENGTH.size:
        raise ValueError("app frame shorter than its head length")
    (length,) = HEAD_LENGTH.unpack_from(payload)
    end = HEAD_LENGTH.size + length
    head = json.loads(payload[HEAD_LENGTH.size : end])
    if not isinstance(head, dict):
        raise ValueError("app frame head is not a JSON object")
    return head, payload[end:]


def encode_app_request(msg_id: int, req: HttpRequest) -> bytes:
    head = {
        "m": req.method,
        "p": req.path,
        "rp": req.raw_path or req.path,
        "q": req.query,
        "h": [list(h) for h in req.headers],
        "c": list(req.client),
        "s": list(req.server),
    }
    return encode(msg_id, APP_REQUEST, pack(head, req.body))


def decode_app_request(payload: bytes) -> HttpRequest:
    head, body = unpack(payload)
    return HttpRequest(
        method=str(head["m"]),
        path=str(head["p"]),
        query=str(head["q"]),
        body=body,
        headers=tuple((str(n), str(v)) for n, v in head["h"]),
        raw_path=str(head["rp"]),
        client=(str(head["c"][0]), int(head["c"][1])),
        server=(str(head["s"][0]), int(head["s"][1])),
    )


def encode_app_response(msg_id: int, resp: HttpResponse) -> bytes:
    head = {"h": [list(h) for h in resp.headers], "pending": resp.pending}
    return encode(msg_id, resp.status, pack(head, resp.body))


def decode_app_response(code: int, payload: bytes) -> HttpResponse:
    head, body = unpack(payload)
    headers = tuple((str(n), str(v)) for n, v in head.get("h", []))
    return HttpResponse(code, headers, body, int(head.get("pending", 0)))
