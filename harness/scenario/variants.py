"""The ``[[variants]]``: each one a target spec and a pooler spec (typed, see
``harness.scenario.records``) built from the scenario's sections plus its own overrides."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.scenario.app import parse_app, with_variant_env
from harness.scenario.context import SectionContext, build, join, keys_of
from harness.scenario.fields import choice_field, opt, raw_field
from harness.scenario.presets import PRESETS
from harness.scenario.records import (
    _NAME,
    POOLER_SPECS,
    TARGET_SPECS,
    AppSpec,
    DatabaseSpec,
    ExternalSpec,
    HostSpec,
    LoadSpec,
    NoPooler,
    PersistentSpec,
    PgBouncerSpec,
    PgpoolSpec,
    PoolerSpec,
    RequestSpec,
    ServerlessSpec,
    TargetSpec,
    Variant,
)
from harness.scenario.requests import parse_paths


@dataclass(frozen=True)
class VariantTable:
    """One ``[[variants]]`` table as written: every key with its meaning."""

    name: object = opt("name", raw_field("string", "letters, digits and _.+- (at most 64)"),
                       None, "the variant's name in the summary, the report and thresholds",
                       required=True)
    target: object = opt("target", choice_field(*TARGET_SPECS), PersistentSpec.kind,
                         "what runs the application")
    pooler: object = opt("pooler", choice_field(*POOLER_SPECS), NoPooler.kind,
                         "the pooler between the target and PostgreSQL")
    target_overrides: object = opt("target_overrides", raw_field("table"), None,
                                   "any key of the variant's [target.*] (or [pooler.*]) section,"
                                   " for this variant")
    pooler_overrides: object = opt("pooler_overrides", raw_field("table"), None,
                                   "any key of the variant's [pooler.*] section")
    database_overrides: object = opt("database_overrides", raw_field("table"), None,
                                     "any key of [database]")
    app_env: object = opt("app_env", raw_field("table of strings"), None,
                          "[app]: variables over [app.env] for this variant")
    paths: object = opt("paths", raw_field("table"), None,
                        "this variant's requests instead of [load] paths ([app] or external)")
    url: object = opt("url", raw_field("string"), None,
                      "target = \"external\": its URL ([target.external] url)")
    watch_dsn: object = opt("watch_dsn", raw_field("string"), None,
                            "target = \"external\": its database ([target.external] watch_dsn)")
    pgbouncer_admin_dsn: object = opt("pgbouncer_admin_dsn", raw_field("string"), None,
                                      "target = \"external\": its PgBouncer's admin console")


VARIANT_KEYS = set(keys_of(VariantTable))
EXTERNAL_KEYS = ("url", "watch_dsn", "pgbouncer_admin_dsn")


@dataclass(frozen=True)
class Sections:
    """The scenario's sections, which every variant starts from."""

    database: DatabaseSpec
    persistent: PersistentSpec
    serverless: ServerlessSpec
    serverless_table: Mapping[str, Any]  # as written: a variant's overrides go on its preset
    external: ExternalSpec
    pgbouncer: PgBouncerSpec
    pgpool: PgpoolSpec
    host: HostSpec
    app: AppSpec | None

    def target(self, cls: type[TargetSpec]) -> TargetSpec:
        """The section a target's overrides go on."""
        sections: tuple[TargetSpec, ...] = (self.persistent, self.serverless, self.external)
        return next(s for s in sections if type(s) is cls)

    def pooler(self, cls: type[PoolerSpec]) -> PoolerSpec:
        """The section a pooler's overrides go on (``none``: PgBouncer's, as ever)."""
        return self.pgpool if cls is PgpoolSpec else self.pgbouncer


def parse_sections(data: Mapping[str, Any], ctx: SectionContext) -> Sections:
    """``[database]``, ``[target.*]``, ``[pooler.*]``, ``[app]`` and ``[host]``."""
    targets = ctx.table(data.get("target"), "target")
    ctx.no_unknown(targets, {"persistent", "serverless", "external"}, "target")
    poolers = ctx.table(data.get("pooler"), "pooler")
    ctx.no_unknown(poolers, {"pgbouncer", "pgpool"}, "pooler")
    serverless = ctx.table(targets.get("serverless"), "target.serverless")

    def section(cls: type[Any], table: object, where: str) -> Any:
        return build(cls, ctx.table(table, where), ctx, where)

    if "app" in data:
        for cls in (PersistentSpec, ServerlessSpec):
            where = f"target.{cls.kind}"
            no_builtin_keys(ctx.table(targets.get(cls.kind), where), cls, ctx, where)
    return Sections(
        database=section(DatabaseSpec, data.get("database"), "database"),
        persistent=section(PersistentSpec, targets.get("persistent"), "target.persistent"),
        serverless=serverless_spec(serverless, {}, ctx, "target.serverless"),
        serverless_table=serverless,
        app=parse_app(data["app"], ctx) if "app" in data else None,
        host=section(HostSpec, data.get("host"), "host"),
        external=section(ExternalSpec, targets.get("external"), "target.external"),
        pgbouncer=section(PgBouncerSpec, poolers.get("pgbouncer"), "pooler.pgbouncer"),
        pgpool=section(PgpoolSpec, poolers.get("pgpool"), "pooler.pgpool"),
    )


def no_builtin_keys(table: Mapping[str, Any], cls: type[TargetSpec], ctx: SectionContext,
                    where: str) -> None:
    """With an ``[app]``, a setting of the built-in target only (a field declared
    ``builtin``: pool sizes, acquire_timeout, state, ...) is an error naming the key: the app
    has settings of its own, which the harness does not touch."""
    for key, fld in keys_of(cls).items():
        if key in table and fld.metadata.get("builtin"):
            raise ctx.error(join(where, key), "a setting of pgstampede's built-in target, "
                            "which your [app] replaces: remove it (your app's own settings "
                            "go in [app] env)")


def serverless_spec(section: Mapping[str, Any], over: Mapping[str, Any], ctx: SectionContext,
                    where: str) -> ServerlessSpec:
    """``[target.serverless]`` plus a variant's overrides, on top of their ``preset``: the
    keys written in the scenario win over the preset's (and are recorded as overrides)."""
    preset = over.get("preset", section.get("preset", ""))
    if preset not in ("", *PRESETS):
        key = join(where, "preset") if "preset" in over else "target.serverless.preset"
        raise ctx.error(key, f"expected one of {', '.join(PRESETS)}, got {preset!r}")
    preset_keys = PRESETS.get(preset, {})
    spec = build(ServerlessSpec, preset_keys, ctx, f"preset {preset}", ServerlessSpec())
    spec = build(ServerlessSpec, section, ctx, "target.serverless", spec)
    spec = build(ServerlessSpec, over, ctx, where, spec)
    overrides = tuple(k for k in {**section, **over} if k in preset_keys)
    return dataclasses.replace(spec, preset=preset, overrides=overrides)


def _name(table: Mapping[str, Any], ctx: SectionContext, where: str) -> str:
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ctx.error(join(where, "name"), "expected a name of letters, digits and _.+- "
                        f"(at most 64), got {name!r}")
    return name


def _kinds(table: Mapping[str, Any], ctx: SectionContext, where: str
           ) -> tuple[type[TargetSpec], type[PoolerSpec]]:
    """The classes of the variant's ``target`` and ``pooler``."""
    target = table.get("target", PersistentSpec.kind)
    if target not in TARGET_SPECS:
        raise ctx.error(join(where, "target"), f"expected one of {', '.join(TARGET_SPECS)}, "
                        f"got {target!r}")
    pooler = table.get("pooler", NoPooler.kind)
    if pooler not in POOLER_SPECS:
        raise ctx.error(join(where, "pooler"), f"expected one of {', '.join(POOLER_SPECS)}, "
                        f"got {pooler!r}")
    if target == ExternalSpec.kind and pooler != NoPooler.kind:
        raise ctx.error(join(where, "pooler"), "an external target brings its own pooler: "
                        "use pooler = \"none\" and pgbouncer_admin_dsn to watch it")
    return TARGET_SPECS[target], POOLER_SPECS[pooler]


def _overrides(table: Mapping[str, Any], target_cls: type[TargetSpec], ctx: SectionContext,
               where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The variant's target and pooler overrides: ``target_overrides`` may hold pooler keys
    too (split off), ``pooler_overrides`` only pooler keys."""
    key = join(where, "target_overrides")
    over = ctx.table(table.get("target_overrides"), key)
    target_keys = set(keys_of(target_cls))
    ctx.no_unknown(over, target_keys | set(keys_of(PgBouncerSpec)) | set(keys_of(PgpoolSpec)),
                   key)
    target_over = {k: v for k, v in over.items() if k in target_keys}
    pooler_over = {k: v for k, v in over.items() if k not in target_keys}
    pooler_over.update(ctx.table(table.get("pooler_overrides"), join(where, "pooler_overrides")))
    return target_over, pooler_over


def _target(cls: type[TargetSpec], over: Mapping[str, Any], table: Mapping[str, Any],
            sections: Sections, ctx: SectionContext, where: str) -> TargetSpec:
    key = join(where, "target_overrides")
    if sections.app is not None:
        no_builtin_keys(over, cls, ctx, key)
    if cls is ServerlessSpec:
        return serverless_spec(sections.serverless_table, over, ctx, key)
    target = build(cls, over, ctx, key, sections.target(cls))
    if isinstance(target, ExternalSpec):
        target = build(ExternalSpec, {k: table[k] for k in EXTERNAL_KEYS if k in table}, ctx,
                       where, target)
        for required in ("url", "watch_dsn"):
            if not getattr(target, required):
                raise ctx.error(join(where, required), "required for target = \"external\"")
    return target


def _pooler(cls: type[PoolerSpec], over: Mapping[str, Any], sections: Sections,
            ctx: SectionContext, where: str) -> PoolerSpec:
    """The pooler spec; without a pooler the overrides are still checked (as PgBouncer's)."""
    spec = build(type(sections.pooler(cls)), over, ctx, join(where, "pooler_overrides"),
                 sections.pooler(cls))
    return NoPooler() if cls is NoPooler else spec


def _app(table: Mapping[str, Any], target: TargetSpec, app: AppSpec | None,
         ctx: SectionContext, where: str) -> AppSpec | None:
    """The variant's ``[app]`` with its ``app_env`` (None for an external target)."""
    external = isinstance(target, ExternalSpec)
    if "app_env" not in table:
        return None if external else app
    key = join(where, "app_env")
    if external:
        raise ctx.error(key, "not for target = \"external\" (an external application has "
                        "its own environment)")
    if app is None:
        raise ctx.error(key, "needs an [app] section (the variables it sets are your "
                        "application's)")
    return with_variant_env(app, table["app_env"], ctx, key)


def _requests(table: Mapping[str, Any], target: TargetSpec, app: AppSpec | None,
              load: LoadSpec, ctx: SectionContext, where: str) -> tuple[RequestSpec, ...]:
    """What the variant's Locust sends: the variant's ``paths``, else ``[load] paths`` for an
    application (external or ``[app]``), else the built-in endpoints; none with a
    locustfile (it says itself)."""
    is_app = isinstance(target, ExternalSpec) or app is not None
    if "paths" in table:
        if not is_app:
            raise ctx.error(join(where, "paths"), "only for target = \"external\" or with "
                            "an [app] section")
        if load.locustfile:
            raise ctx.error(join(where, "paths"), "not with load.locustfile")
        return parse_paths(table["paths"], ctx, join(where, "paths"))
    if load.locustfile:
        return ()
    if is_app and load.paths:
        return load.paths
    if app is not None:
        raise ctx.error("load.paths", "required with an [app] section (the requests to "
                        "send, e.g. { \"GET /items\" = 1 }), or set load.locustfile")
    return load.requests


def parse_variant(table: dict[str, Any], i: int, sections: Sections, ctx: SectionContext,
                  load: LoadSpec) -> Variant:
    """``variants[i]``: its target and pooler specs on the scenario's sections."""
    where = f"variants[{i}]"
    ctx.no_unknown(table, VARIANT_KEYS, where)
    name = _name(table, ctx, where)
    target_cls, pooler_cls = _kinds(table, ctx, where)
    target_over, pooler_over = _overrides(table, target_cls, ctx, where)
    target = _target(target_cls, target_over, table, sections, ctx, where)
    pooler = _pooler(pooler_cls, pooler_over, sections, ctx, where)
    key = join(where, "database_overrides")
    database = build(DatabaseSpec, ctx.table(table.get("database_overrides"), key), ctx, key,
                     sections.database)
    app = _app(table, target, sections.app, ctx, where)
    return Variant(name=name, target=target, pooler=pooler, database=database,
                   requests=_requests(table, target, app, load, ctx, where), app=app,
                   host=sections.host)
