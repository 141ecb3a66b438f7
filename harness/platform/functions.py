"""Functions: one instance pool per route, as on Vercel (each route file is its own function).

With ``app_functions`` (route pattern -> the command serving that route alone), the gateway
holds one ``InstancePool`` per route, each with its own kind of instance (a command app), its
own instances, scaling, freezes and reaps, and so its own connections to the database: the
functions' connections add up. Each function's instances get ``PGAPPNAME`` = its route (unless
the app sets it), so the database's ``application_name`` says which function holds which
connection. The gateway uses this object as it uses a pool:

    invoke(req, sink, websocket)
                        the pool of the route matching the path: static segments, ``[param]``,
                        ``[...rest]`` (one or more), ``[[...rest]]`` (zero or more); a static
                        route wins over a dynamic one, a trailing slash is ignored (as the
                        Node host matches them, harness/apphost/node/routes.mjs); 404 if none
    snapshot(since, exceptions_since)   the pools' stats added up; cold starts, init errors
                        and exceptions name their instance "<route>#<id>", so each function's
                        instances can be counted
    describe()          every pool's instances, each with its ``function``
    start(), close(), kill_all_now(), end_of_run(), pids()

One pid file (the gateway's ``instances.pids``) lists every pool's processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness.apphost.wire import HttpRequest
from harness.clock import SYSTEM_CLOCK, Clock
from harness.platform.config import PlatformConfig
from harness.platform.kind import Reply
from harness.platform.kinds import make_kind
from harness.platform.pidfile import PIDFILE_NAME, PidFile
from harness.platform.pool import InstancePool
from harness.platform.stream import StreamSink
from harness.results.endpoints import error_body
from harness.results.platform_stats import (
    MAX_INIT_ERRORS,
    PHASES,
    ColdStart,
    Counters,
    PlatformStats,
    RaisedException,
)

APP_NAME_ENV = "PGAPPNAME"


@dataclass(frozen=True)
class Route:
    """A route pattern split into segments: ("static", text) | ("param" | "rest" |
    "optional-rest", name)."""

    pattern: str
    segments: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, pattern: str) -> Route:
        segments = []
        for part in filter(None, pattern.split("/")):
            if part.startswith("[[...") and part.endswith("]]"):
                segments.append(("optional-rest", part[5:-2]))
            elif part.startswith("[...") and part.endswith("]"):
                segments.append(("rest", part[4:-1]))
            elif part.startswith("[") and part.endswith("]"):
                segments.append(("param", part[1:-1]))
            else:
                segments.append(("static", part))
        return cls(pattern, tuple(segments))

    @property
    def rank(self) -> int:
        weights = {"static": 0, "param": 1, "rest": 100, "optional-rest": 1000}
        return sum(weights[kind] for kind, _ in self.segments)

    def matches(self, path: str) -> bool:
        parts = [p for p in path.split("/") if p]
        for i, (kind, text) in enumerate(self.segments):
            if kind in ("rest", "optional-rest"):
                return kind == "optional-rest" or len(parts) > i
            if i >= len(parts) or (kind == "static" and parts[i] != text):
                return False
        return len(parts) == len(self.segments)


class Functions:
    """The pools of an app's functions, routed by path (the gateway's ``pool``)."""

    def __init__(self, config: PlatformConfig, workdir: Path, clock: Clock = SYSTEM_CLOCK,
                 ) -> None:
        self.routes = sorted((Route.parse(p) for p in config.app_functions),
                             key=lambda r: r.rank)
        self.pools: dict[str, InstancePool] = {}
        self.pidfile = PidFile(workdir / PIDFILE_NAME, self.pids)
        for route in self.routes:
            one = function_config(config, route.pattern)
            pool = InstancePool(one, make_kind(one, _kind_dir(workdir, route.pattern), clock),
                                None, clock)
            pool.pidfile = self.pidfile  # one pid file for every function's processes
            self.pools[route.pattern] = pool
        self.events: list[ColdStart] = []
        self.raised: list[RaisedException] = []
        self.cursors = dict.fromkeys(self.pools, 0)
        self.raised_cursors = dict.fromkeys(self.pools, 0)

    def route_of(self, path: str) -> str | None:
        return next((r.pattern for r in self.routes if r.matches(path)), None)

    async def start(self) -> None:
        await asyncio.gather(*(pool.start() for pool in self.pools.values()))

    def pids(self) -> list[int]:
        return [pid for pool in self.pools.values() for pid in pool.pids()]

    def kill_all_now(self) -> None:
        for pool in self.pools.values():
            pool.kill_all_now()

    async def close(self) -> None:
        await asyncio.gather(*(pool.close() for pool in self.pools.values()))

    async def end_of_run(self) -> int:
        """Every function's instances killed now (the run is over); the number killed."""
        return sum(await asyncio.gather(*(pool.end_of_run() for pool in self.pools.values())))

    async def invoke(self, req: HttpRequest, sink: StreamSink | None = None,
                     websocket: bool = False) -> Reply:
        route = self.route_of(req.path)
        if route is None:
            return Reply(404, error_body("http_4xx", f"platform: no function serves {req.path}"))
        return await self.pools[route].invoke(req, sink, websocket=websocket)

    def snapshot(self, since: int = 0, exceptions_since: int = 0) -> PlatformStats:
        parts = {route: self._take(route, pool) for route, pool in self.pools.items()}
        snaps = list(parts.values())
        counters = Counters(**{f.name: sum(getattr(s.counters, f.name) for s in snaps)
                               for f in dataclasses.fields(Counters)})
        errors = [dataclasses.replace(e, instance=f"{route}#{e.instance}")
                  for route, s in parts.items() for e in s.init_errors]
        return PlatformStats(
            t=max(s.t for s in snaps), phases={p: sum(s.phases[p] for s in snaps) for p in PHASES},
            queue=sum(s.queue for s in snaps), counters=counters, cursor=len(self.events),
            events=self.events[since:], background_pending=sum(s.background_pending for s in snaps),
            init_errors=errors[:MAX_INIT_ERRORS], exception_cursor=len(self.raised),
            exceptions=self.raised[exceptions_since:])

    def _take(self, route: str, pool: InstancePool) -> PlatformStats:
        """The pool's snapshot; its new cold starts and exceptions added to the merged lists."""
        snap = pool.snapshot(self.cursors[route], self.raised_cursors[route])
        self.cursors[route] = snap.cursor
        self.raised_cursors[route] = snap.exception_cursor
        self.events += [dataclasses.replace(e, instance=f"{route}#{e.instance}")
                        for e in snap.events]
        self.raised += [dataclasses.replace(e, instance=f"{route}#{e.instance}")
                        for e in snap.exceptions]
        return snap

    def describe(self) -> list[dict[str, object]]:
        return [{**d, "function": route} for route, pool in self.pools.items()
                for d in pool.describe()]


def function_config(config: PlatformConfig, route: str) -> PlatformConfig:
    """One function's platform config: its own command, ``PGAPPNAME`` = its route."""
    env = {APP_NAME_ENV: route, **config.app_env}
    return dataclasses.replace(config, app_command=tuple(config.app_functions[route]),
                               app_functions={}, app_env=env)


def _kind_dir(workdir: Path, route: str) -> Path:
    folder = workdir / "functions" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", route).strip("_") or "root")
    os.makedirs(folder, exist_ok=True)
    return folder
