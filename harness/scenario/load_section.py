"""The ``[load]`` section: stages, think time, the requests to send, Locust's processes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.scenario.context import SectionContext, build, join, resolve_path
from harness.scenario.fields import int_field, number_field
from harness.scenario.records import ENDPOINTS, LoadSpec, RequestSpec, Stage
from harness.scenario.requests import parse_paths
from harness.units import parse_duration

LOAD_KEYS = {"think_time", "endpoints", "slow_ms", "stages", "processes", "request_timeout",
             "subscribe_duration", "paths", "locustfile", "subscribe_transport", "subscribers"}
TRANSPORTS = ("sse", "websocket")


def _think_time(value: object, ctx: SectionContext) -> tuple[float, float]:
    try:
        if isinstance(value, list):
            if len(value) != 2:
                raise ValueError("expected [min, max], e.g. [\"50ms\", \"200ms\"]")
            low, high = parse_duration(value[0]), parse_duration(value[1])
            if high < low:
                raise ValueError("expected min <= max")
            return (low, high)
        one = parse_duration(value)
        return (one, one)
    except ValueError as exc:
        raise ctx.error("load.think_time", str(exc)) from None


def _stages(value: object, ctx: SectionContext) -> tuple[Stage, ...]:
    if not isinstance(value, list) or not value:
        raise ctx.error("load.stages", "expected a non-empty list of "
                        "{ duration = \"30s\", users = 10, spawn_rate = 10 }")
    stages = []
    for i, item in enumerate(value):
        where = f"load.stages[{i}]"
        table = ctx.table(item, where)
        for required in ("duration", "users"):
            if required not in table:
                raise ctx.error(join(where, required), "missing (required)")
        stage = build(Stage, table, ctx, where)
        if stage.duration_s <= 0:
            raise ctx.error(join(where, "duration"), "expected a duration > 0")
        stages.append(stage)
    return tuple(stages)


def _weights(value: object, ctx: SectionContext, where: str,
             allowed: set[str] | None) -> dict[str, float]:
    table = ctx.table(value, where)
    if not table:
        raise ctx.error(where, "expected at least one weight")
    weights: dict[str, float] = {}
    for key, weight in table.items():
        if allowed is not None and key not in allowed:
            raise ctx.error(join(where, key),
                            f"unknown endpoint (expected one of: {', '.join(sorted(allowed))})")
        try:
            weights[key] = number_field(0.0)(weight)
        except ValueError as exc:
            raise ctx.error(join(where, key), str(exc)) from None
    if sum(weights.values()) <= 0:
        raise ctx.error(where, "expected weights that sum to more than 0")
    return weights


def _endpoint_requests(weights: Mapping[str, float], slow_ms: int) -> tuple[RequestSpec, ...]:
    out = []
    for name, weight in weights.items():
        method, path = ENDPOINTS[name]
        if name == "slow":
            path = f"{path}?ms={slow_ms}"
        out.append(RequestSpec(name, method, path, weight))
    return tuple(out)


def _locustfile(table: Mapping[str, Any], ctx: SectionContext) -> str:
    """``[load] locustfile`` (absolute), or "" for pgstampede's own."""
    if "locustfile" not in table:
        return ""
    locustfile = resolve_path(ctx, table["locustfile"], "load.locustfile", kind="file")
    for other in ("paths", "endpoints", "think_time"):
        if other in table:
            raise ctx.error(f"load.{other}", "not with load.locustfile (the Locust file "
                            "says which requests to send and how long to wait)")
    return locustfile


def parse_load(table: dict[str, Any], ctx: SectionContext) -> LoadSpec:
    """The ``[load]`` table as a LoadSpec."""
    ctx.no_unknown(table, LOAD_KEYS, "load")
    try:
        slow_ms = int_field(0, 600_000)(table.get("slow_ms", 50))
        processes = int_field(-1, 256)(table.get("processes", 1))
        timeout = parse_duration(table.get("request_timeout", "30s"))
        subscribe = parse_duration(table.get("subscribe_duration", "10s"))
        subscribers = int_field(0, 100_000)(table.get("subscribers", 0))
    except ValueError as exc:
        raise ctx.error("load", str(exc)) from None
    transport = table.get("subscribe_transport", "sse")
    if transport not in TRANSPORTS:
        raise ctx.error("load.subscribe_transport", f"expected one of {list(TRANSPORTS)}, got "
                        f"{transport!r}")
    if processes == 0:
        raise ctx.error("load.processes",
                        "expected a number of processes >= 1, or -1 (one per core)")
    weights = _weights(table.get("endpoints", {"read": 1.0}), ctx, "load.endpoints",
                       set(ENDPOINTS))
    locustfile = _locustfile(table, ctx)
    return LoadSpec(
        stages=_stages(table.get("stages"), ctx),
        think_time_s=_think_time(table.get("think_time", "0s"), ctx),
        requests=() if locustfile else _endpoint_requests(weights, slow_ms),
        processes=processes,
        request_timeout_s=timeout,
        locustfile=locustfile,
        paths=parse_paths(table["paths"], ctx, "load.paths") if "paths" in table else (),
        subscribe_duration_s=subscribe,
        subscribe_transport=str(transport),
        subscribers=subscribers,
    )
