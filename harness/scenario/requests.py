"""``paths``: the requests sent to an application (external targets and ``[app]``).

Each key is ``"METHOD /path"``; its value is a weight, or a table with a ``weight`` and
optional ``headers`` (strings) and ``json`` (any TOML value, sent as the JSON body)::

    [load.paths]
    "GET /items" = 0.7
    "POST /orders" = { weight = 0.3, json = { item = 1, qty = 2 },
                       headers = { Authorization = "Bearer test" } }
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

from harness.scenario.context import SectionContext, keys_of
from harness.scenario.fields import number_field, opt, raw_field
from harness.scenario.records import RequestSpec

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class RequestTable:
    """One request of ``paths`` written as a table (a bare number is its weight)."""

    weight: float = opt("weight", number_field(0.0), 1.0, "its share of the requests")
    json: object = opt("json", raw_field("any TOML value"), None,
                       "sent as the JSON body (Content-Type: application/json; not for GET "
                       "and HEAD)")
    headers: object = opt("headers", raw_field("table of strings"), None,
                          "HTTP headers sent with it")


_REQUEST_KEYS = set(keys_of(RequestTable))


def parse_paths(value: object, ctx: SectionContext, where: str) -> tuple[RequestSpec, ...]:
    """The weighted requests of a ``paths`` table."""
    table = ctx.table(value, where)
    if not table:
        raise ctx.error(where, "expected at least one \"METHOD /path\" = weight")
    out = [_request(key, spec, ctx, f"{where}.\"{key}\"") for key, spec in table.items()]
    if sum(r.weight for r in out) <= 0:
        raise ctx.error(where, "expected weights that sum to more than 0")
    return tuple(out)


def _request(key: str, spec: object, ctx: SectionContext, where: str) -> RequestSpec:
    parts = key.split(None, 1)
    if len(parts) != 2 or parts[0] not in METHODS or not parts[1].startswith("/"):
        raise ctx.error(where, "expected \"METHOD /path\", e.g. \"GET /items\" "
                        f"(methods: {', '.join(METHODS)})")
    options: dict[str, Any] = spec if isinstance(spec, dict) else {"weight": spec}
    ctx.no_unknown(options, _REQUEST_KEYS, where)
    try:
        weight = number_field(0.0)(options.get("weight", 1.0))
    except ValueError as exc:
        raise ctx.error(f"{where}.weight", str(exc)) from None
    headers = ctx.table(options.get("headers"), f"{where}.headers")
    for name, text in headers.items():
        if not isinstance(text, str):
            raise ctx.error(f"{where}.headers.{name}", f"expected a string, got {text!r}")
    body = json.dumps(options["json"], default=_jsonable) if "json" in options else ""
    if body and parts[0] in ("GET", "HEAD"):
        raise ctx.error(f"{where}.json", f"a {parts[0]} request has no body")
    return RequestSpec(key, parts[0], parts[1], weight, tuple(headers.items()), body)


def _jsonable(value: object) -> str:
    """TOML dates and times as ISO 8601 text."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    raise TypeError(f"cannot send {value!r} as JSON")
