"""What a baseline can be compared with: the same scenario, and for timings the same machine.

Two checks, in the manner of pyperf's checked metadata:

- **The scenario.** A baseline applies to the scenario it was recorded with. When the measured
  part of the scenario (everything but its description, thresholds, check options and repeat
  count) differs, the comparison is refused (exit 2) with a line saying what changed, unless
  ``--compare-all``.
- **The machine.** *Machine* metrics (latency, throughput, CPU, times: see
  :mod:`harness.results.metrics`) are compared only with a baseline recorded on the same
  machine, runtime and versions; otherwise they are "not compared", never a regression.
  *System* metrics (connections, refusals, errors, instances, lost work) are judged wherever
  the baseline came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.check.baseline_file import Baseline, RecordedOn, measured_scenario, scenario_hash
from harness.errors import InputError

SHOWN_CHANGES = 3
VERSION_NAMES = {"postgresql": "PostgreSQL", "pgbouncer": "PgBouncer", "pgpool": "pgpool-II",
                 "locust": "Locust", "python": "Python"}


@dataclass(frozen=True)
class Comparability:
    """How a run and a baseline may be compared.

    ``other_machine`` says why the baseline's machine differs from the run's (None: the same
    machine, so every metric is compared). ``forced``: ``--compare-all`` compares everything.
    ``notes`` are what the check prints before its table.
    """

    other_machine: str | None
    forced: bool
    notes: tuple[str, ...]

    @property
    def machine_note(self) -> str | None:
        """The reason machine metrics are not compared, or None when they are."""
        return None if self.forced else self.other_machine


def comparability(baseline: Baseline, current: RecordedOn, source: Mapping[str, Any],
                  *, path: str, compare_all: bool = False) -> Comparability:
    """Judge whether ``baseline`` applies to a run of ``source`` measured on ``current``.

    Raises InputError (exit 2) when the scenario changed and ``compare_all`` is off.
    """
    notes: list[str] = []
    changes = scenario_changes(baseline, source)
    if changes:
        shown = "; ".join(changes[:SHOWN_CHANGES])
        more = f" (and {len(changes) - SHOWN_CHANGES} more)" if len(changes) > SHOWN_CHANGES \
            else ""
        if not compare_all:
            raise InputError(f"{path}: recorded with another version of scenario "
                             f"{baseline.scenario!r}: {shown}{more}; record a new baseline, or "
                             "pass --compare-all to compare anyway")
        notes.append(f"scenario changed since the baseline: {shown}{more}")
    other = machine_difference(baseline.recorded_on, current)
    if other is not None:
        notes.append(f"baseline recorded on another machine ({other}): "
                     + ("compared anyway (--compare-all)" if compare_all else
                        "machine metrics (latency, throughput, CPU, times) not compared; "
                        "system metrics judged"))
    return Comparability(other_machine=other, forced=compare_all, notes=tuple(notes))


def machine_difference(base: RecordedOn | None, current: RecordedOn) -> str | None:
    """Why ``base`` is not the machine of ``current`` (None when it is the same)."""
    if base is None:
        return "the baseline records no machine: format 1, re-record it"
    b, c = base.machine, current.machine
    if not b.machine_id:
        return "the baseline's run recorded no machine identity"
    if not c.machine_id:
        return "this run recorded no machine identity"
    diffs: list[str] = []
    if b.machine_id != c.machine_id:
        diffs.append(f"machine {_short_id(b.machine_id)} vs {_short_id(c.machine_id)}")
    if b.cpu_model != c.cpu_model:
        diffs.append(f"CPU {b.cpu_model or '?'} vs {c.cpu_model or '?'}")
    if b.cores != c.cores:
        diffs.append(f"{b.cores} vs {c.cores} cores")
    if base.runtime != current.runtime:
        diffs.append(f"runtime {base.runtime} vs {current.runtime}")
    for key, name in VERSION_NAMES.items():
        old, new = base.versions.get(key), current.versions.get(key)
        if old and new and old != new:
            diffs.append(f"{name} {old} vs {new}")
    return "; ".join(diffs) or None


def _short_id(machine_id: str) -> str:
    """``boot:f506d215-a5be-...`` -> ``boot:f506d215``; a name is shown whole."""
    kind, sep, rest = machine_id.partition(":")
    return f"{kind}:{rest[:8]}" if sep and kind == "boot" else machine_id


def scenario_changes(baseline: Baseline, source: Mapping[str, Any]) -> list[str]:
    """What differs between the baseline's scenario and this run's, one entry per key path.

    Empty when the baseline recorded no scenario (format 1) or nothing measured changed.
    """
    if not baseline.scenario_hash:
        return []
    measured = measured_scenario(source)
    if scenario_hash(measured) == baseline.scenario_hash:
        return []
    changes = diff(baseline.scenario_source, measured)
    return changes or ["the scenario's hash differs"]


def diff(old: object, new: object, where: str = "") -> list[str]:
    """Key paths whose values differ between two JSON-like values, with both values."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[str] = []
        for key in list(old) + [k for k in new if k not in old]:
            path = f"{where}.{key}" if where else str(key)
            if key not in new:
                out.append(f"{path} removed")
            elif key not in old:
                out.append(f"{path} added")
            else:
                out += diff(old[key], new[key], path)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [c for i, (a, b) in enumerate(zip(old, new, strict=True))
                for c in diff(a, b, f"{where}[{i}]")]
    if old != new:
        return [f"{where}: {_shown(old)} -> {_shown(new)}"]
    return []


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
