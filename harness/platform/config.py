"""The serverless platform's knobs, passed to the gateway process as a JSON file.

Defaults follow AWS Lambda where it documents them: one request per instance, 1,000
instances, 1,000 new instances per 10 s (``scale_rate = 100``), throttling answered 429
only when asked (``when_full = "reject"``; the default queues).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, get_origin, get_type_hints

from harness.errors import InputError
from harness.results.codec import DecodeError, decode, dumps
from harness.results.target_env import (
    BACKGROUND_MODES,
    DB_CLIENTS,
    ON_FREEZE,
    STATES,
    VARIABLES,
    TargetEnv,
)

REAP_MODES = ("kill", "abandon")
WHEN_FULL = ("queue", "reject")
COLD_STARTS = ("fork", "exec")
SPAWNERS = ("process", "docker")
APP_KINDS = ("", "asgi", "wsgi", "command")
ADAPTERS = ("web-adapter", "mangum")
READY_REQUEST = re.compile(r"^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /\S*$")
DEFAULT_HANDLER = "targets.serverless.handler:handler"


@dataclass(frozen=True)
class PlatformConfig:
    """How the emulated platform runs instances, and the environment of the handler."""

    max_instances: int = 1000
    instance_concurrency: int = 1
    idle_timeout_s: float = 30.0
    scale_rate: float = 100.0
    freeze: bool = True
    reap: str = "kill"
    when_full: str = "queue"
    request_timeout_s: float = 30.0
    init_delay_s: float = 0.0
    max_lifetime_s: float = 0.0
    cold_start: str = "fork"
    db_client: str = "connection"
    pool_max: int = 5
    # the handler and its environment
    handler: str = DEFAULT_HANDLER
    dsn: str = ""
    statement_cache_size: str = ""
    background_delay_ms: int = 1000
    acquire_timeout_s: float = 10.0
    app_name: str = "pgstampede-serverless"
    ssl: str = ""  # "disable": the server has no TLS, connect without asking (PGSTAMPEDE_SSL)
    startup_timeout_s: float = 30.0
    # where instances run: "process" (forked/exec'd by the template) or "docker" (one
    # container per instance, harness.platform.docker_spawner); image and run label for docker
    spawner: str = "process"
    instance_image: str = "pgstampede/instance:latest"
    run_label: str = ""
    # a user's application instead of the built-in handler (harness.apphost runs it): kind
    # "asgi" | "wsgi" | "command" ("" = the built-in handler), "module:attr", whether attr is
    # a factory, the directory put first on sys.path (a command's working directory), the
    # interpreter ("" = the harness's), the resolved environment (DSN variables included) and
    # the modules the template imports before forking
    app_kind: str = ""
    app_entry: str = ""
    app_factory: bool = False
    app_root: str = ""
    app_python: str = ""
    app_env: dict[str, str] = field(default_factory=dict)
    app_preload: tuple[str, ...] = ()
    # how an ASGI/WSGI app's calls map onto invocations: "web-adapter" (the invocation ends
    # with the response; work after it is frozen with the instance, as under the AWS Lambda
    # Web Adapter) or "mangum" (the invocation ends when the app's call has returned, its
    # clean-up included: the response waits for it, as under Mangum)
    adapter: str = "web-adapter"
    # a command app (``app_kind = "command"``, harness.platform.command): its argv, the
    # variable that gives it its port, and its readiness request ("" = the port answers HTTP)
    app_command: tuple[str, ...] = ()
    app_port_env: str = "PORT"
    app_ready: str = ""
    # functions of a command app (route pattern -> the command serving it): one instance pool
    # per route, as on Vercel (harness.platform.functions); {} = one pool running app_command
    app_functions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # longest a request may run on an instance (0 = unlimited): 504, the instance discarded;
    # a stream or a WebSocket is cut there instead
    max_duration_s: float = 0.0
    # whether the platform upgrades WebSocket connections (False: refused, 426, kind
    # websocket_refused)
    websockets: bool = True
    # the built-in handler's fixes as switches: where /counter counts (targets.shared.settings)
    state: str = "memory"
    on_freeze: str = "keep"  # "drain": close idle connections before the freeze
    background: str = "after_response"  # or "wait_until" | "queue" (targets.shared.settings)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        _choice("reap", self.reap, REAP_MODES)
        _choice("when_full", self.when_full, WHEN_FULL)
        _choice("cold_start", self.cold_start, COLD_STARTS)
        _choice("db_client", self.db_client, DB_CLIENTS)
        _choice("spawner", self.spawner, SPAWNERS)
        _choice("state", self.state, STATES)
        _choice("on_freeze", self.on_freeze, ON_FREEZE)
        _choice("background", self.background, BACKGROUND_MODES)
        _choice("adapter", self.adapter, ADAPTERS)
        for name in ("max_instances", "instance_concurrency", "pool_max"):
            if getattr(self, name) < 1:
                raise InputError(f"platform config: {name} must be >= 1")
        _choice("app_kind", self.app_kind, APP_KINDS)
        if self.app_kind in ("asgi", "wsgi") and ":" not in self.app_entry:
            raise InputError("platform config: app_entry must be 'module:attribute'")
        if self.app_kind == "command" and not self.app_command:
            raise InputError("platform config: app_command must name a program")
        if self.app_ready and not READY_REQUEST.match(self.app_ready):
            raise InputError(f"platform config: app_ready = {self.app_ready!r}, expected "
                             "\"METHOD /path\", e.g. \"GET /health\"")
        if self.app_kind and self.spawner != "process":
            raise InputError("platform config: apps run with spawner = 'process' only")
        for name in ("idle_timeout_s", "init_delay_s", "max_lifetime_s", "background_delay_ms",
                     "max_duration_s"):
            if getattr(self, name) < 0:
                raise InputError(f"platform config: {name} must be >= 0")
        for name in ("scale_rate", "request_timeout_s", "startup_timeout_s", "acquire_timeout_s"):
            if getattr(self, name) <= 0:
                raise InputError(f"platform config: {name} must be > 0")
        if self.statement_cache_size not in ("",) and not self.statement_cache_size.isdigit():
            raise InputError("platform config: statement_cache_size must be '' or an integer")
        if self.ssl not in ("", "disable"):
            raise InputError("platform config: ssl must be '' or 'disable'")
        if ":" not in self.handler:
            raise InputError("platform config: handler must be 'module:function'")

    @property
    def is_app(self) -> bool:
        """True when instances run a user's app (ASGI/WSGI: harness.apphost; a command)."""
        return self.app_kind != ""

    def handler_env(self) -> dict[str, str]:
        """The environment every instance's handler sees (harness.results.target_env)."""
        settings = TargetEnv(
            dsn=self.dsn, statement_cache_size=self.statement_cache_size,
            background_delay_ms=self.background_delay_ms,
            acquire_timeout_s=self.acquire_timeout_s, application_name=self.app_name,
            db_client=self.db_client, pool_min=self.pool_max, pool_max=self.pool_max,
            state=self.state, on_freeze=self.on_freeze, background=self.background,
            ssl=self.ssl)
        return {k: v for k, v in settings.to_env().items() if k != VARIABLES["instance"]}

    def to_json(self) -> str:
        return dumps(self, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PlatformConfig:
        """The config from its JSON (a key left out takes its default); InputError naming the
        key for anything else than this record."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"platform config: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise InputError("platform config: expected a JSON object")
        try:
            return decode(cls, data, "platform config", defaults=True)
        except DecodeError as exc:
            raise InputError(_problem(exc, data)) from None


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"platform config: {name} = {value!r}, expected one of {list(allowed)}")


def _problem(exc: DecodeError, data: dict[str, Any]) -> str:
    """The codec's finding in this config's words: the key, its value and the type wanted."""
    hints = get_type_hints(PlatformConfig)
    if exc.expected == "no such key":
        return f"platform config: unknown keys {sorted(set(data) - set(hints))}"
    key = re.split(r"[.\[]", exc.where, maxsplit=1)[0]
    kind = get_origin(hints[key]) or hints[key]
    return f"platform config: {key} = {data[key]!r}, expected {kind.__name__}"
