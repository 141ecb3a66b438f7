"""The load plan handed from the harness to the Locust subprocess, as JSON.

The orchestrating process builds a ``LoadConfig`` from the scenario's load spec and writes
it to a file; the locustfile reads it back in Locust's ``init`` event (never at import).
This module imports neither locust nor pandas, so both sides can use it.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import LoadError
from harness.results.codec import DecodeError, dumps, loads
from harness.scenario.records import LoadSpec, RequestSpec, Stage

CONFIG_ENV = "PGSTAMPEDE_LOAD_CONFIG"
"""Environment variable holding the plan itself as JSON."""

CONFIG_FILE_ENV = "PGSTAMPEDE_LOAD_CONFIG_FILE"
"""Environment variable holding the path of a JSON file with the plan."""


def send_options(request: RequestSpec) -> dict[str, Any]:
    """The keyword arguments of Locust's ``client.request`` for a request's headers and
    body (JSON, sent with Content-Type: application/json unless its headers say)."""
    if not request.headers and not request.body:
        return {}
    headers = dict(request.headers)
    if request.body:
        headers.setdefault("Content-Type", "application/json")
        return {"headers": headers, "data": request.body.encode()}
    return {"headers": headers}


@dataclass(frozen=True)
class LoadConfig:
    """Everything the locustfile needs; ``out_dir`` receives the logs."""

    out_dir: str
    stages: tuple[Stage, ...]
    think_time_s: tuple[float, float]
    requests: tuple[RequestSpec, ...]
    request_timeout_s: float = 30.0
    request_log: bool = True
    progress_interval_s: float = 1.0
    locustfile: str = ""  # the user's own Locust file: it says which requests to send
    subscribe_duration_s: float = 10.0  # an ``events`` request's subscription window
    subscribe_transport: str = "sse"  # "sse" (/events) or "websocket" (its WebSocket twin)
    subscribers: int = 0  # SubscriberUser: subscribed the whole run, on top of each stage
    def __post_init__(self) -> None:
        if self.locustfile:
            return
        if not self.requests or sum(r.weight for r in self.requests) <= 0:
            raise LoadError("load plan: at least one request with a positive weight is needed")

    @property
    def cumulative_weights(self) -> tuple[float, ...]:
        return tuple(itertools.accumulate(r.weight for r in self.requests))

    def pick(self, u: float) -> RequestSpec:
        """The request chosen by ``u`` in [0, 1): weighted by ``RequestSpec.weight``."""
        cum = self.cumulative_weights
        i = bisect.bisect_right(cum, u * cum[-1])
        return self.requests[min(i, len(self.requests) - 1)]

    def think_time(self, u: float) -> float:
        """The wait before the next request, chosen by ``u`` in [0, 1)."""
        lo, hi = self.think_time_s
        return lo if hi <= lo else lo + (hi - lo) * u

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)

    @classmethod
    def from_spec(
        cls, spec: LoadSpec, *, out_dir: Path, request_log: bool = True
    ) -> LoadConfig:
        return cls(
            out_dir=str(out_dir),
            stages=tuple(Stage(s.duration_s, s.users, s.spawn_rate) for s in spec.stages),
            think_time_s=(spec.think_time_s[0], spec.think_time_s[1]),
            requests=tuple(
                dataclasses.replace(r, method=r.method.upper(), headers=tuple(r.headers))
                for r in spec.requests
            ),
            request_timeout_s=spec.request_timeout_s,
            request_log=request_log,
            locustfile=spec.locustfile,
            subscribe_duration_s=spec.subscribe_duration_s,
            subscribe_transport=spec.subscribe_transport,
            subscribers=spec.subscribers,
        )

    def to_json(self) -> str:
        return dumps(self)

    @classmethod
    def from_json(cls, text: str, source: str = "load plan") -> LoadConfig:
        """The plan from its JSON (a key left out takes its default); DecodeError naming
        ``source`` and the field."""
        return loads(cls, text, source, defaults=True)


def load_config_from_env(environ: Mapping[str, str] = os.environ) -> LoadConfig:
    """The plan from ``PGSTAMPEDE_LOAD_CONFIG`` (JSON) or ``PGSTAMPEDE_LOAD_CONFIG_FILE``."""
    try:
        if CONFIG_ENV in environ:
            return LoadConfig.from_json(environ[CONFIG_ENV], CONFIG_ENV)
        if CONFIG_FILE_ENV in environ:
            path = environ[CONFIG_FILE_ENV]
            return LoadConfig.from_json(Path(path).read_text(), path)
    except (OSError, DecodeError) as exc:
        raise LoadError(f"load plan: cannot read it from the environment ({exc})") from exc
    raise LoadError(f"load plan: set {CONFIG_ENV} (JSON) or {CONFIG_FILE_ENV} (path)")
