"""Scenario files (TOML) loaded into frozen dataclasses and validated.

A scenario says what load to send (``[load]``), what database to run (``[database]``), how
each target and pooler is configured (``[target.persistent]``, ``[target.serverless]``,
``[pooler.pgbouncer]``), which variants to compare (``[[variants]]``, each may override any
target, pooler or database key) and what must hold (``[thresholds]``, ``[check]``).

Every error is a :class:`ScenarioError` naming the file, the key and what was expected.
The sections' keys, defaults and parsers are declared once, on the dataclass fields.
"""

from harness.scenario.loader import (
    check_fault,
    load_scenario,
    parse_scenario,
    with_cli_faults,
)
from harness.scenario.records import (
    ENDPOINTS,
    FAULT_KINDS,
    POOLERS,
    TARGETS,
    DatabaseSpec,
    ExternalSpec,
    FaultSpec,
    LoadSpec,
    PersistentSpec,
    PgBouncerSpec,
    RequestSpec,
    Scenario,
    ServerlessSpec,
    Stage,
    Variant,
    fault_fits,
)

__all__ = [
    "ENDPOINTS", "FAULT_KINDS", "POOLERS", "TARGETS", "DatabaseSpec", "ExternalSpec",
    "FaultSpec", "LoadSpec", "PersistentSpec", "PgBouncerSpec", "RequestSpec", "Scenario",
    "ServerlessSpec", "Stage", "Variant", "check_fault", "fault_fits", "load_scenario",
    "parse_scenario", "with_cli_faults",
]
