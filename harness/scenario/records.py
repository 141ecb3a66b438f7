"""The scenario as frozen records: load, app, variants, faults; the sections that configure
the database, the targets and the poolers are in ``harness.scenario.sections`` (named here
too).

A variant's target is one of :data:`TargetSpec` (``PersistentSpec``, ``ServerlessSpec``,
``ExternalSpec``) and its pooler one of :data:`PoolerSpec` (``NoPooler``, ``PgBouncerSpec``,
``PgpoolSpec``): code dispatches on their type; ``kind`` is the name a scenario file and the
run folder use (``target = "serverless"``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import InputError
from harness.results.check_spec import CheckSpec
from harness.scenario.fields import (
    Parser,
    choice_field,
    duration_field,
    int_field,
    number_field,
    opt,
)
from harness.scenario.limit import LimitSpec
from harness.scenario.sections import (
    BUILTIN_ONLY,
    PGBOUNCER_IMAGES,
    POOLER_SPECS,
    POOLERS,
    TARGET_SPECS,
    TARGETS,
    DatabaseSpec,
    ExternalSpec,
    HostSpec,
    NoPooler,
    PersistentSpec,
    PgBouncerSpec,
    PgpoolSpec,
    PoolerSpec,
    ServerlessSpec,
    TargetSpec,
)

__all__ = [
    "BUILTIN_ONLY", "ENDPOINTS", "FAULT_KINDS", "PGBOUNCER_IMAGES", "POOLERS", "POOLER_SPECS",
    "TARGETS", "TARGET_SPECS", "AppSpec", "DatabaseSpec", "ExternalSpec", "FaultSpec", "HostSpec",
    "LoadSpec", "NoPooler", "PersistentSpec", "PgBouncerSpec", "PgpoolSpec", "PoolerSpec",
    "RequestSpec", "Scenario", "ServerlessSpec", "Stage", "TargetSpec", "Variant", "fault_fits",
]

ENDPOINTS: dict[str, tuple[str, str]] = {
    "read": ("GET", "/read"),
    "write": ("POST", "/write"),
    "slow": ("GET", "/slow"),
    "counter": ("GET", "/counter"),
    "background": ("POST", "/background"),
    "set_state": ("POST", "/set_state"),
    "read_state": ("GET", "/read_state"),
    "publish": ("POST", "/publish"),
    "events": ("GET", "/events"),
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


@dataclass(frozen=True)
class Stage:
    """One stage of ``[load] stages``."""

    duration_s: float = opt("duration", duration_field, 0.0,
                            "how long the stage lasts (> 0)", required=True)
    users: int = opt("users", int_field(0), 0, "concurrent users during the stage",
                     required=True)
    spawn_rate: float = opt("spawn_rate", number_field(0.0, strict=True), 10.0,
                            "users started (or stopped) per second to reach `users`")


@dataclass(frozen=True)
class RequestSpec:
    name: str
    method: str
    path: str
    weight: float
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""  # JSON text sent with Content-Type: application/json ("" = no body)


@dataclass(frozen=True)
class LoadSpec:
    stages: tuple[Stage, ...]
    think_time_s: tuple[float, float]
    requests: tuple[RequestSpec, ...]
    processes: int = 1
    request_timeout_s: float = 30.0
    locustfile: str = ""  # the user's own Locust file (absolute path); "" = pgstampede's
    paths: tuple[RequestSpec, ...] = ()  # [load] paths: requests for apps (external, [app])
    subscribe_duration_s: float = 10.0  # how long an ``events`` request stays subscribed
    subscribe_transport: str = "sse"  # "sse" (/events) or "websocket" (its WebSocket twin)
    subscribers: int = 0  # a population of its own, subscribed to /events the whole run

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)


APP_KINDS = ("asgi", "wsgi")


@dataclass(frozen=True)
class AppSpec:
    """The user's own application (``[app]``): ASGI/WSGI, or any program serving HTTP
    (``command``), run by the persistent and the serverless targets. Paths are absolute
    (resolved relative to the scenario file)."""

    kind: str                                # "asgi" | "wsgi" | "command" | "node"
    entry: str                               # "module:attr" (a command app: its command line)
    factory: bool = False                    # attr is a callable that builds the app
    root: str = ""                           # put first on sys.path; setup commands run here
    python: str = ""                         # the app's interpreter ("" = the harness's)
    dsn_env: tuple[str, ...] = ("DATABASE_URL",)  # variables set to the variant's DSN
    env: tuple[tuple[str, str], ...] = ()    # extra variables, templates as written
    schema: str = ""                         # SQL file run once on each fresh database
    setup: tuple[str, ...] = ()              # shell commands run in root before the load
    preload: tuple[str, ...] = ()            # serverless: modules imported before forking
    command: tuple[str, ...] = ()            # "command": the program's argv (/bin/sh -c TEXT)
    port_env: str = "PORT"                   # "command": the variable giving it its port
    ready: str = ""                          # "command": "GET /health" (else: any HTTP answer)
    expect: tuple[tuple[str, str], ...] = ()  # [app.expect]: "METHOD /path" -> SQL count query
    expect_grace_s: float = 2.0              # persistent: wait this long before counting
    # "node": Vercel-style function files, route pattern -> file relative to root, served by
    # pgstampede's Node host (harness.apphost.node); on serverless each route is a function
    node_routes: tuple[tuple[str, str], ...] = ()

    @property
    def module(self) -> str:
        return self.entry.split(":", 1)[0]


@dataclass(frozen=True)
class Variant:
    name: str
    target: TargetSpec
    pooler: PoolerSpec
    database: DatabaseSpec
    requests: tuple[RequestSpec, ...] = ()
    app: AppSpec | None = None  # None: the built-in target (or external)
    host: HostSpec = HostSpec()

    @property
    def background_delay_s(self) -> float:
        """How long the target waits before its background work (0 for an external one)."""
        return 0.0 if isinstance(self.target, ExternalSpec) else self.target.background_delay_s

    @property
    def prepared_statement_fix(self) -> bool:
        """``prepared_statement_fix`` of the harness's target (False for an external one)."""
        return not isinstance(self.target, ExternalSpec) and self.target.prepared_statement_fix

    def target_config(self) -> dict[str, Any]:
        """The settings of this variant's target and pooler, as run (for the manifest); with
        an ``[app]``, none of the built-in handler's (``BUILTIN_ONLY``)."""
        target = dataclasses.asdict(self.target)
        if self.app is not None:  # the built-in handler's settings do not apply
            skip = BUILTIN_ONLY.get(self.target.kind, frozenset())
            target = {k: v for k, v in target.items() if k not in skip}
        out: dict[str, Any] = {"target": self.target.kind, "pooler": self.pooler.kind,
                               "max_connections": self.database.max_connections,
                               self.target.kind: target}
        if not isinstance(self.pooler, NoPooler):
            out[self.pooler.kind] = dataclasses.asdict(self.pooler)
        if self.app is not None:
            out["app"] = {**dataclasses.asdict(self.app), "env": dict(self.app.env)}
        if self.host.pin:
            out["host"] = dataclasses.asdict(self.host)
        return out


FAULT_KINDS: dict[str, str] = {
    "restart_postgres": "stop PostgreSQL (fast shutdown), wait `duration`, start it again",
    "restart_pgbouncer": "stop PgBouncer, wait `duration`, start it again",
    "kill_instances": "SIGKILL `count` serverless instances",
    "freeze_target": "SIGSTOP the persistent target for `duration`",
    "terminate_backends": "pg_terminate_backend() every client backend",
}


@dataclass(frozen=True)
class FaultSpec:
    """One ``[[faults]]`` table (or ``--fault KIND@AT[+DURATION][*COUNT]``)."""

    kind: str = opt("kind", choice_field(*FAULT_KINDS), "", "what breaks (below)",
                    required=True)
    at_s: float = opt("at", duration_field, 0.0, "when, from the start of the load",
                      required=True)
    duration_s: float = opt("duration", duration_field, 0.0,
                            "downtime of a restart, length of a freeze")
    count: int = opt("count", int_field(1), 1, "kill_instances: how many")
    variants: tuple[str, ...] = opt("variants", Parser(lambda v: _names(v), "list of strings"),
                                    (), "the variants it hits (default: every one it fits)")

    def applies_to(self, variant: Variant) -> bool:
        """Whether this fault can happen to ``variant`` (and is meant for it)."""
        if self.variants and variant.name not in self.variants:
            return False
        return fault_fits(self.kind, variant) is None


def fault_fits(kind: str, variant: Variant) -> str | None:
    """None when fault ``kind`` can hit ``variant``; else why not."""
    if isinstance(variant.target, ExternalSpec) and kind != "terminate_backends":
        return "an external target only supports terminate_backends"
    if kind == "restart_pgbouncer" and not isinstance(variant.pooler, PgBouncerSpec):
        return "needs pooler = \"pgbouncer\""
    if kind == "kill_instances" and not isinstance(variant.target, ServerlessSpec):
        return "needs target = \"serverless\""
    if kind == "freeze_target" and not isinstance(variant.target, PersistentSpec):
        return "needs target = \"persistent\""
    return None


def _names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of variant names, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class Scenario:
    path: str
    name: str
    description: str
    repeats: int
    load: LoadSpec
    collect_interval_s: float
    variants: tuple[Variant, ...]
    check: CheckSpec
    raw: Mapping[str, Any]
    faults: tuple[FaultSpec, ...] = ()
    limit: LimitSpec = LimitSpec()  # [limit]: pgstampede limit's settings

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def selected(self, only: Sequence[str] | None) -> tuple[Variant, ...]:
        """The variants restricted to ``only`` (``--variants``), in the scenario's order;
        InputError naming the unknown ones."""
        if not only:
            return self.variants
        known = {v.name for v in self.variants}
        unknown = [name for name in only if name not in known]
        if unknown:
            raise InputError(
                f"--variants: unknown variant {', '.join(repr(u) for u in unknown)} in "
                f"{self.path} (expected some of: {', '.join(sorted(known))})"
            )
        return tuple(v for v in self.variants if v.name in set(only))
