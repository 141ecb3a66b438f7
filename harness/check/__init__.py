"""The regression gate: thresholds and baseline comparison over ``summary.json`` (pure),
plus the ``check`` and ``baseline`` subcommands as plain functions."""

from harness.check.baseline import Comparison, compare, load_baseline, make_baseline
from harness.check.command import check_run, save_baseline
from harness.check.outcome import CheckOutcome
from harness.check.thresholds import (
    Threshold,
    ThresholdResult,
    evaluate_thresholds,
    parse_threshold,
    thresholds_from_scenario,
    validate_thresholds,
)

__all__ = [
    "CheckOutcome",
    "Comparison",
    "Threshold",
    "ThresholdResult",
    "check_run",
    "compare",
    "evaluate_thresholds",
    "load_baseline",
    "make_baseline",
    "parse_threshold",
    "save_baseline",
    "thresholds_from_scenario",
    "validate_thresholds",
]
