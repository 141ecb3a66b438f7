"""Where the time of a scale-out goes: CPU per new instance, per process role.

Used by platform_scale.py. Roles are found from this benchmark's own children: the gateway
(``harness.platform.gateway``), its template (``harness.apphost.template``), the instances
(the template's children), PostgreSQL (the postmaster and its backends) and this process
(the load client). CPU = user + system seconds, read from ``/proc`` by psutil; a process's
reaped children count through its parent's children times. The end-to-end time of each
instance is read from the database: the ``backend_start`` of the connection it opened after
its request arrived (every instance holds its connection while frozen).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import psutil

ROLES = ("client", "gateway", "template", "instances", "postgres")


def _cpu(proc: psutil.Process, children: bool = True) -> float:
    with contextlib.suppress(psutil.Error):
        t = proc.cpu_times()
        return t.user + t.system + ((t.children_user + t.children_system) if children else 0.0)
    return 0.0


def _has(proc: psutil.Process, word: str) -> bool:
    with contextlib.suppress(psutil.Error):
        return any(word in part for part in proc.cmdline())
    return False


def role_cpu() -> dict[str, float]:
    """CPU seconds used so far by each role (see the module doc)."""
    me = psutil.Process()
    out = dict.fromkeys(ROLES, 0.0)
    out["client"] = _cpu(me, children=False)
    for child in me.children():
        if _has(child, "harness.platform.gateway"):
            out["gateway"] += _cpu(child, children=False)
            for sub in child.children():
                if _has(sub, "harness.apphost.template"):
                    out["template"] += _cpu(sub, children=False)
                    out["instances"] += sum(_cpu(i) for i in sub.children())
                    t = sub.cpu_times()  # instances already gone (killed, reaped)
                    out["instances"] += t.children_user + t.children_system
        elif _has(child, "postgres"):
            with contextlib.suppress(psutil.Error):
                family = [child, *child.children(recursive=True)]
                out["postgres"] += sum(_cpu(c) for c in family)
    return out


@dataclass(frozen=True)
class Breakdown:
    per_instance_ms: dict[str, float]
    total_ms: float

    def lines(self) -> list[str]:
        width = max(len(r) for r in self.per_instance_ms)
        rows = [f"  {role:<{width}}  {ms:7.2f} ms CPU per new instance"
                for role, ms in sorted(self.per_instance_ms.items(), key=lambda kv: -kv[1])]
        cores = os.cpu_count() or 1
        rows.append(f"  {'total':<{width}}  {self.total_ms:7.2f} ms -> at most "
                    f"{cores * 1000.0 / max(self.total_ms, 1e-9):.0f} new instances/s on "
                    f"{cores} idle cores")
        return rows


def breakdown(before: dict[str, float], after: dict[str, float], n: int) -> Breakdown:
    per = {r: round((after[r] - before[r]) * 1000.0 / max(n, 1), 2) for r in ROLES}
    return Breakdown(per, round(sum(per.values()), 2))
