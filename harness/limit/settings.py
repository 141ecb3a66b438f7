"""The search's settings: ``[limit]`` with the command line on top, checked once (exit 2).

Also what the search needs to know of a variant's database: the connection slots its app
role cannot use (``superuser_reserved_connections``, 3 by default, plus PostgreSQL 16's
``reserved_connections``, 0 by default).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

from harness.check.noise import MEASURED_SPREAD
from harness.errors import InputError
from harness.results import metric_names as M
from harness.results.limit import LimitSettings, Until
from harness.scenario import DatabaseSpec, ExternalSpec, Variant
from harness.scenario.limit import UNTIL, LimitSpec, milliseconds_field, ratio_field

DEFAULT_STEPS = 10  # a ramp of max_users climbs in this many steps unless [limit] step says
SUPERUSER_RESERVED = 3  # PostgreSQL's default superuser_reserved_connections
P95_NOISE = MEASURED_SPREAD[M.LATENCY_P95_MS] / 2
"""A p95 within this share of its target is too close to call: half the spread of the p95
between identical runs on one machine (``harness.check.noise``, docs/check.md)."""


@dataclass(frozen=True)
class LimitFlags:
    """The command line's settings (None: not given, the scenario's ``[limit]`` decides)."""

    max_users: int | None = None
    until: str | None = None
    error_budget: str | None = None
    p95: str | None = None
    verify: bool = False


def _flag(name: str, parse: Callable[[object], float], value: str) -> float:
    try:
        return parse(value)
    except ValueError as exc:
        raise InputError(f"{name} {value!r}: {exc}") from None


def merged_spec(spec: LimitSpec, flags: LimitFlags) -> LimitSpec:
    """``[limit]`` with the flags that were given on top; InputError naming a bad flag."""
    changes: dict[str, object] = {}
    if flags.max_users is not None:
        if not 1 <= flags.max_users <= 100_000:
            raise InputError(f"--max-users {flags.max_users}: expected an integer from 1 to "
                             "100000")
        changes["max_users"] = flags.max_users
    if flags.until is not None:
        if flags.until not in UNTIL:
            raise InputError(f"--until {flags.until!r}: expected one of {', '.join(UNTIL)}")
        changes["until"] = flags.until
        if flags.until != "p95" and flags.p95 is None:
            changes["p95_ms"] = None  # the scenario's p95 target goes with its until
    if flags.error_budget is not None:
        changes["error_budget"] = _flag("--error-budget", ratio_field, flags.error_budget)
    if flags.p95 is not None:
        changes["p95_ms"] = _flag("--p95", milliseconds_field, flags.p95)
    if flags.verify:
        changes["verify"] = True
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def resolve_settings(spec: LimitSpec, flags: LimitFlags) -> LimitSettings:
    """The settings the search runs with (InputError, exit 2, for a bad combination)."""
    merged = merged_spec(spec, flags)
    if merged.until == "p95" and merged.p95_ms is None:
        raise InputError("--until p95: needs a p95 target (--p95 MS, or p95 in [limit])")
    if merged.until != "p95" and merged.p95_ms is not None:
        raise InputError(f"--p95: a p95 target is judged only with --until p95 (until is "
                         f"{merged.until!r})")
    step = merged.step or max(1, math.ceil(merged.max_users / DEFAULT_STEPS))
    until: Until = merged.until  # type: ignore[assignment]
    return LimitSettings(
        until=until, error_budget=merged.error_budget, p95_ms=merged.p95_ms,
        max_users=merged.max_users, step=min(step, merged.max_users),
        step_duration_s=merged.step_duration_s, spawn_rate=float(max(step, 1)),
        verify=merged.verify, headroom=merged.headroom, p95_noise=round(P95_NOISE, 4))


def reserved_slots(database: DatabaseSpec) -> int:
    """The slots of ``max_connections`` that the app role cannot use."""
    settings = dict(database.settings)
    try:
        superuser = int(settings.get("superuser_reserved_connections", SUPERUSER_RESERVED))
        reserved = int(settings.get("reserved_connections", 0))
    except ValueError:
        return SUPERUSER_RESERVED
    return superuser + reserved


def check_variants(variants: tuple[Variant, ...]) -> None:
    """The search restarts a variant's services for every probe: not an external one."""
    for v in variants:
        if isinstance(v.target, ExternalSpec):
            raise InputError(f"variant {v.name!r}: pgstampede limit cannot search an external "
                             "target (it starts the services afresh for every probe); leave it "
                             "out with --variants")
