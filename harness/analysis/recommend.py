"""The setting that holds, computed from what a breaking-point search measured (pure).

For a serverless variant (docs/limit.md):

- **max instances**: the largest number of instances whose connections stay under the
  app's *limit* minus *headroom*, at the connections per instance measured over the ramp:
  ``floor((limit - headroom) / connections_per_instance)``. The limit is what refuses the
  app's connections: PostgreSQL's usable slots (``max_connections`` minus the reserved ones)
  without a pooler, PgBouncer's ``max_client_conn`` with one (pgpool-II refuses no client:
  it makes them wait, so no instance cap protects the database there).
- **pool size**: without a pooler, the per-instance pool that fits the usable slots at the
  instance count observed at the break: ``floor((usable - headroom) / instances)``; with
  PgBouncer its ``pool_size`` (server connections of its one database/user pair), ``usable
  - headroom``; with pgpool-II its ``max_pool``, ``floor((usable - headroom) /
  num_init_children)``.

Each is named in the platform's own terms (the variant's ``preset``): Lambda reserved
concurrency, Cloud Run max instances, Knative max-scale, Vercel Fluid's max concurrency
(the preset maps it onto max instances, see docs/presets.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.results.limit import headroom_of

WHAT_IF_MAX_CONNECTIONS = (100, 200, 500)
WHAT_IF_POOLS = (1, 5, 10)

SETTING_NAMES: dict[str, tuple[str, str]] = {
    # preset -> (the setting's name, how it is set)
    "aws-lambda": ("Lambda reserved concurrency",
                   "aws lambda put-function-concurrency --reserved-concurrent-executions {n}"),
    "cloud-run": ("Cloud Run max instances", "gcloud run services update SERVICE "
                  "--max-instances {n}"),
    "knative": ("Knative max-scale", "annotation autoscaling.knative.dev/max-scale: \"{n}\""),
    "vercel-fluid": ("Vercel Fluid max concurrency",
                     "the function's concurrency limit (the vercel-fluid preset maps it onto "
                     "max_instances)"),
    "": ("max_instances", "[target.serverless] max_instances = {n}"),
}


@dataclass(frozen=True)
class TargetFacts:
    """What a variant ran with (its record's ``config``), as far as the advice needs it."""

    target: str
    pooler: str
    max_connections: int
    preset: str = ""
    instance_concurrency: int = 1
    max_instances: int = 0
    db_client: str = "connection"
    pool_max: int = 1
    pooler_pool_size: int = 0
    max_client_conn: int = 0
    num_init_children: int = 0


def facts_of(config: Mapping[str, Any]) -> TargetFacts:
    """The facts of a variant record's ``config`` (``Variant.target_config()``)."""
    serverless = config.get("serverless") or {}
    pgbouncer = config.get("pgbouncer") or {}
    pgpool = config.get("pgpool") or {}
    return TargetFacts(
        target=str(config.get("target", "")), pooler=str(config.get("pooler", "none")),
        max_connections=int(config.get("max_connections", 0)),
        preset=str(serverless.get("preset", "")),
        instance_concurrency=int(serverless.get("instance_concurrency", 1)),
        max_instances=int(serverless.get("max_instances", 0)),
        db_client=str(serverless.get("db_client", "connection")),
        pool_max=int(serverless.get("pool_max", 1)),
        pooler_pool_size=int(pgbouncer.get("pool_size", 0)),
        max_client_conn=int(pgbouncer.get("max_client_conn", 0)),
        num_init_children=int(pgpool.get("num_init_children", 0)))


@dataclass(frozen=True)
class Recommendation:
    """The settings advised for one serverless variant, with the numbers behind them."""

    limit_name: str  # what refuses the app's connections
    limit: int
    headroom: int
    max_instances: int | None
    max_instances_text: str  # the advice in the platform's terms, or why there is none
    pool_size: int | None
    pool_size_text: str

    @property
    def budget(self) -> int:
        return self.limit - self.headroom


def setting_name(preset: str) -> str:
    return SETTING_NAMES.get(preset, SETTING_NAMES[""])[0]


def _instances_advice(facts: TargetFacts, limit_name: str, budget: int, headroom: int,
                      cpi: float | None) -> tuple[int | None, str]:
    if facts.pooler == "pgpool":
        return None, ("no instance cap: pgpool-II makes clients beyond num_init_children "
                      "wait instead of refusing them")
    if cpi is None or cpi <= 0:
        return None, "no connections per instance were measured"
    n = math.floor(budget / cpi + 1e-9)
    if n < 1:
        return None, (f"not even one instance fits: {cpi:.1f} connections per instance over "
                      f"{budget} = {limit_name} minus {headroom} headroom")
    name, how = SETTING_NAMES.get(facts.preset, SETTING_NAMES[""])
    return n, (f"{name} {n} ({how.format(n=n)}): {n} × {cpi:.1f} connections per instance ≤ "
               f"{budget} = {limit_name} − {headroom} headroom")


def _pool_advice(facts: TargetFacts, usable: int, headroom: int, instances: float | None
                 ) -> tuple[int | None, str]:
    budget = usable - headroom
    if facts.pooler == "pgbouncer":
        size = max(budget, 0)
        return (size or None), (f"PgBouncer pool_size {size} (server connections of its one "
                                f"database/user pair ≤ {usable} usable − {headroom} headroom; "
                                f"it ran with {facts.pooler_pool_size})")
    if facts.pooler == "pgpool":
        if facts.num_init_children < 1:
            return None, "pgpool-II's num_init_children is unknown"
        size = budget // facts.num_init_children
        return (size or None), (f"pgpool-II max_pool {size} ({facts.num_init_children} "
                                f"children × {size} ≤ {budget} connections)")
    if instances is None or instances < 1:
        return None, "no instances were measured"
    count = math.ceil(instances)
    size = budget // count
    if size < 1:
        return None, (f"no per-instance pool fits {count} instances in {budget} connections "
                      f"({usable} usable − {headroom} headroom): cap the instances, or put a "
                      "pooler in front")
    ran = f"pool_max {facts.pool_max}" if facts.db_client == "pool" else "one connection"
    return size, (f"per-instance pool size {size} at the {count} instances observed: "
                  f"{count} × {size} ≤ {budget} connections (it ran with {ran}; an app's own "
                  "pool: node-postgres/postgres.js max, Prisma connection_limit, SQLAlchemy "
                  "pool_size)")


def recommend(facts: TargetFacts, reserved: int, headroom_setting: str,
              cpi: float | None, instances: float | None) -> Recommendation | None:
    """The advice for a serverless variant; None for any other target."""
    if facts.target != "serverless":
        return None
    usable = facts.max_connections - reserved
    if facts.pooler == "pgbouncer":
        limit_name, limit = "PgBouncer's max_client_conn", facts.max_client_conn
    else:
        limit_name, limit = "PostgreSQL's usable connections", usable
    headroom = headroom_of(headroom_setting, limit)
    max_instances, instances_text = _instances_advice(facts, limit_name, limit - headroom,
                                                      headroom, cpi)
    pool, pool_text = _pool_advice(facts, usable, headroom_of(headroom_setting, usable),
                                   instances)
    return Recommendation(limit_name=limit_name, limit=limit, headroom=headroom,
                          max_instances=max_instances, max_instances_text=instances_text,
                          pool_size=pool, pool_size_text=pool_text)


def what_if(reserved: int, headroom_setting: str,
            max_connections: tuple[int, ...] = WHAT_IF_MAX_CONNECTIONS,
            pools: tuple[int, ...] = WHAT_IF_POOLS) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """Computed, not measured: per ``max_connections``, the instance limit at each
    connections-per-instance (pool size) with the same reserved slots and headroom rule."""
    rows = []
    for mc in max_connections:
        usable = mc - reserved
        budget = usable - headroom_of(headroom_setting, usable)
        rows.append((mc, tuple(max(budget, 0) // pool for pool in pools)))
    return tuple(rows)
