"""The sections of a scenario that configure what runs: ``[database]``, ``[host]``, the
targets (``[target.persistent]``, ``[target.serverless]``, an external one) and the poolers
(``[pooler.pgbouncer]``, ``[pooler.pgpool]``), as frozen records whose fields declare their
TOML key, parser, default and meaning (``harness.scenario.fields``).

A variant's target is one of :data:`TargetSpec` and its pooler one of :data:`PoolerSpec`:
code dispatches on their type; ``kind`` is the name a scenario file and the run folder use
(``target = "serverless"``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from harness.results.target_env import BACKGROUND_MODES, DB_CLIENTS, ON_FREEZE, STATES
from harness.results.target_env import DEFAULTS as TARGET
from harness.scenario.fields import (
    bool_field,
    choice_field,
    duration_field,
    int_field,
    number_field,
    opt,
    settings_field,
    text_field,
    whole_seconds,
)
from harness.scenario.presets import PRESETS

PGBOUNCER_IMAGES = ("bookworm", "trixie")  # [pooler.pgbouncer] image


@dataclass(frozen=True)
class DatabaseSpec:
    """``[database]``: the PostgreSQL server of each variant run."""

    max_connections: int = opt("max_connections", int_field(5, 100_000), 100,
                               "the server's max_connections (3 of them reserved for "
                               "superusers)")
    settings: tuple[tuple[str, str], ...] = opt(
        "settings", settings_field, (), "extra server settings, e.g. { work_mem = \"4MB\" }")
    idle_session_timeout_s: float = opt("idle_session_timeout", duration_field, 0.0,
                                        "the server closes a session idle this long (0 = never)")

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

    pin: bool = opt("pin", bool_field, False, "the harness and Locust on a quarter of the cores, "
                    "everything else on the rest (recorded in the manifest)")


@dataclass(frozen=True)
class PersistentSpec:
    """``[target.persistent]``: one long-running server with a pool."""

    kind: ClassVar[str] = "persistent"
    pool_min: int = opt("pool_min", int_field(0), TARGET.pool_min,
                        "connections each worker's asyncpg pool keeps open", builtin=True)
    pool_max: int = opt("pool_max", int_field(1), TARGET.pool_max,
                        "most connections of each worker's asyncpg pool", builtin=True)
    prepared_statement_fix: bool = opt(
        "prepared_statement_fix", bool_field, True, "statement_cache_size=0 behind PgBouncer "
        "in transaction mode (false: asyncpg's default cache, which fails there before 1.21)",
        builtin=True)
    acquire_timeout_s: float = opt("acquire_timeout", duration_field, TARGET.acquire_timeout_s,
                                   "longest wait for a pooled connection (then "
                                   "db_pool_timeout)", builtin=True)
    background_delay_s: float = opt("background_delay", duration_field,
                                    TARGET.background_delay_ms / 1000,
                                    "/background: the work runs this long after the response",
                                    builtin=True)
    workers: int = opt("workers", int_field(1, 256), 1,
                       "server processes, each with its own pool (an [app]: uvicorn --workers; "
                       "a command app: WEB_CONCURRENCY)")
    state: str = opt("state", choice_field(*STATES), TARGET.state,
                     "/counter: per process (memory) or one row in the database (postgres)",
                     builtin=True)


@dataclass(frozen=True)
class ServerlessSpec:
    """``[target.serverless]``: instances on the platform emulator."""

    kind: ClassVar[str] = "serverless"
    max_instances: int = opt("max_instances", int_field(1), 1000,
                             "most instances at once (then when_full)")
    instance_concurrency: int = opt("instance_concurrency", int_field(1), 1,
                                    "requests one instance serves at once (1 = AWS Lambda; N = "
                                    "Vercel Fluid, Cloud Run)")
    idle_timeout_s: float = opt("idle_timeout", duration_field, 30.0,
                                "an instance idle (frozen) this long is reaped")
    scale_rate: float = opt("scale_rate", number_field(0.0, strict=True), 100.0,
                            "new instances per second at most")
    freeze: bool = opt("freeze", bool_field, True,
                       "freeze an instance with no request in flight (SIGSTOP; false: it keeps "
                       "running)")
    reap: str = opt("reap", choice_field("kill", "abandon"), "kill",
                    "a reaped instance is killed (its connection closes) or abandoned (a frozen "
                    "zombie that keeps its connection until max_lifetime)")
    when_full: str = opt("when_full", choice_field("queue", "reject"), "queue",
                         "at max_instances a request waits for an instance, or is rejected "
                         "(HTTP 429)")
    request_timeout_s: float = opt("request_timeout", duration_field, 30.0,
                                   "the gateway answers 504 to a request waiting or running "
                                   "this long")
    init_delay_s: float = opt("init_delay", duration_field, 0.0,
                              "extra time added to every cold start")
    max_lifetime_s: float = opt("max_lifetime", duration_field, 0.0,
                                "an instance (a zombie too) is killed after this long "
                                "(0 = unlimited)")
    cold_start: str = opt("cold_start", choice_field("fork", "exec"), "fork",
                          "an instance is forked from a template that imported the handler, or "
                          "a fresh interpreter (exec)")
    db_client: str = opt("db_client", choice_field(*DB_CLIENTS), TARGET.db_client,
                         "one global connection per instance, or a per-instance pool of "
                         "pool_max", builtin=True)
    pool_max: int = opt("pool_max", int_field(1), 5,
                        "most connections of an instance's pool (db_client = \"pool\"; the "
                        "persistent target's default is 20)", builtin=True)
    prepared_statement_fix: bool = opt(
        "prepared_statement_fix", bool_field, True, "statement_cache_size=0 behind PgBouncer "
        "in transaction mode", builtin=True)
    background_delay_s: float = opt("background_delay", duration_field,
                                    TARGET.background_delay_ms / 1000,
                                    "/background: the work runs this long after the response",
                                    builtin=True)
    max_duration_s: float = opt("max_duration", duration_field, 0.0,
                                "longest request on an instance, then 504 and the instance is "
                                "killed; also cuts /events streams (0 = unlimited)")
    websockets: bool = opt("websockets", bool_field, True,
                           "the platform upgrades WebSocket requests (false: it refuses them)")
    state: str = opt("state", choice_field(*STATES), TARGET.state,
                     "/counter: per instance (memory) or one row in the database (postgres)",
                     builtin=True)
    on_freeze: str = opt("on_freeze", choice_field(*ON_FREEZE), TARGET.on_freeze,
                         "keep idle connections through a freeze, or close them before it "
                         "(drain)", builtin=True)
    background: str = opt("background", choice_field(*BACKGROUND_MODES), TARGET.background,
                          "/background: after the response (frozen with the instance), "
                          "wait_until (the instance kept busy until done) or queue (a job row "
                          "a consumer process completes)", builtin=True)
    adapter: str = opt("adapter", choice_field("web-adapter", "mangum"), "web-adapter",
                       "an ASGI/WSGI [app]'s calls and invocations: as the AWS Lambda Web "
                       "Adapter or as Mangum (docs/presets.md)")
    preset: str = opt("preset", choice_field("", *PRESETS), "",
                      "a platform's documented defaults (below); keys written here win over "
                      "it")
    # the keys set explicitly on top of ``preset`` (recorded so the report can name them)
    overrides: tuple[str, ...] = ()


BUILTIN_ONLY: dict[str, frozenset[str]] = {
    cls.kind: frozenset(f.name for f in dataclasses.fields(cls) if f.metadata.get("builtin"))
    for cls in (PersistentSpec, ServerlessSpec)
}
"""Target settings only pgstampede's built-in handler reads (its pool, its statement cache,
its /background and /counter; the fields declared ``builtin``): refused beside an ``[app]``,
and an ``[app]`` variant's manifest leaves them out."""


@dataclass(frozen=True)
class NoPooler:
    """``pooler = "none"``: the target connects to PostgreSQL directly."""

    kind: ClassVar[str] = "none"


@dataclass(frozen=True)
class PgBouncerSpec:
    """``[pooler.pgbouncer]``."""

    kind: ClassVar[str] = "pgbouncer"
    pool_mode: str = opt("pool_mode", choice_field("transaction", "session", "statement"),
                         "transaction", "when a server connection goes back to the pool")
    pool_size: int = opt("pool_size", int_field(1), 20,
                         "server connections per database and user (default_pool_size)")
    max_client_conn: int = opt("max_client_conn", int_field(1, 100_000), 2000,
                               "most client connections; beyond, PgBouncer refuses them "
                               "(pooler_full)")
    query_wait_timeout_s: float | None = opt(
        "query_wait_timeout", whole_seconds(optional=True), None,
        "a client queued this long is disconnected (0 = wait forever)", shown='"0s"')
    client_idle_timeout_s: float = opt("client_idle_timeout", whole_seconds(), 0.0,
                                       "close client connections idle this long (0 = never)")
    server_idle_timeout_s: float = opt("server_idle_timeout", whole_seconds(), 600.0,
                                       "close server connections idle this long (0 = never)")
    # which PgBouncer: "" the runtime's own (the docker image pgstampede/pgbouncer, or this
    # machine's pgbouncer); bookworm: 1.18 (no prepared statements in transaction mode);
    # trixie: 1.21 or later (1.24 in the docker image pgstampede/pgbouncer-trixie)
    image: str = opt("image", choice_field("", *PGBOUNCER_IMAGES), "",
                     "which PgBouncer: \"\" the runtime's own; bookworm (1.18: no prepared "
                     "statements in transaction mode) or trixie (1.21 or later: 1.24 under "
                     "docker); the process runtime refuses a machine's pgbouncer of the other "
                     "kind")


@dataclass(frozen=True)
class PgpoolSpec:
    """pgpool-II in connection-pooling mode (``[pooler.pgpool]``); 0 s = never."""

    kind: ClassVar[str] = "pgpool"
    num_init_children: int = opt("num_init_children", int_field(1, 10_000), 32,
                                 "child processes: clients served at once (more wait in the "
                                 "listen backlog)")
    max_pool: int = opt("max_pool", int_field(1, 1_000), 4,
                        "cached backend connections per child")
    child_life_time_s: float = opt("child_life_time", whole_seconds(), 300.0,
                                   "an idle child is replaced after this long (0 = never)")
    connection_life_time_s: float = opt("connection_life_time", whole_seconds(), 0.0,
                                        "a cached backend connection is closed after this long "
                                        "(0 = never)")
    client_idle_limit_s: float = opt("client_idle_limit", whole_seconds(), 0.0,
                                     "an idle client is disconnected after this long "
                                     "(0 = never)")


@dataclass(frozen=True)
class ExternalSpec:
    """``target = "external"``: an application already running, whose database is watched."""

    kind: ClassVar[str] = "external"
    url: str = opt("url", text_field, "", "the application's base URL (loopback unless "
                   "--allow-remote or --allow-address)")
    watch_dsn: str = opt("watch_dsn", text_field, "", "its database, as a superuser or a role "
                         "with pg_read_all_stats")
    pgbouncer_admin_dsn: str = opt("pgbouncer_admin_dsn", text_field, "",
                                   "its PgBouncer's admin console (optional)")


TargetSpec = PersistentSpec | ServerlessSpec | ExternalSpec
PoolerSpec = NoPooler | PgBouncerSpec | PgpoolSpec
TARGET_SPECS: dict[str, type[TargetSpec]] = {
    cls.kind: cls for cls in (PersistentSpec, ServerlessSpec, ExternalSpec)}
POOLER_SPECS: dict[str, type[PoolerSpec]] = {
    cls.kind: cls for cls in (NoPooler, PgBouncerSpec, PgpoolSpec)}
TARGETS = tuple(TARGET_SPECS)
POOLERS = tuple(POOLER_SPECS)
