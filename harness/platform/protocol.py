"""The built-in handler's request frames (JSON); the framing itself, the app frames and the
control frames are harness.apphost.wire, the one definition of the wire format.

    gateway -> instance   request    id >= 1, code 0, payload = JSON {"m", "p", "q", "b"}
                                     (method, path, raw query string, body as latin-1)
    instance -> gateway   ready      id 0, code 0, payload = JSON {"pid", "init_ms"}
                          response   id of the request, code = HTTP status,
                                     payload = the JSON body, passed to the client as is

Requests of one instance are multiplexed by id (``instance_concurrency`` > 1).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from harness.apphost.wire import HANDLER_REQUEST, encode
from harness.results.endpoints import EndpointRequest


def encode_request(msg_id: int, method: str, path: str, query: str, body: bytes) -> bytes:
    doc = {"m": method, "p": path, "q": query, "b": body.decode("latin-1")}
    return encode(msg_id, HANDLER_REQUEST, json.dumps(doc, separators=(",", ":")).encode())


def decode_request(payload: bytes) -> EndpointRequest:
    doc = json.loads(payload)
    return EndpointRequest(
        method=str(doc["m"]),
        path=str(doc["p"]),
        query=dict(parse_qsl(str(doc["q"]), keep_blank_values=True)),
        body=str(doc["b"]).encode("latin-1"),
    )
