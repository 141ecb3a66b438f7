"""Loading and validating scenario files: every error names the file, the key and what
was expected (one line, exit code 2). The sections are parsed by their own modules:
``[load]`` (``load_section``), ``[database]``/``[target.*]``/``[pooler.*]``/``[app]``/``[host]``
and ``[[variants]]`` (``variants``), ``[[faults]]`` (``faults``), ``[limit]`` (``limit``),
``[thresholds]``/``[check]`` (``harness.results.check_spec``)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ScenarioError
from harness.results.check_spec import CheckSpec, CheckSpecError, parse_check
from harness.scenario.context import FileContext, SectionContext, build, keys_of
from harness.scenario.faults import parse_faults
from harness.scenario.fields import Parser, duration_text, int_field, opt, raw_field
from harness.scenario.limit import parse_limit
from harness.scenario.load_section import parse_load
from harness.scenario.records import _NAME, Scenario, Variant
from harness.scenario.variants import parse_sections, parse_variant
from harness.units import parse_duration


def _collect_interval_field(value: object) -> float:
    interval = parse_duration(value)
    if not 0.01 <= interval <= 60:
        raise ValueError("expected a duration between 10ms and 60s")
    return interval


@dataclass(frozen=True)
class CollectTable:
    """``[collect]``: how the collectors sample."""

    interval_s: float = opt("interval", Parser(_collect_interval_field, "duration",
                                               "10ms to 60s", show=duration_text), 0.1,
                            "how often the database, pooler, platform and host are sampled")


@dataclass(frozen=True)
class ScenarioTable:
    """The top level of a scenario file: its keys and its sections (each section's keys are
    declared on its own record)."""

    name: object = opt("name", raw_field("string", "letters, digits and _.+- (at most 64)"),
                       None, "the scenario's name (run folders, baselines)",
                       shown="(the file's name)")
    description: object = opt("description", raw_field("string"), "",
                              "one line, shown by pgstampede list and in the report")
    repeats: int = opt("repeats", int_field(1, 100), 1,
                       "each variant runs this many times (interleaved); metrics are medians")
    database: object = opt("database", raw_field("table"), None, "the PostgreSQL server")
    load: object = opt("load", raw_field("table"), None, "the load Locust sends",
                       required=True)
    target: object = opt("target", raw_field("table"), None,
                         "[target.persistent], [target.serverless], [target.external]")
    pooler: object = opt("pooler", raw_field("table"), None,
                         "[pooler.pgbouncer], [pooler.pgpool]")
    app: object = opt("app", raw_field("table"), None, "your own application as the target")
    host: object = opt("host", raw_field("table"), None, "how the harness shares this machine")
    collect: object = opt("collect", raw_field("table"), None, "how the collectors sample")
    variants: object = opt("variants", raw_field("array of tables"), None,
                           "what to compare: [[variants]]", required=True)
    faults: object = opt("faults", raw_field("array of tables"), None,
                         "faults injected during the load: [[faults]]")
    thresholds: object = opt("thresholds", raw_field("table"), None,
                             "what must hold: \"VARIANT.METRIC\" = \"OP VALUE\"")
    check: object = opt("check", raw_field("table"), None, "how check judges the run")
    limit: object = opt("limit", raw_field("table"), None,
                        "pgstampede limit's settings (docs/limit.md)")


TOP_KEYS = set(keys_of(ScenarioTable))


def _check(data: Mapping[str, Any], ctx: SectionContext,
           variants: tuple[Variant, ...]) -> CheckSpec:
    """``[thresholds]`` and ``[check]``, parsed once into the scenario's check spec."""
    thresholds = ctx.table(data.get("thresholds"), "thresholds")
    check = ctx.table(data.get("check"), "check")
    try:
        return parse_check(thresholds, check, [v.name for v in variants])
    except CheckSpecError as exc:
        raise ctx.error(exc.key, str(exc)) from None


def _header(data: Mapping[str, Any], ctx: SectionContext, path: str) -> tuple[str, str, int]:
    """``name``, ``description`` and ``repeats``."""
    name = data.get("name", Path(path).stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ctx.error("name", f"expected a name of letters, digits and _.+-, got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ctx.error("description", "expected a string")
    try:
        repeats: int = int_field(1, 100)(data.get("repeats", ScenarioTable.repeats))
    except ValueError as exc:
        raise ctx.error("repeats", str(exc)) from None
    return name, description, repeats


def _collect_interval(data: Mapping[str, Any], ctx: SectionContext) -> float:
    return build(CollectTable, ctx.table(data.get("collect"), "collect"), ctx,
                 "collect").interval_s


def parse_scenario(data: dict[str, Any], path: str) -> Scenario:
    """A :class:`Scenario` from parsed TOML ``data``; ``path`` is used in errors."""
    ctx = FileContext(path)
    ctx.no_unknown(data, TOP_KEYS, "")
    name, description, repeats = _header(data, ctx, path)
    if "load" not in data:
        raise ctx.error("load", "missing section [load] with stages")
    load = parse_load(ctx.table(data["load"], "load"), ctx)
    interval = _collect_interval(data, ctx)
    sections = parse_sections(data, ctx)
    raw_variants = data.get("variants")
    if not isinstance(raw_variants, list) or not raw_variants:
        raise ctx.error("variants", "expected at least one [[variants]] table")
    variants = tuple(parse_variant(ctx.table(v, f"variants[{i}]"), i, sections, ctx, load)
                     for i, v in enumerate(raw_variants))
    seen: set[str] = set()
    for i, v in enumerate(variants):
        if v.name in seen:
            raise ctx.error(f"variants[{i}].name", f"duplicate variant name {v.name!r}")
        seen.add(v.name)
    return Scenario(path=path, name=name, description=description, repeats=repeats, load=load,
                    collect_interval_s=interval, variants=variants,
                    check=_check(data, ctx, variants), raw=data,
                    faults=parse_faults(data, ctx, load, variants),
                    limit=parse_limit(data, ctx))


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
