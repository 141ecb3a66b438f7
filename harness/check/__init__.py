"""The regression gate: thresholds and baseline comparison over ``summary.json`` (pure),
plus the ``check`` and ``baseline`` subcommands as plain functions."""

from harness.check.baseline import Comparison, compare
from harness.check.baseline_file import Baseline, load_baseline, make_baseline
from harness.check.command import check_run, complete_run, save_baseline
from harness.check.outcome import CheckOutcome
from harness.check.thresholds import ThresholdResult, evaluate_thresholds, judge

__all__ = [
    "Baseline",
    "CheckOutcome",
    "Comparison",
    "ThresholdResult",
    "check_run",
    "compare",
    "complete_run",
    "evaluate_thresholds",
    "judge",
    "load_baseline",
    "make_baseline",
    "save_baseline",
]
