"""A plain WSGI app: one psycopg connection per request from DATABASE_URL; GET /raise
raises LookupError."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import psycopg


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/raise":
        raise LookupError("no such order: 42")
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        if environ["REQUEST_METHOD"] == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            order = json.loads(environ["wsgi.input"].read(size))
            conn.execute("INSERT INTO orders (item, token) VALUES (%s, %s)",
                         (int(order["item"]), environ.get("HTTP_X_TOKEN", "")))
            payload: dict[str, Any] = {"ok": True}
        else:
            row = conn.execute("SELECT count(*) FROM orders").fetchone()
            payload = {"n": row[0] if row else 0}
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
