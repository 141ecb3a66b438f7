"""``summary.json``: what a run measured, per variant, and its verdict (schema version 2).

Built by :mod:`harness.analysis.summary` from the run folder alone; written and read by
:class:`harness.results.folder.RunFolder`. A metric that is null has a reason in ``nulls``:
``not applicable`` (e.g. pooler metrics without a pooler) or ``not measured`` (a collector
failed, a file was empty): a threshold on a metric not measured fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricValue = bool | int | float | None
Metrics = dict[str, MetricValue]
NullKind = Literal["not applicable", "not measured"]
ThresholdStatus = Literal["pass", "fail", "n/a"]


@dataclass(frozen=True)
class NullReason:
    kind: NullKind
    why: str

    def text(self) -> str:
        return f"{self.kind}: {self.why}"


@dataclass(frozen=True)
class StageSummary:
    stage: int
    start_s: float
    end_s: float
    users: int
    metrics: Metrics


@dataclass(frozen=True)
class FaultEffect:
    """The measured effect of one injected fault on one repeat."""

    repeat: int
    kind: str
    at_s: float
    duration_s: float
    detail: str
    ok: bool
    errors: int
    error_rate_before: float
    recovered: bool
    recovery_s: float
    reconnected: bool


@dataclass(frozen=True)
class VariantSummary:
    """One variant over its repeats: ``metrics`` are medians over repeats."""

    status: str
    error: str | None
    target: str | None
    pooler: str | None
    max_connections: int | None
    metrics: Metrics
    nulls: dict[str, NullReason]
    repeats: tuple[Metrics, ...]
    stages: tuple[StageSummary, ...]
    faults: tuple[FaultEffect, ...]
    problems: tuple[str, ...]
    # the pooler's version as the run found it (``versions.pgbouncer`` / ``versions.pgpool``
    # of the variant's record); None without a pooler
    pooler_version: str | None = None


@dataclass(frozen=True)
class ThresholdRecord:
    """One threshold on one variant, as judged."""

    expr: str
    variant: str
    metric: str
    value: float | None
    status: ThresholdStatus
    reason: str


@dataclass(frozen=True)
class Summary:
    schema_version: int
    scenario: str
    status: str
    variants: dict[str, VariantSummary]
    thresholds: tuple[ThresholdRecord, ...]
    findings: tuple[str, ...]
    problems: tuple[str, ...]
