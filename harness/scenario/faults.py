"""``[[faults]]`` and ``--fault KIND@AT[+DURATION][*COUNT]``: faults injected during the load."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from harness.scenario.context import FileContext, SectionContext, build, join
from harness.scenario.records import FaultSpec, LoadSpec, Scenario, Variant, fault_fits

_FAULT_FLAG = re.compile(r"^(?P<kind>[a-z_]+)@(?P<at>[^+*]+)(?:\+(?P<dur>[^*]+))?"
                         r"(?:\*(?P<count>\d+))?$")


def check_fault(fault: FaultSpec, where: str, ctx: SectionContext, load: LoadSpec,
                variants: tuple[Variant, ...]) -> None:
    """A fault must happen during the load and hit at least one variant it fits."""
    if fault.at_s >= load.duration_s:
        raise ctx.error(join(where, "at"), f"expected a time before the load ends "
                        f"({load.duration_s:g}s)")
    if fault.kind == "freeze_target" and fault.duration_s <= 0:
        raise ctx.error(join(where, "duration"), "expected a duration > 0 for freeze_target")
    by_name = {v.name: v for v in variants}
    for name in fault.variants:
        if name not in by_name:
            raise ctx.error(join(where, "variants"), f"unknown variant {name!r}")
        why = fault_fits(fault.kind, by_name[name])
        if why:
            raise ctx.error(join(where, "kind"), f"{fault.kind} cannot hit variant "
                            f"{name!r}: {why}")
    if not any(fault.applies_to(v) for v in variants):
        raise ctx.error(join(where, "kind"), f"{fault.kind} fits none of the variants")


def parse_faults(data: Mapping[str, Any], ctx: SectionContext, load: LoadSpec,
                 variants: tuple[Variant, ...]) -> tuple[FaultSpec, ...]:
    """The ``[[faults]]`` tables."""
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
        fault = build(FaultSpec, table, ctx, where)
        check_fault(fault, where, ctx, load, variants)
        out.append(fault)
    return tuple(out)


def with_cli_faults(scenario: Scenario, flags: Sequence[str]) -> Scenario:
    """The scenario plus faults given as ``--fault KIND@AT[+DURATION][*COUNT]``."""
    if not flags:
        return scenario
    ctx = FileContext("--fault")
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
        fault = build(FaultSpec, table, ctx, flag)
        check_fault(fault, flag, ctx, scenario.load, scenario.variants)
        faults.append(fault)
    return dataclasses.replace(scenario, faults=tuple(faults))
