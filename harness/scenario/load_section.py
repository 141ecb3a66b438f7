"""The ``[load]`` section: stages, think time, the requests to send, Locust's processes.

Its keys are declared once, with their parsers, defaults and meanings, on :class:`LoadTable`
(the loader's and the key reference's one source); stages, weights and paths are then read
here into a :class:`~harness.scenario.records.LoadSpec`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.scenario.context import SectionContext, build, join, keys_of, resolve_path
from harness.scenario.fields import (
    Parser,
    choice_field,
    duration_field,
    int_field,
    number_field,
    opt,
    raw_field,
)
from harness.scenario.records import ENDPOINTS, LoadSpec, RequestSpec, Stage
from harness.scenario.requests import parse_paths
from harness.units import parse_duration

TRANSPORTS = ("sse", "websocket")


def _processes(value: object) -> int:
    processes: int = int_field(-1, 256)(value)
    if processes == 0:
        raise ValueError("expected a number of processes >= 1, or -1 (one per core)")
    return processes


@dataclass(frozen=True)
class LoadTable:
    """``[load]`` as written: every key with its parser, default and meaning."""

    stages: object = opt("stages", raw_field("list of tables", "each { duration, users, "
                                             "spawn_rate } (below)"), None,
                         "the load shape: stages run one after the other", required=True)
    think_time: object = opt("think_time", raw_field("duration or [min, max]"), "0s",
                             "each user waits this long between requests (a range: uniform)")
    endpoints: object = opt("endpoints", raw_field("table", ", ".join(ENDPOINTS)), None,
                            "weights of the built-in targets' endpoints", shown="{ read = 1 }")
    slow_ms: int = opt("slow_ms", int_field(0, 600_000), 50,
                       "how long the slow endpoint holds its connection (pg_sleep), in ms")
    processes: int = opt("processes", Parser(_processes, "integer", "-1 (one per core), 1 to "
                                             "256"), 1,
                         "Locust processes on this machine (N > 1: a master and N workers)")
    request_timeout_s: float = opt("request_timeout", duration_field, 30.0,
                                   "a request unanswered this long fails (kind timeout)")
    subscribe_duration_s: float = opt("subscribe_duration", duration_field, 10.0,
                                      "how long an events request stays subscribed")
    subscribe_transport: str = opt("subscribe_transport", choice_field(*TRANSPORTS), "sse",
                                   "events over server-sent events (/events) or its WebSocket "
                                   "twin")
    subscribers: int = opt("subscribers", int_field(0, 100_000), 0,
                           "a population of its own, subscribed to /events the whole run")
    paths: object = opt("paths", raw_field("table", '"METHOD /path" = weight or { weight, '
                                           'json, headers } (below)'), None,
                        "requests for an application ([app] or external)")
    locustfile: object = opt("locustfile", raw_field("path"), None,
                             "your own Locust file, unchanged (instead of endpoints, paths and "
                             "think_time)")


LOAD_KEYS = set(keys_of(LoadTable))


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
    """The ``[load]`` table as a LoadSpec (an error names the key: ``load.slow_ms``)."""
    given = build(LoadTable, table, ctx, "load")
    weights = _weights(table.get("endpoints", {"read": 1.0}), ctx, "load.endpoints",
                       set(ENDPOINTS))
    locustfile = _locustfile(table, ctx)
    return LoadSpec(
        stages=_stages(given.stages, ctx),
        think_time_s=_think_time(given.think_time, ctx),
        requests=() if locustfile else _endpoint_requests(weights, given.slow_ms),
        processes=given.processes,
        request_timeout_s=given.request_timeout_s,
        locustfile=locustfile,
        paths=parse_paths(table["paths"], ctx, "load.paths") if "paths" in table else (),
        subscribe_duration_s=given.subscribe_duration_s,
        subscribe_transport=given.subscribe_transport,
        subscribers=given.subscribers,
    )
