"""Every key a scenario file may hold, section by section, read from the loader's own
declarations (the records' fields and the ``*Table`` records of the sections parsed by
hand): what ``docs/reference/scenario.md`` is generated from (``python -m harness.docs``).

A new key is declared where it is parsed, with ``opt(key, parser, default, "meaning")``; it
then appears here by itself. A new section (a top-level table) is added to
:func:`key_sections` — the docs test fails until it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.results.check_spec import CHECK_KEYS
from harness.scenario.app import AppTable
from harness.scenario.fields import Key, section_keys
from harness.scenario.limit import LimitSpec
from harness.scenario.load_section import LoadTable
from harness.scenario.loader import CollectTable, ScenarioTable
from harness.scenario.presets import PRESETS
from harness.scenario.records import ENDPOINTS, FAULT_KINDS, FaultSpec, Stage
from harness.scenario.requests import METHODS, RequestTable
from harness.scenario.sections import (
    DatabaseSpec,
    ExternalSpec,
    HostSpec,
    PersistentSpec,
    PgBouncerSpec,
    PgpoolSpec,
    ServerlessSpec,
)
from harness.scenario.variants import VariantTable


@dataclass(frozen=True)
class KeySection:
    """One table of a scenario file and its keys."""

    path: str  # dotted, as errors name its keys ("target.serverless"); "" = the top level
    title: str  # as written in the file ("[target.serverless]")
    about: str  # one line
    keys: tuple[Key, ...] = ()
    entries: str = ""  # a table of free names: what each entry is ("" = fixed keys)


def _check_keys() -> tuple[Key, ...]:
    return tuple(Key(name=name, type=type_, default=default, allowed=allowed, meaning=meaning)
                 for name, (type_, default, allowed, meaning) in CHECK_KEYS.items())


def key_sections() -> tuple[KeySection, ...]:
    """Every table of a scenario file, in the order the reference lists them."""
    return (
        KeySection("", "top level", "The scenario's name and its tables",
                   section_keys(ScenarioTable)),
        KeySection("database", "[database]", "The PostgreSQL server of each variant run",
                   section_keys(DatabaseSpec)),
        KeySection("load", "[load]", "The load Locust sends", section_keys(LoadTable)),
        KeySection("load.stages", "[load] stages = [{ ... }]", "One stage of the load shape",
                   section_keys(Stage)),
        KeySection("load.endpoints", "[load.endpoints]",
                   "The built-in targets' endpoints, by weight",
                   entries=f"an endpoint ({', '.join(ENDPOINTS)}) = its weight (a number >= 0)"),
        KeySection("load.paths", "[load.paths]", "The requests sent to an application",
                   section_keys(RequestTable),
                   entries=f'"METHOD /path" ({", ".join(METHODS)}) = a weight, or a table of '
                   "the keys below"),
        KeySection("target.persistent", "[target.persistent]",
                   "One long-running server with a pool per worker",
                   section_keys(PersistentSpec)),
        KeySection("target.serverless", "[target.serverless]",
                   "Instances on the platform emulator", section_keys(ServerlessSpec)),
        KeySection("target.external", "[target.external]",
                   "An application already running, whose database is watched",
                   section_keys(ExternalSpec)),
        KeySection("pooler.pgbouncer", "[pooler.pgbouncer]", "PgBouncer",
                   section_keys(PgBouncerSpec)),
        KeySection("pooler.pgpool", "[pooler.pgpool]", "pgpool-II, connection pooling only",
                   section_keys(PgpoolSpec)),
        KeySection("app", "[app]", "Your own application as the target (docs/app.md)",
                   section_keys(AppTable)),
        KeySection("app.expect", "[app.expect]", "The work the database should show",
                   entries='"METHOD /path" of [load.paths] = a query that counts the work, '
                   'e.g. "SELECT count(*) FROM emails"'),
        KeySection("host", "[host]", "How the harness shares this machine",
                   section_keys(HostSpec)),
        KeySection("collect", "[collect]", "How the collectors sample",
                   section_keys(CollectTable)),
        KeySection("variants", "[[variants]]", "What to compare: one table per variant",
                   section_keys(VariantTable)),
        KeySection("faults", "[[faults]]", "A fault injected during the load",
                   section_keys(FaultSpec)),
        KeySection("thresholds", "[thresholds]", "What must hold (docs/check.md)",
                   entries='"VARIANT.METRIC" (VARIANT or *; a metric of the glossary) = '
                   '"OP VALUE[unit] [if measured]", OP one of < <= > >= == !='),
        KeySection("check", "[check]", "How check judges the run (docs/check.md)",
                   _check_keys()),
        KeySection("limit", "[limit]", "The settings of pgstampede limit (docs/limit.md; "
                   "its flags override them)", section_keys(LimitSpec)),
    )


def fault_kinds() -> dict[str, str]:
    """``[[faults]] kind``: each kind and what it does."""
    return dict(FAULT_KINDS)


def presets() -> dict[str, dict[str, str]]:
    """``[target.serverless] preset``: each preset's keys, as TOML text."""
    from harness.scenario.fields import toml_text

    return {name: {key: toml_text(value) for key, value in keys.items()}
            for name, keys in PRESETS.items()}
