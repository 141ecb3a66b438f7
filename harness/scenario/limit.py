"""The ``[limit]`` section: the settings of ``pgstampede limit`` (docs/limit.md).

Every key is optional, and the command line overrides it (``--max-users``, ``--until``,
``--error-budget``, ``--p95``, ``--verify``):

```toml
[limit]
max_users = 100          # the ramp stops here: a variant that holds this many has no limit
until = "refused"        # refused | errors | p95: what breaks a step
error_budget = "1%"      # failed requests a step may have (every criterion)
p95 = "250ms"            # the p95 target (until = "p95"; a bare number is milliseconds)
verify = false           # run again at the recommended setting to prove it holds
step = 0                 # users added per ramp step (0: a tenth of max_users, at least 1)
step_duration = "5s"     # how long each step holds its users once they have spawned
headroom = "10%"         # connections the recommendations leave free: a share or a count
```
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.results.limit import parse_headroom
from harness.scenario.context import SectionContext, build
from harness.scenario.fields import (
    Parser,
    bool_field,
    choice_field,
    duration_field,
    int_field,
    opt,
)
from harness.units import parse_quantity

UNTIL = ("refused", "errors", "p95")


def ratio_field(value: object) -> float:
    """A share: ``"1%"`` or a number between 0 and 1."""
    if isinstance(value, str):
        number, _ = parse_quantity(value, "ratio")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ValueError(f"expected a share like \"1%\" or 0.01, got {value!r}")
    if not (math.isfinite(number) and 0 <= number < 1):
        raise ValueError(f"expected a share from 0% up to (not including) 100%, got {value!r}")
    return number


def milliseconds_field(value: object) -> float:
    """A time in milliseconds: ``"250ms"``, ``"0.25s"`` or a bare number of milliseconds."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a time like \"250ms\" or 250, got {value!r}")
    number, _ = parse_quantity(str(value), "ms")
    if number <= 0:
        raise ValueError(f"expected a time > 0, got {value!r}")
    return number


@dataclass(frozen=True)
class LimitSpec:
    """``[limit]`` as written (None / 0: decided by the command, see docs/limit.md)."""

    max_users: int = opt("max_users", int_field(1, 100_000), 100,
                         "the ramp stops here: a variant that holds this many has no limit")
    until: str = opt("until", choice_field(*UNTIL), "refused", "what breaks a step")
    error_budget: float = opt("error_budget", Parser(ratio_field, "share", "0% up to 100%",
                                                     show=lambda v: f'"{v:.0%}"'), 0.01,
                              "failed requests a step may have (every criterion)")
    p95_ms: float | None = opt("p95", Parser(milliseconds_field, "time", "> 0 (a bare number "
                                             "is milliseconds)"), None,
                               "the p95 target (until = \"p95\")")
    verify: bool = opt("verify", bool_field, False,
                       "run again at the recommended setting to prove it holds")
    step: int = opt("step", int_field(0, 100_000), 0,
                    "users added per ramp step (0: a tenth of max_users, at least 1)")
    step_duration_s: float = opt("step_duration", duration_field, 5.0,
                                 "how long each step holds its users once they have spawned")
    headroom: str = opt("headroom", Parser(parse_headroom, "share or count",
                                           "\"10%\" or a number of connections"), "10%",
                        "connections the recommendations leave free")


def check_limit(spec: LimitSpec, where: str, ctx: SectionContext) -> LimitSpec:
    """The rules between keys: a p95 target with ``until = "p95"`` and only then; a step of
    at most ``max_users``; a step that lasts."""
    if spec.until == "p95" and spec.p95_ms is None:
        raise ctx.error(f"{where}.p95", "expected a p95 target with until = \"p95\", e.g. "
                        "p95 = \"250ms\"")
    if spec.until != "p95" and spec.p95_ms is not None:
        raise ctx.error(f"{where}.p95", "a p95 target is judged only with until = \"p95\"")
    if spec.step > spec.max_users:
        raise ctx.error(f"{where}.step", f"expected at most max_users ({spec.max_users}), "
                        f"got {spec.step}")
    if not 1.0 <= spec.step_duration_s <= 600.0:
        raise ctx.error(f"{where}.step_duration", "expected a duration from 1s to 10m")
    return spec


def parse_limit(data: Mapping[str, Any], ctx: SectionContext) -> LimitSpec:
    """The ``[limit]`` table (every key optional)."""
    table = ctx.table(data.get("limit"), "limit")
    return check_limit(build(LimitSpec, table, ctx, "limit"), "limit", ctx)
