"""Plain HTTP calls to an app under test (standard library only)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def call(url: str, method: str = "GET", body: Any = None,
         timeout: float = 60.0) -> tuple[int, Any]:
    """One request; (status, decoded JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {} if body is None else {"Content-Type": "application/json"}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, _decode(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, _decode(err.read())


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def call_many(calls: list[tuple[str, str, Any]], workers: int) -> list[int]:
    """The statuses of ``calls`` ((url, method, body)) sent ``workers`` at a time."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [status for status, _ in pool.map(lambda c: call(*c), calls)]
