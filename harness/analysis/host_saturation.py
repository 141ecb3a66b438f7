"""Was the machine full, and how much of it did the harness take? (pure pandas)

Input: the rows of the ``host`` frame inside the load window (see
:mod:`harness.collect.host`: one row per role and sample, plus ``machine``, ``harness`` and
``other:<command>`` rows).

- A ``machine`` sample is *saturated* (the saturation rule, ``harness.results.saturation``)
  when its cores were on average more than ``BUSY_PERCENT`` busy (``cpu_percent /
  processes``, ``processes`` being the number of CPUs), or when tasks waited for a CPU more
  than ``MACHINE_WAIT_PERCENT`` of the time (``wait_percent``). ``host.saturated`` is true
  when more than ``SAMPLE_SHARE`` of the load window's samples are; ``host.saturated_share`` is
  that share. A saturated variant's latencies and cold starts include queueing for a CPU
  on this machine: the system under test did not get the CPU it asked for.
- ``harness.cpu_share``: the mean CPU of the harness's own roles
  (``metric_names.HARNESS_ROLES``: Locust, the platform emulator's gateway and template, the
  harness process with its collectors)
  over the mean CPU of every recorded role (the harness's and the system under test's:
  PostgreSQL, PgBouncer, the targets, the instances). Null when no system-under-test role
  was recorded (an external target runs elsewhere).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from harness.results import metric_names as M
from harness.results.saturation import BUSY_PERCENT, MACHINE_WAIT_PERCENT, SAMPLE_SHARE
from harness.results.summary import Metrics

MACHINE_ROLE = "machine"
OTHER_PREFIX = "other:"
SUT_ROLES: tuple[str, ...] = ("postgres", "pgbouncer", "pgpool", "target", "instances")
TAKERS = 4  # how many of the busiest processes a finding names


def saturated_samples(machine: pd.DataFrame) -> pd.Series:
    """Per ``machine`` row: whether the machine was full in that sample."""
    cores = machine["processes"].clip(lower=1)
    busy = machine["cpu_percent"] / cores > BUSY_PERCENT
    waited = machine["wait_percent"].fillna(0.0) > MACHINE_WAIT_PERCENT
    return busy | waited


def saturation(rows: pd.DataFrame) -> tuple[bool | None, float | None]:
    """(saturated, share of saturated samples); (None, None) without ``machine`` rows."""
    machine = rows[rows["role"] == MACHINE_ROLE]
    if machine.empty:
        return None, None
    share = float(saturated_samples(machine).mean())
    return share > SAMPLE_SHARE, round(share, 3)


def role_means(rows: pd.DataFrame) -> dict[str, float]:
    """Mean CPU (100 = one core) of each role over the samples, busiest first.

    A role absent from a sample (``other:<command>`` rows are written only for the busiest
    commands) counts as 0 there: the mean is over every sample of the window.
    """
    samples = rows["t"].nunique()
    if samples == 0:
        return {}
    totals = rows.groupby("role")["cpu_percent"].sum() / samples
    ordered = totals.sort_values(ascending=False, kind="stable")
    return {str(role): float(cpu) for role, cpu in ordered.items() if math.isfinite(cpu)}


def cpu_share(rows: pd.DataFrame) -> float | None:
    """The harness's share of the CPU used by the run (harness + system under test)."""
    means = role_means(rows)
    harness = sum(means.get(role, 0.0) for role in M.HARNESS_ROLES)
    sut = sum(means.get(role, 0.0) for role in SUT_ROLES)
    if not any(role in means for role in SUT_ROLES) or harness + sut <= 0:
        return None
    return round(harness / (harness + sut), 3)


def host_metrics(rows: pd.DataFrame) -> Metrics:
    """``host.saturated``, ``host.saturated_share`` and ``harness.cpu_share``."""
    saturated, share = saturation(rows)
    return {M.HOST_SATURATED: saturated, M.HOST_SATURATED_SHARE: share,
            M.HARNESS_CPU_SHARE: cpu_share(rows)}


Takers = list[tuple[str, float]]


def cpu_takers(rows: pd.DataFrame, limit: int = TAKERS) -> tuple[Takers, Takers]:
    """The busiest of the window (the machine itself apart), at most ``limit`` in all, each
    list busiest first: this run's own roles, and the machine's other processes (another
    job's, by command name, without the ``other:`` prefix)."""
    means = role_means(rows)
    busiest = [(role, cpu) for role, cpu in means.items()
               if role != MACHINE_ROLE and cpu > 0][:limit]
    ours = [(role, cpu) for role, cpu in busiest if not role.startswith(OTHER_PREFIX)]
    others = [(role.removeprefix(OTHER_PREFIX), cpu) for role, cpu in busiest
              if role.startswith(OTHER_PREFIX)]
    return ours, others


def _listed(takers: Takers) -> str:
    return ", ".join(f"{who} {cpu:.0f}%" for who, cpu in takers)


def saturation_finding(name: str, metrics: Mapping[str, object], rows: pd.DataFrame) -> str | None:
    """The sentence of a saturated variant: how long, and who took the CPU — this run's own
    processes apart from the machine's others (another job's)."""
    if not metrics.get(M.HOST_SATURATED):
        return None
    share = metrics.get(M.HOST_SATURATED_SHARE)
    ours, others = cpu_takers(rows)
    went = [f"this run's {_listed(ours)}" if ours else "",
            f"other processes of this machine (not this run's): {_listed(others)}"
            if others else ""]
    takers = " and to ".join(w for w in went if w)
    during = f" during {float(share):.0%} of the load" if isinstance(share, float) else ""
    return (f"{name}: this machine's CPU was saturated{during} (cores over "
            f"{BUSY_PERCENT:.0f}% busy or tasks waiting for a CPU); the CPU went "
            f"to {takers or 'unrecorded processes'} (100% = one core): its latencies and "
            "cold starts include queueing on this machine")


QUEUEING_NOTE = " (includes queueing on this machine: its CPU was saturated)"


def with_queueing_note(sentence: str, saturated: bool | None) -> str:
    """A latency or cold-start sentence of a saturated variant, saying so."""
    return sentence + QUEUEING_NOTE if saturated else sentence


def load_window_rows(host: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
    """The host rows of ``[start, end]``, one per (sample, role)."""
    cols = ["cpu_percent", "rss_mb", "processes", "wait_percent"]
    per_role = host.groupby(["t", "role"], as_index=False)[cols].sum(min_count=1)
    return per_role[(per_role["t"] >= start) & (per_role["t"] <= end)]
