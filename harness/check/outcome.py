"""The verdict of a check: threshold results and baseline comparisons, and the exit code.

Exit codes (``harness.errors.ExitCode``): 0 pass; 1 a threshold failed or a metric
regressed. (2 bad input and 3 an incomplete run are raised as errors before an outcome
exists.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.check.baseline import Comparison
from harness.check.thresholds import ThresholdResult
from harness.errors import ExitCode
from harness.results.codec import encode


@dataclass(frozen=True)
class CheckOutcome:
    run_dir: Path
    scenario: str
    thresholds: tuple[ThresholdResult, ...]
    comparisons: tuple[Comparison, ...] = ()
    baseline_path: Path | None = None
    baseline_created: str | None = None
    alpha: float | None = None
    # what the check says about the baseline before its table: another machine, a changed
    # scenario compared anyway (harness.check.comparable)
    baseline_notes: tuple[str, ...] = ()

    @property
    def failed_thresholds(self) -> tuple[ThresholdResult, ...]:
        return tuple(t for t in self.thresholds if t.ok is False)

    @property
    def regressions(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.verdict == "regressed")

    @property
    def passed(self) -> bool:
        return not self.failed_thresholds and not self.regressions

    @property
    def exit_code(self) -> int:
        return ExitCode.OK if self.passed else ExitCode.FAILED

    def threshold_counts(self) -> dict[str, int]:
        """How many thresholds passed, failed and were not applicable."""
        counts = Counter(t.status for t in self.thresholds)
        return {status: counts.get(status, 0) for status in ("pass", "fail", "n/a")}

    def verdict_counts(self) -> dict[str, int]:
        """How many comparisons got each verdict."""
        counts: Counter[str] = Counter(c.verdict for c in self.comparisons)
        order = ("regressed", "improved", "not significant", "changed", "unchanged",
                 "not compared", "skipped")
        return {verdict: counts.get(verdict, 0) for verdict in order}

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` output."""
        baseline: dict[str, Any] | None = None
        if self.baseline_path is not None:
            baseline = {"path": str(self.baseline_path), "created": self.baseline_created,
                        "alpha": self.alpha, "notes": list(self.baseline_notes),
                        "counts": self.verdict_counts(),
                        "comparisons": [c.as_dict() for c in self.comparisons]}
        return {
            "run": str(self.run_dir), "scenario": self.scenario, "passed": self.passed,
            "exit_code": self.exit_code,
            "thresholds": [encode(t.record()) for t in self.thresholds],
            "threshold_counts": self.threshold_counts(),
            "baseline": baseline,
        }
