"""Scenario files (TOML) loaded into frozen dataclasses and validated.

A scenario says what load to send (``[load]``), what database to run (``[database]``), how
each target and pooler is configured (``[target.persistent]``, ``[target.serverless]``,
``[pooler.pgbouncer]``, ``[pooler.pgpool]``), which variants to compare (``[[variants]]``, each
a typed target spec and pooler spec; each may override any target, pooler or database key)
and what must hold (``[thresholds]``, ``[check]``). Loading one is pure: it starts no
process (the app's own checks are the run's preflight, ``harness.run.preflight``).

Every error is a :class:`ScenarioError` naming the file, the key and what was expected.
The sections' keys, defaults and parsers are declared once, on the dataclass fields.
"""

from harness.scenario.faults import check_fault, with_cli_faults
from harness.scenario.loader import load_scenario, parse_scenario
from harness.scenario.records import (
    ENDPOINTS,
    FAULT_KINDS,
    POOLERS,
    TARGETS,
    AppSpec,
    DatabaseSpec,
    ExternalSpec,
    FaultSpec,
    LoadSpec,
    NoPooler,
    PersistentSpec,
    PgBouncerSpec,
    PgpoolSpec,
    PoolerSpec,
    RequestSpec,
    Scenario,
    ServerlessSpec,
    Stage,
    TargetSpec,
    Variant,
    fault_fits,
)

__all__ = [
    "ENDPOINTS", "FAULT_KINDS", "POOLERS", "TARGETS", "AppSpec", "DatabaseSpec",
    "ExternalSpec", "FaultSpec", "LoadSpec", "NoPooler", "PersistentSpec", "PgBouncerSpec",
    "PgpoolSpec", "PoolerSpec", "RequestSpec", "Scenario", "ServerlessSpec", "Stage",
    "TargetSpec", "Variant", "check_fault", "fault_fits", "load_scenario", "parse_scenario",
    "with_cli_faults",
]
