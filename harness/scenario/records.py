"""The scenario as frozen records: load, database, targets, pooler, variants, faults.

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
from typing import Any, ClassVar

from harness.errors import InputError
from harness.results.check_spec import CheckSpec
from harness.results.target_env import BACKGROUND_MODES, DB_CLIENTS, ON_FREEZE, STATES
from harness.results.target_env import DEFAULTS as TARGET
from harness.scenario.fields import (
    bool_field,
    choice_field,
    duration_field,
    int_field,
    number_field,
    opt,
    optional_duration_field,
    settings_field,
    text_field,
)
from harness.scenario.limit import LimitSpec
from harness.scenario.presets import PRESETS

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
PGBOUNCER_IMAGES = ("bookworm", "trixie")  # [pooler.pgbouncer] image
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


@dataclass(frozen=True)
class Stage:
    duration_s: float = opt("duration", duration_field, 0.0)
    users: int = opt("users", int_field(0), 0)
    spawn_rate: float = opt("spawn_rate", number_field(0.0, strict=True), 10.0)


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


@dataclass(frozen=True)
class DatabaseSpec:
    max_connections: int = opt("max_connections", int_field(5, 100_000), 100)
    settings: tuple[tuple[str, str], ...] = opt("settings", settings_field, ())
    # the server closes a session idle this long (0 = never, PostgreSQL's default)
    idle_session_timeout_s: float = opt("idle_session_timeout", duration_field, 0.0)

    def server_settings(self) -> dict[str, str]:
        """The extra server settings of a variant: ``settings`` plus the keys that have
        their own name in the scenario (``idle_session_timeout``)."""
        out = dict(self.settings)
        if self.idle_session_timeout_s > 0:
            out["idle_session_timeout"] = f"{round(self.idle_session_timeout_s * 1000)}ms"
        return out


@dataclass(frozen=True)
class HostSpec:
    """``[host]``: how the harness shares this machine with what it measures."""

    pin: bool = opt("pin", bool_field, False)  # load + collectors and the rest on own cores


@dataclass(frozen=True)
class PersistentSpec:
    """``[target.persistent]``: one long-running server with a pool."""

    kind: ClassVar[str] = "persistent"
    pool_min: int = opt("pool_min", int_field(0), TARGET.pool_min)
    pool_max: int = opt("pool_max", int_field(1), TARGET.pool_max)
    prepared_statement_fix: bool = opt("prepared_statement_fix", bool_field, True)
    acquire_timeout_s: float = opt("acquire_timeout", duration_field, TARGET.acquire_timeout_s)
    background_delay_s: float = opt("background_delay", duration_field,
                                    TARGET.background_delay_ms / 1000)
    workers: int = opt("workers", int_field(1, 256), 1)
    state: str = opt("state", choice_field(*STATES), TARGET.state)


@dataclass(frozen=True)
class ServerlessSpec:
    """``[target.serverless]``: instances on the platform emulator."""

    kind: ClassVar[str] = "serverless"
    max_instances: int = opt("max_instances", int_field(1), 1000)
    instance_concurrency: int = opt("instance_concurrency", int_field(1), 1)
    idle_timeout_s: float = opt("idle_timeout", duration_field, 30.0)
    scale_rate: float = opt("scale_rate", number_field(0.0, strict=True), 100.0)
    freeze: bool = opt("freeze", bool_field, True)
    reap: str = opt("reap", choice_field("kill", "abandon"), "kill")
    when_full: str = opt("when_full", choice_field("queue", "reject"), "queue")
    request_timeout_s: float = opt("request_timeout", duration_field, 30.0)
    init_delay_s: float = opt("init_delay", duration_field, 0.0)
    max_lifetime_s: float = opt("max_lifetime", duration_field, 0.0)
    cold_start: str = opt("cold_start", choice_field("fork", "exec"), "fork")
    db_client: str = opt("db_client", choice_field(*DB_CLIENTS), TARGET.db_client)
    pool_max: int = opt("pool_max", int_field(1), 5)
    prepared_statement_fix: bool = opt("prepared_statement_fix", bool_field, True)
    background_delay_s: float = opt("background_delay", duration_field,
                                    TARGET.background_delay_ms / 1000)
    max_duration_s: float = opt("max_duration", duration_field, 0.0)
    websockets: bool = opt("websockets", bool_field, True)  # the platform upgrades them
    state: str = opt("state", choice_field(*STATES), TARGET.state)
    on_freeze: str = opt("on_freeze", choice_field(*ON_FREEZE), TARGET.on_freeze)
    background: str = opt("background", choice_field(*BACKGROUND_MODES), TARGET.background)
    # an ASGI/WSGI [app]'s calls and invocations: "web-adapter" | "mangum" (docs/presets.md)
    adapter: str = opt("adapter", choice_field("web-adapter", "mangum"), "web-adapter")
    preset: str = opt("preset", choice_field("", *PRESETS), "")
    # the keys set explicitly on top of ``preset`` (recorded so the report can name them)
    overrides: tuple[str, ...] = ()


BUILTIN_ONLY: dict[str, frozenset[str]] = {
    "persistent": frozenset({"pool_min", "pool_max", "prepared_statement_fix",
                             "acquire_timeout_s", "background_delay_s", "state"}),
    "serverless": frozenset({"db_client", "pool_max", "prepared_statement_fix",
                             "background_delay_s", "state", "on_freeze", "background"}),
}
"""Target settings only pgstampede's built-in handler reads (its pool, its statement cache,
its /background and /counter): an ``[app]`` variant's manifest leaves them out, since only the
app's own driver settings matter there."""


@dataclass(frozen=True)
class NoPooler:
    """``pooler = "none"``: the target connects to PostgreSQL directly."""

    kind: ClassVar[str] = "none"


@dataclass(frozen=True)
class PgBouncerSpec:
    """``[pooler.pgbouncer]``."""

    kind: ClassVar[str] = "pgbouncer"
    pool_mode: str = opt("pool_mode", choice_field("transaction", "session", "statement"),
                         "transaction")
    pool_size: int = opt("pool_size", int_field(1), 20)
    max_client_conn: int = opt("max_client_conn", int_field(1, 100_000), 2000)
    query_wait_timeout_s: float | None = opt("query_wait_timeout", optional_duration_field, None)
    # idle connections closed by PgBouncer (0 = never): clients, and server connections
    client_idle_timeout_s: float = opt("client_idle_timeout", duration_field, 0.0)
    server_idle_timeout_s: float = opt("server_idle_timeout", duration_field, 600.0)
    # which PgBouncer: Debian bookworm's 1.18 or trixie's 1.24 (prepared statements in
    # transaction mode); the docker runtime runs pgstampede/pgbouncer or
    # pgstampede/pgbouncer-trixie, the process runtime its pgbouncer (trixie: 1.21 or later)
    image: str = opt("image", choice_field(*PGBOUNCER_IMAGES), "bookworm")


@dataclass(frozen=True)
class PgpoolSpec:
    """pgpool-II in connection-pooling mode (``[pooler.pgpool]``); 0 s = never."""

    kind: ClassVar[str] = "pgpool"
    num_init_children: int = opt("num_init_children", int_field(1, 10_000), 32)
    max_pool: int = opt("max_pool", int_field(1, 1_000), 4)
    child_life_time_s: float = opt("child_life_time", duration_field, 300.0)
    connection_life_time_s: float = opt("connection_life_time", duration_field, 0.0)
    client_idle_limit_s: float = opt("client_idle_limit", duration_field, 0.0)


@dataclass(frozen=True)
class ExternalSpec:
    """``target = "external"``: an application already running, whose database is watched."""

    kind: ClassVar[str] = "external"
    url: str = opt("url", text_field, "")
    watch_dsn: str = opt("watch_dsn", text_field, "")
    pgbouncer_admin_dsn: str = opt("pgbouncer_admin_dsn", text_field, "")


TargetSpec = PersistentSpec | ServerlessSpec | ExternalSpec
PoolerSpec = NoPooler | PgBouncerSpec | PgpoolSpec
TARGET_SPECS: dict[str, type[TargetSpec]] = {
    cls.kind: cls for cls in (PersistentSpec, ServerlessSpec, ExternalSpec)}
POOLER_SPECS: dict[str, type[PoolerSpec]] = {
    cls.kind: cls for cls in (NoPooler, PgBouncerSpec, PgpoolSpec)}
TARGETS = tuple(TARGET_SPECS)
POOLERS = tuple(POOLER_SPECS)

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
    kind: str = opt("kind", choice_field(*FAULT_KINDS), "")
    at_s: float = opt("at", duration_field, 0.0)
    duration_s: float = opt("duration", duration_field, 0.0)
    count: int = opt("count", int_field(1), 1)
    variants: tuple[str, ...] = opt("variants", lambda v: _names(v), ())

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
