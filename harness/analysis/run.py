"""A run folder in memory, for analysis: its manifest and every variant run's frames.

``load_run`` reads through :class:`harness.results.folder.RunFolder` (strict records,
verified frame files). Each variant run gets a ``VariantContext`` built from its record:
load window, stages, max_connections, pooler, target and background delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.analysis.health import assess
from harness.analysis.metrics import VariantContext
from harness.results.folder import LoadedVariant, RunFolder
from harness.results.limit import LimitRecord, read_limit
from harness.results.records import FaultEvent, Manifest, Problem, VariantRecord


@dataclass(frozen=True)
class VariantRun:
    """One repeat of one variant: its record, frames, problems and analysis context."""

    record: VariantRecord
    directory: Path
    frames: dict[str, pd.DataFrame]
    problems: tuple[Problem, ...]
    ctx: VariantContext | None

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def repeat(self) -> int:
        return self.record.repeat

    @property
    def status(self) -> str:
        """The recorded status, ``incomplete`` when its files show a problem."""
        if self.record.status == "complete" and self.problems:
            return "incomplete"
        return self.record.status

    @property
    def error(self) -> str | None:
        return self.record.error

    @property
    def faults(self) -> tuple[FaultEvent, ...]:
        return self.record.faults


@dataclass(frozen=True)
class LoadedRun:
    """A run folder in memory: its manifest and its variant runs in manifest order."""

    folder: RunFolder
    manifest: Manifest
    runs: tuple[VariantRun, ...]
    limit: LimitRecord | None = None  # limit.json: a folder made by `pgstampede limit`

    @property
    def run_dir(self) -> Path:
        return self.folder.path

    @property
    def problems(self) -> tuple[str, ...]:
        """Every problem of every variant run, as text naming the run and the source."""
        return tuple(f"{r.record.label}: {p.text(r.record.load_start)}"
                     for r in self.runs for p in r.problems)


def context_of(record: VariantRecord, requests: pd.DataFrame) -> VariantContext | None:
    """The analysis context of a variant record; None if its load never started."""
    if record.load_start is None:
        return None
    load_end = record.load_end
    if load_end is None:  # interrupted during the load: up to the last request seen
        load_end = float(requests["t"].max()) if len(requests) else record.load_start
    return VariantContext(
        load_start=record.load_start,
        load_end=load_end,
        max_connections=record.max_connections,
        pooler=record.pooler,
        target=record.target,
        stages=record.stages,
        background_delay_ms=record.background_delay_s * 1000.0,
        app="app" in record.config,
    )


def variant_run(loaded: LoadedVariant, min_coverage: float) -> VariantRun:
    """A loaded variant run with every problem of its measurement (see analysis.health)."""
    return VariantRun(record=loaded.record, directory=loaded.directory, frames=loaded.frames,
                      problems=assess(loaded, min_coverage),
                      ctx=context_of(loaded.record, loaded.frames["requests"]))


def load_run(run_dir: Path) -> LoadedRun:
    """Read a run folder: its manifest, every variant run's verified frames, its limit.json."""
    folder = RunFolder(run_dir)
    manifest = folder.read_manifest()
    min_coverage = manifest.scenario.check.min_coverage
    runs = tuple(variant_run(v, min_coverage) for v in folder.load_variants(manifest))
    return LoadedRun(folder=folder, manifest=manifest, runs=runs, limit=read_limit(run_dir))
