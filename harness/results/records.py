"""The records of a run folder: manifest, variant runs, collector health (schema version 2).

Every record is frozen and written with :func:`harness.results.codec.encode`; the run folder
(:mod:`harness.results.folder`) reads them back strictly. History of ``SCHEMA_VERSION``:

- 1: untyped manifest; thresholds re-parsed from the scenario copy; no collector health.
- 2: typed records; the check spec parsed once; per variant run the frame files (rows,
  sha256), the health of every collector and the problems that make it incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from harness.results.check_spec import CheckSpec

SCHEMA_VERSION = 2
MANIFEST = "manifest.json"
SUMMARY = "summary.json"

RunStatus = Literal["running", "complete", "incomplete", "failed", "interrupted"]
"""``complete``: everything measured; ``incomplete``: it ran but a measurement is missing;
``failed``: an error ended it; ``interrupted``: SIGINT/SIGTERM ended it."""


@dataclass(frozen=True)
class StageWindow:
    """One load stage as run: epoch seconds ``[start, end)``, its users and spawn rate (the
    stage as planned is ``harness.scenario.Stage``)."""

    start: float
    end: float
    users: int
    spawn_rate: float = 0.0


@dataclass(frozen=True)
class FrameFile:
    """A parquet file as written: its row count and content hash, to verify it later."""

    name: str
    rows: int
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.name}.parquet"


@dataclass(frozen=True)
class CollectorHealth:
    """How well one collector measured during a variant run.

    ``expected`` samples at its interval while the sampler ran, ``samples`` taken,
    ``failures`` (failed start/sample/stop calls) with the first one's text and wall-clock
    time, the ``longest_gap_s`` between successful samples (from the start and to the end
    included), and for the server log whether it was read to its end (``read_to_end``;
    None for the other collectors).
    """

    name: str
    interval_s: float
    expected: int
    samples: int
    failures: int
    first_error: str
    first_error_t: float | None
    longest_gap_s: float
    read_to_end: bool | None = None


@dataclass(frozen=True)
class Problem:
    """Why a variant run is incomplete: which source (collector or file), when, why."""

    source: str
    reason: str
    t: float | None = None

    def text(self, load_start: float | None = None) -> str:
        when = ""
        if self.t is not None and load_start is not None:
            when = f" at {self.t - load_start:+.1f}s"
        return f"{self.source}{when}: {self.reason}"


@dataclass(frozen=True)
class FaultEvent:
    """A fault as injected: when (epoch seconds), what it did, whether it worked."""

    kind: str
    at_s: float
    duration_s: float
    count: int
    start: float
    end: float
    detail: str
    ok: bool


@dataclass(frozen=True)
class VariantRecord:
    """One variant run (one repeat of one variant), as the manifest records it."""

    name: str
    repeat: int
    dir: str
    status: RunStatus
    error: str | None
    target: str
    pooler: str
    max_connections: int
    background_delay_s: float
    observes_server_log: bool
    collect_interval_s: float
    load_start: float | None
    load_end: float | None
    stages: tuple[StageWindow, ...]
    config: dict[str, Any]
    versions: dict[str, str]
    durability: dict[str, str]
    target_info: dict[str, Any]
    faults: tuple[FaultEvent, ...]
    frames: tuple[FrameFile, ...]
    health: tuple[CollectorHealth, ...]
    problems: tuple[Problem, ...]

    @property
    def label(self) -> str:
        return f"{self.name}/{self.repeat}"

    @property
    def measured(self) -> bool:
        """Whether its load started (else there is nothing to analyse)."""
        return self.load_start is not None


@dataclass(frozen=True)
class ScenarioCopy:
    """The scenario as run: its name, declared variants, check spec and the file's data."""

    name: str
    description: str
    path: str
    repeats: int
    variants: tuple[str, ...]
    check: CheckSpec
    source: dict[str, Any]


@dataclass(frozen=True)
class Manifest:
    """``manifest.json``: the run, how it ended, and every variant run."""

    schema_version: int
    scenario: ScenarioCopy
    status: RunStatus
    error: str | None
    runtime: str
    runtime_info: dict[str, Any]
    versions: dict[str, str]
    machine: dict[str, Any]
    durability: dict[str, str]
    started: float
    ended: float | None
    planned: tuple[str, ...]
    variants: tuple[VariantRecord, ...] = field(default_factory=tuple)

    @property
    def not_selected(self) -> tuple[str, ...]:
        """Variants the scenario declares that this run left out (``--variants``)."""
        return tuple(v for v in self.scenario.variants if v not in self.planned)
