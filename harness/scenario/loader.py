"""Loading and validating scenario files: every error names the file, the key and what
was expected (one line, exit code 2)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ScenarioError
from harness.results.check_spec import CheckSpec, CheckSpecError, parse_check
from harness.scenario.app import parse_app, with_variant_env
from harness.scenario.context import resolve_path
from harness.scenario.fields import int_field, number_field
from harness.scenario.presets import PRESETS
from harness.scenario.records import (
    _NAME,
    ENDPOINTS,
    POOLERS,
    TARGETS,
    AppSpec,
    DatabaseSpec,
    ExternalSpec,
    FaultSpec,
    HostSpec,
    LoadSpec,
    PersistentSpec,
    PgBouncerSpec,
    PgpoolSpec,
    RequestSpec,
    Scenario,
    ServerlessSpec,
    Stage,
    Variant,
    fault_fits,
)
from harness.scenario.requests import parse_paths
from harness.units import parse_duration

_TOP_KEYS = {"name", "description", "repeats", "database", "load", "target", "pooler",
             "collect", "variants", "thresholds", "check", "faults", "app", "host"}
_VARIANT_KEYS = {"name", "target", "pooler", "target_overrides", "pooler_overrides",
                 "database_overrides", "app_env", "paths", "url", "watch_dsn",
                 "pgbouncer_admin_dsn"}
_LOAD_KEYS = {"think_time", "endpoints", "slow_ms", "stages", "processes", "request_timeout",
              "subscribe_duration",
              "paths", "locustfile"}


class _Ctx:
    """The file being loaded, for error messages."""

    def __init__(self, path: str) -> None:
        self.path = path

    @property
    def base(self) -> Path:
        return Path(self.path).absolute().parent

    def error(self, key: str, expected: str) -> ScenarioError:
        return ScenarioError(self.path, key, expected)

    def table(self, value: object, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {value!r}")
        return value

    def no_unknown(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                listed = ", ".join(sorted(allowed))
                raise self.error(_join(where, key), f"unknown key (expected one of: {listed})")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _keys_of(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.metadata["key"]: f for f in dataclasses.fields(cls) if "key" in f.metadata}


def _build(cls: type[Any], table: Mapping[str, Any], ctx: _Ctx, where: str,
           base: Any = None) -> Any:
    """An instance of ``cls`` from ``table`` (on top of ``base``), every value parsed."""
    fields = _keys_of(cls)
    ctx.no_unknown(table, set(fields), where)
    values: dict[str, Any] = {}
    for key, value in table.items():
        fld = fields[key]
        try:
            values[fld.name] = fld.metadata["parse"](value)
        except ValueError as exc:
            raise ctx.error(_join(where, key), str(exc)) from None
    return dataclasses.replace(base, **values) if base is not None else cls(**values)


def _think_time(value: object, ctx: _Ctx) -> tuple[float, float]:
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


def _stages(value: object, ctx: _Ctx) -> tuple[Stage, ...]:
    if not isinstance(value, list) or not value:
        raise ctx.error("load.stages", "expected a non-empty list of "
                        "{ duration = \"30s\", users = 10, spawn_rate = 10 }")
    stages = []
    for i, item in enumerate(value):
        where = f"load.stages[{i}]"
        table = ctx.table(item, where)
        for required in ("duration", "users"):
            if required not in table:
                raise ctx.error(_join(where, required), "missing (required)")
        stage = _build(Stage, table, ctx, where)
        if stage.duration_s <= 0:
            raise ctx.error(_join(where, "duration"), "expected a duration > 0")
        stages.append(stage)
    return tuple(stages)


def _weights(value: object, ctx: _Ctx, where: str, allowed: set[str] | None) -> dict[str, float]:
    table = ctx.table(value, where)
    if not table:
        raise ctx.error(where, "expected at least one weight")
    weights: dict[str, float] = {}
    for key, weight in table.items():
        if allowed is not None and key not in allowed:
            raise ctx.error(_join(where, key),
                            f"unknown endpoint (expected one of: {', '.join(sorted(allowed))})")
        try:
            weights[key] = number_field(0.0)(weight)
        except ValueError as exc:
            raise ctx.error(_join(where, key), str(exc)) from None
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


def _load(table: dict[str, Any], ctx: _Ctx) -> LoadSpec:
    ctx.no_unknown(table, _LOAD_KEYS, "load")
    try:
        slow_ms = int_field(0, 600_000)(table.get("slow_ms", 50))
        processes = int_field(-1, 256)(table.get("processes", 1))
        timeout = parse_duration(table.get("request_timeout", "30s"))
        subscribe = parse_duration(table.get("subscribe_duration", "10s"))
    except ValueError as exc:
        raise ctx.error("load", str(exc)) from None
    if processes == 0:
        raise ctx.error("load.processes",
                        "expected a number of processes >= 1, or -1 (one per core)")
    weights = _weights(table.get("endpoints", {"read": 1.0}), ctx, "load.endpoints",
                       set(ENDPOINTS))
    locustfile = ""
    if "locustfile" in table:
        locustfile = resolve_path(ctx, table["locustfile"], "load.locustfile", kind="file")
        for other in ("paths", "endpoints", "think_time"):
            if other in table:
                raise ctx.error(f"load.{other}", "not with load.locustfile (the Locust file "
                                "says which requests to send and how long to wait)")
    return LoadSpec(
        stages=_stages(table.get("stages"), ctx),
        think_time_s=_think_time(table.get("think_time", "0s"), ctx),
        requests=() if locustfile else _endpoint_requests(weights, slow_ms),
        processes=processes,
        request_timeout_s=timeout,
        locustfile=locustfile,
        paths=parse_paths(table["paths"], ctx, "load.paths") if "paths" in table else (),
        subscribe_duration_s=subscribe,
    )


def _split_overrides(over: Mapping[str, Any], target_cls: type, ctx: _Ctx,
                     where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``target_overrides`` may hold target keys and pooler keys: split them."""
    target_keys = set(_keys_of(target_cls))
    pooler_keys = set(_keys_of(PgBouncerSpec)) | set(_keys_of(PgpoolSpec))
    ctx.no_unknown(over, target_keys | pooler_keys, where)
    return ({k: v for k, v in over.items() if k in target_keys},
            {k: v for k, v in over.items() if k not in target_keys})


def _variant(table: dict[str, Any], i: int, defaults: dict[str, Any], ctx: _Ctx,
             load: LoadSpec) -> Variant:
    where = f"variants[{i}]"
    ctx.no_unknown(table, _VARIANT_KEYS, where)
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ctx.error(_join(where, "name"), "expected a name of letters, digits and _.+- "
                        f"(at most 64), got {name!r}")
    target = table.get("target", "persistent")
    if target not in TARGETS:
        raise ctx.error(_join(where, "target"), f"expected one of {', '.join(TARGETS)}, "
                        f"got {target!r}")
    pooler = table.get("pooler", "none")
    if pooler not in POOLERS:
        raise ctx.error(_join(where, "pooler"), f"expected one of {', '.join(POOLERS)}, "
                        f"got {pooler!r}")
    if target == "external" and pooler != "none":
        raise ctx.error(_join(where, "pooler"), "an external target brings its own pooler: "
                        "use pooler = \"none\" and pgbouncer_admin_dsn to watch it")
    target_cls = {"persistent": PersistentSpec, "serverless": ServerlessSpec,
                  "external": ExternalSpec}[target]
    t_over, p_over = _split_overrides(ctx.table(table.get("target_overrides"),
                                                _join(where, "target_overrides")),
                                      target_cls, ctx, _join(where, "target_overrides"))
    p_over.update(ctx.table(table.get("pooler_overrides"), _join(where, "pooler_overrides")))
    specs = {k: defaults[k] for k in ("database", "persistent", "serverless", "pgbouncer",
                                      "pgpool", "external", "host")}
    if target == "serverless":
        specs[target] = serverless_spec(defaults["serverless_table"], t_over, ctx,
                                        _join(where, "target_overrides"))
    else:
        specs[target] = _build(target_cls, t_over, ctx, _join(where, "target_overrides"),
                               defaults[target])
    pooler_key, pooler_cls = (("pgpool", PgpoolSpec) if pooler == "pgpool"
                              else ("pgbouncer", PgBouncerSpec))
    specs[pooler_key] = _build(pooler_cls, p_over, ctx, _join(where, "pooler_overrides"),
                               defaults[pooler_key])
    specs["database"] = _build(DatabaseSpec, ctx.table(table.get("database_overrides"),
                                                       _join(where, "database_overrides")),
                               ctx, _join(where, "database_overrides"), defaults["database"])
    if target == "external":
        ext: dict[str, Any] = {k: table[k] for k in ("url", "watch_dsn", "pgbouncer_admin_dsn")
                               if k in table}
        specs["external"] = _build(ExternalSpec, ext, ctx, where, defaults["external"])
        for key in ("url", "watch_dsn"):
            if not getattr(specs["external"], key):
                raise ctx.error(_join(where, key), "required for target = \"external\"")
    app: AppSpec | None = None if target == "external" else defaults["app"]
    if "app_env" in table:
        if target == "external":
            raise ctx.error(_join(where, "app_env"), "not for target = \"external\" (an "
                            "external application has its own environment)")
        if app is None:
            raise ctx.error(_join(where, "app_env"), "needs an [app] section (the variables "
                            "it sets are your application's)")
        app = with_variant_env(app, table["app_env"], ctx, _join(where, "app_env"))
    requests = _variant_requests(table, target, app, load, ctx, where)
    return Variant(name=name, target=target, pooler=pooler, requests=requests, app=app,
                   **specs)


def _variant_requests(table: Mapping[str, Any], target: str, app: AppSpec | None,
                      load: LoadSpec, ctx: _Ctx, where: str) -> tuple[RequestSpec, ...]:
    """What the variant's Locust sends: the variant's ``paths``, else ``[load] paths`` for an
    application (external or ``[app]``), else the built-in endpoints; none with a
    locustfile (it says itself)."""
    is_app = target == "external" or app is not None
    if "paths" in table:
        if not is_app:
            raise ctx.error(_join(where, "paths"), "only for target = \"external\" or with "
                            "an [app] section")
        if load.locustfile:
            raise ctx.error(_join(where, "paths"), "not with load.locustfile")
        return parse_paths(table["paths"], ctx, _join(where, "paths"))
    if load.locustfile:
        return ()
    if is_app and load.paths:
        return load.paths
    if app is not None:
        raise ctx.error("load.paths", "required with an [app] section (the requests to "
                        "send, e.g. { \"GET /items\" = 1 }), or set load.locustfile")
    return load.requests


def serverless_spec(section: Mapping[str, Any], over: Mapping[str, Any], ctx: _Ctx,
                    where: str) -> ServerlessSpec:
    """``[target.serverless]`` plus a variant's overrides, on top of their ``preset``: the
    keys written in the scenario win over the preset's (and are recorded as overrides)."""
    preset = over.get("preset", section.get("preset", ""))
    if preset not in ("", *PRESETS):
        key = _join(where, "preset") if "preset" in over else "target.serverless.preset"
        raise ctx.error(key, f"expected one of {', '.join(PRESETS)}, got {preset!r}")
    preset_keys = PRESETS.get(preset, {})
    spec = _build(ServerlessSpec, preset_keys, ctx, f"preset {preset}", ServerlessSpec())
    spec = _build(ServerlessSpec, section, ctx, "target.serverless", spec)
    spec = _build(ServerlessSpec, over, ctx, where, spec)
    assert isinstance(spec, ServerlessSpec)
    overrides = tuple(k for k in {**section, **over} if k in preset_keys)
    return dataclasses.replace(spec, preset=preset, overrides=overrides)


def _sections(data: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
    targets = ctx.table(data.get("target"), "target")
    ctx.no_unknown(targets, {"persistent", "serverless", "external"}, "target")
    poolers = ctx.table(data.get("pooler"), "pooler")
    ctx.no_unknown(poolers, {"pgbouncer", "pgpool"}, "pooler")
    serverless = ctx.table(targets.get("serverless"), "target.serverless")
    return {
        "database": _build(DatabaseSpec, ctx.table(data.get("database"), "database"), ctx,
                           "database"),
        "persistent": _build(PersistentSpec, ctx.table(targets.get("persistent"),
                                                       "target.persistent"), ctx,
                             "target.persistent"),
        "serverless": serverless_spec(serverless, {}, ctx, "target.serverless"),
        "serverless_table": serverless,
        "app": parse_app(data["app"], ctx) if "app" in data else None,
        "host": _build(HostSpec, ctx.table(data.get("host"), "host"), ctx, "host"),
        "external": _build(ExternalSpec, ctx.table(targets.get("external"), "target.external"),
                           ctx, "target.external"),
        "pgbouncer": _build(PgBouncerSpec, ctx.table(poolers.get("pgbouncer"),
                                                     "pooler.pgbouncer"), ctx,
                            "pooler.pgbouncer"),
        "pgpool": _build(PgpoolSpec, ctx.table(poolers.get("pgpool"), "pooler.pgpool"), ctx,
                         "pooler.pgpool"),
    }


def _check(data: dict[str, Any], ctx: _Ctx, variants: tuple[Variant, ...]) -> CheckSpec:
    """``[thresholds]`` and ``[check]``, parsed once into the scenario's check spec."""
    thresholds = ctx.table(data.get("thresholds"), "thresholds")
    check = ctx.table(data.get("check"), "check")
    try:
        return parse_check(thresholds, check, [v.name for v in variants])
    except CheckSpecError as exc:
        raise ctx.error(exc.key, str(exc)) from None


def check_fault(fault: FaultSpec, where: str, ctx: _Ctx, load: LoadSpec,
                variants: tuple[Variant, ...]) -> None:
    """A fault must happen during the load and hit at least one variant it fits."""
    if fault.at_s >= load.duration_s:
        raise ctx.error(_join(where, "at"), f"expected a time before the load ends "
                        f"({load.duration_s:g}s)")
    if fault.kind == "freeze_target" and fault.duration_s <= 0:
        raise ctx.error(_join(where, "duration"), "expected a duration > 0 for freeze_target")
    by_name = {v.name: v for v in variants}
    for name in fault.variants:
        if name not in by_name:
            raise ctx.error(_join(where, "variants"), f"unknown variant {name!r}")
        why = fault_fits(fault.kind, by_name[name])
        if why:
            raise ctx.error(_join(where, "kind"), f"{fault.kind} cannot hit variant "
                            f"{name!r}: {why}")
    if not any(fault.applies_to(v) for v in variants):
        raise ctx.error(_join(where, "kind"), f"{fault.kind} fits none of the variants")


def _faults(data: dict[str, Any], ctx: _Ctx, load: LoadSpec,
            variants: tuple[Variant, ...]) -> tuple[FaultSpec, ...]:
    raw = data.get("faults", [])
    if not isinstance(raw, list):
        raise ctx.error("faults", "expected [[faults]] tables")
    out = []
    for i, item in enumerate(raw):
        where = f"faults[{i}]"
        table = ctx.table(item, where)
        if "kind" not in table or "at" not in table:
            raise ctx.error(where, "expected kind and at, e.g. "
                            "{ kind = \"restart_postgres\", at = \"10s\" }")
        fault = _build(FaultSpec, table, ctx, where)
        check_fault(fault, where, ctx, load, variants)
        out.append(fault)
    return tuple(out)


_FAULT_FLAG = re.compile(r"^(?P<kind>[a-z_]+)@(?P<at>[^+*]+)(?:\+(?P<dur>[^*]+))?"
                         r"(?:\*(?P<count>\d+))?$")


def with_cli_faults(scenario: Scenario, flags: Sequence[str]) -> Scenario:
    """The scenario plus faults given as ``--fault KIND@AT[+DURATION][*COUNT]``."""
    if not flags:
        return scenario
    ctx = _Ctx("--fault")
    faults = list(scenario.faults)
    for flag in flags:
        match = _FAULT_FLAG.match(flag.strip())
        if not match:
            raise ctx.error(flag, "expected KIND@AT[+DURATION][*COUNT], e.g. "
                            "restart_postgres@10s+2s or kill_instances@5s*10")
        table: dict[str, Any] = {"kind": match["kind"], "at": match["at"]}
        if match["dur"]:
            table["duration"] = match["dur"]
        if match["count"]:
            table["count"] = int(match["count"])
        fault = _build(FaultSpec, table, ctx, flag)
        check_fault(fault, flag, ctx, scenario.load, scenario.variants)
        faults.append(fault)
    return dataclasses.replace(scenario, faults=tuple(faults))


def parse_scenario(data: dict[str, Any], path: str) -> Scenario:
    """A :class:`Scenario` from parsed TOML ``data``; ``path`` is used in errors."""
    ctx = _Ctx(path)
    ctx.no_unknown(data, _TOP_KEYS, "")
    name = data.get("name", Path(path).stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ctx.error("name", f"expected a name of letters, digits and _.+-, got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ctx.error("description", "expected a string")
    try:
        repeats = int_field(1, 100)(data.get("repeats", 1))
    except ValueError as exc:
        raise ctx.error("repeats", str(exc)) from None
    if "load" not in data:
        raise ctx.error("load", "missing section [load] with stages")
    load = _load(ctx.table(data["load"], "load"), ctx)
    collect = ctx.table(data.get("collect"), "collect")
    ctx.no_unknown(collect, {"interval"}, "collect")
    try:
        interval = parse_duration(collect.get("interval", "100ms"))
    except ValueError as exc:
        raise ctx.error("collect.interval", str(exc)) from None
    if not 0.01 <= interval <= 60:
        raise ctx.error("collect.interval", "expected a duration between 10ms and 60s")
    defaults = _sections(data, ctx)
    raw_variants = data.get("variants")
    if not isinstance(raw_variants, list) or not raw_variants:
        raise ctx.error("variants", "expected at least one [[variants]] table")
    variants = tuple(_variant(ctx.table(v, f"variants[{i}]"), i, defaults, ctx, load)
                     for i, v in enumerate(raw_variants))
    seen: set[str] = set()
    for i, v in enumerate(variants):
        if v.name in seen:
            raise ctx.error(f"variants[{i}].name", f"duplicate variant name {v.name!r}")
        seen.add(v.name)
    return Scenario(path=path, name=name, description=description, repeats=repeats, load=load,
                    collect_interval_s=interval, variants=variants,
                    check=_check(data, ctx, variants), raw=data,
                    faults=_faults(data, ctx, load, variants))


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file (no process is started: whether an ``[app]``
    imports is checked by ``harness.run.preflight``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(p), "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(p), "", f"cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(p), "", f"invalid TOML: {exc}") from None
    return parse_scenario(data, str(p))
