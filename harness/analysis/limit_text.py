"""A breaking-point search in sentences: the findings of a ``pgstampede limit`` run (pure).

Each finding starts with the variant's name, as the other findings do: the break (its
reason and the measure that decided it), the first error at the break, how narrowly the
search placed it, the connections per instance, the advice with its headroom, and whether
``--verify`` proved it or withdrew it.
"""

from __future__ import annotations

from harness.analysis.breaking import StepMeasures
from harness.analysis.limit import VariantBreak, verify_text
from harness.results.limit import LimitSettings

REASONS = {"refused": "a connection was refused", "errors": "the error budget was spent",
           "p95": "the p95 target was missed"}


def load_text(m: StepMeasures, max_connections: int) -> str:
    """``412 requests/s, 10 in flight, 10 instances, 27 of 30 connections``."""
    parts = []
    if m.rps is not None:
        parts.append(f"{m.rps:,.0f} requests/s")
    if m.in_flight is not None:
        parts.append(f"{m.in_flight} in flight")
    if m.instances is not None:
        parts.append(f"{m.instances:.0f} instances")
    if m.db_connections is not None:
        parts.append(f"{m.db_connections:.0f} of {max_connections} connections")
    return ", ".join(parts)


def _break_findings(vb: VariantBreak, settings: LimitSettings) -> list[str]:
    name, limit = vb.name, vb.limit
    row = vb.deciding
    load = f" ({load_text(row.measures, vb.facts.max_connections)})" if row else ""
    if not vb.rows:
        return [f"{name}: the search judged no step: {limit.stopped}"]
    if limit.broke_users is None:
        return [f"{name}: held up to {limit.held_users} users, the most tried "
                f"(max_users){load}"]
    out = []
    if row is not None:
        why = REASONS.get(row.step.reason, row.step.reason)
        out.append(f"{name}: breaking point at {limit.broke_users} users{load}: {why} — "
                   f"{row.step.detail}")
    else:
        out.append(f"{name}: breaking point at {limit.broke_users} users")
    if vb.first_error:
        out.append(f"{name}: first error at the break: {vb.first_error}")
    held = (f"held at {limit.held_users} users" if limit.held_users
            else "no step held (the first one broke)")
    out.append(f"{name}: {held}, broke at {limit.broke_users}; {limit.stopped}")
    return out


def _advice_findings(vb: VariantBreak) -> list[str]:
    name, advice = vb.name, vb.recommendation
    out = []
    if vb.cpi is not None:
        out.append(f"{name}: {vb.cpi:.1f} connections per instance over the ramp")
    if advice is None:
        return out
    out.append(f"{name}: headroom {advice.headroom} of {advice.limit} ({advice.limit_name}) "
               "left free by the advice")
    if advice.max_instances is not None:
        out.append(f"{name}: recommended {advice.max_instances_text}")
    else:
        out.append(f"{name}: no max instances recommended: {advice.max_instances_text}")
    if advice.pool_size is not None:
        out.append(f"{name}: recommended {advice.pool_size_text}")
    else:
        out.append(f"{name}: no pool size recommended: {advice.pool_size_text}")
    return out


def findings_of(vb: VariantBreak, settings: LimitSettings) -> list[str]:
    """Every finding of one variant's search."""
    out = _break_findings(vb, settings) + _advice_findings(vb)
    if vb.verify is not None:
        if vb.verify.step.verdict == "held":
            out.append(f"{vb.name}: verified: {verify_text(vb.verify)}")
        else:
            out.append(f"{vb.name}: recommendation withdrawn: {verify_text(vb.verify)}")
    return out
