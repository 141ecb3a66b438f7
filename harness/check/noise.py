"""How much machine metrics move between identical runs on one machine: measured, not guessed.

``MEASURED_SPREAD`` holds, per machine metric, the spread of the run medians, ``(max - min) /
median``, over 5 identical runs of the ``ci`` scenario (3 repeats each) on one machine,
printed by ``benchmarks/check_noise.py``; the largest over the scenario's variants.
Measured as :data:`MEASURED_ON` says. Two uses (:mod:`harness.check.baseline`):

- the default minimum change of a machine metric is its measured spread, rounded up to 5%,
  and never below the general default of 10%;
- with 3 or fewer repeats on a side (where the one-sided Mann-Whitney test reaches p = 0.05
  with any consistent shift), a machine metric's change counts only if it also exceeds the
  measured spread, whatever minimum change the scenario sets.

A machine metric the benchmark did not see (the ``ci`` scenario has no serverless variant,
no faults, no background work) gets the largest spread measured for a metric of the same
unit (a cold start in ms gets the latency's), or none when no metric of its unit was seen.
"""

from __future__ import annotations

import math

from harness.results import metric_names as m
from harness.results.metrics import METRICS

MEASURED_ON = ("2026-12-06 by benchmarks/check_noise.py --runs 5 (323 s): a 2-vCPU, 24 GiB VM "
               "(Intel Xeon), Debian 12, PostgreSQL 15.18, PgBouncer 1.18, Locust 2.47, "
               "process runtime, nothing else running (load average below 2); the same "
               "benchmark on the machine while it ran other jobs (load average 5-6) spread "
               "2 to 6 times more: docs/check.md")
FEW_REPEATS = 3
STEP = 0.05

# (max - min) / median of 5 run medians, the largest over the ci scenario's two variants
MEASURED_SPREAD_CI: dict[str, float] = {
    m.HTTP_REQUESTS: 0.0982,
    m.HTTP_RPS: 0.0984,
    m.HTTP_IN_FLIGHT_PEAK: 0.0,
    m.LATENCY_P50_MS: 0.1976,
    m.LATENCY_P95_MS: 0.0635,
    m.LATENCY_P99_MS: 0.0465,
    m.LATENCY_MAX_MS: 0.4467,
    m.HARNESS_CPU_SHARE: 0.0746,
    m.host_cpu_mean("locust"): 0.1163,
    m.host_cpu_mean("pgbouncer"): 0.0553,
    m.host_cpu_mean("postgres"): 0.1548,
    m.host_cpu_mean("target"): 0.114,
    m.host_rss_peak_mb("locust"): 0.0018,
    m.host_rss_peak_mb("pgbouncer"): 0.0119,
    m.host_rss_peak_mb("postgres"): 0.0177,
    m.host_rss_peak_mb("target"): 0.008,
}


def _by_unit() -> dict[str, float]:
    out: dict[str, float] = {}
    for metric, spread in MEASURED_SPREAD_CI.items():
        unit = METRICS[metric].unit if metric in METRICS else ""
        out[unit] = max(out.get(unit, 0.0), spread)
    return out


def _spreads() -> dict[str, float]:
    """Every machine metric's spread: measured, or the largest of its unit."""
    by_unit = _by_unit()
    out: dict[str, float] = {}
    for name, info in METRICS.items():
        if info.depends != "machine":
            continue
        spread = MEASURED_SPREAD_CI.get(name, by_unit.get(info.unit))
        if spread is not None:
            out[name] = spread
    return out


MEASURED_SPREAD: dict[str, float] = _spreads()


def measured_min_change(metric: str, default: float) -> float:
    """The default minimum change of ``metric``: its measured spread rounded up to 5%, at
    least ``default``."""
    spread = MEASURED_SPREAD.get(metric)
    if spread is None:
        return default
    return round(max(default, math.ceil(round(spread / STEP, 6)) * STEP), 4)
