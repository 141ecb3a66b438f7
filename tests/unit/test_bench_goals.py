"""How ``make bench`` judges its figures, in full and with ``--quick`` (benchmarks/bench.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench import BENCHES, NOT_JUDGED, Figure, verdict  # noqa: E402
from report_build import GOAL_ROWS, GOAL_SECONDS, goal_seconds  # noqa: E402

SAME = Figure("p50", ("p50",), "<=", 50, "ms", quick="same")
SCALED = Figure("build", ("build_s",), "<=", 15, "s", quick="scaled", scaled_goal=("goal_s",))
FULL_ONLY = Figure("rows per s", ("rate",), ">=", 1000, "/s")


def judge(figure: Figure, doc: dict[str, float], quick: bool) -> str:
    value = doc.get(figure.path[0])
    return verdict(figure, value, figure.goal_for(doc, quick), quick)


def test_a_full_run_is_judged_against_the_full_goal() -> None:
    assert judge(SCALED, {"build_s": 14.0, "goal_s": 3.0}, quick=False) == "met"
    assert judge(SCALED, {"build_s": 16.0, "goal_s": 99.0}, quick=False) == "MISSED"
    assert judge(FULL_ONLY, {"rate": 999.0}, quick=False) == "MISSED"


def test_a_quick_run_is_judged_against_a_goal_for_its_size_or_not_at_all() -> None:
    assert judge(SAME, {"p50": 51.0}, quick=True) == "MISSED"
    assert judge(SCALED, {"build_s": 14.9, "goal_s": 11.0}, quick=True) == "MISSED"
    assert judge(SCALED, {"build_s": 5.0, "goal_s": 11.0}, quick=True) == "met"
    assert judge(SCALED, {"build_s": 5.0}, quick=True) == "missing"  # no goal printed
    assert judge(FULL_ONLY, {"rate": 1.0}, quick=True) == NOT_JUDGED


def test_the_report_build_goal_scales_with_its_rows() -> None:
    assert goal_seconds(GOAL_ROWS) == GOAL_SECONDS
    assert goal_seconds(200_000) == 11.0
    # the regression of 2026-12-06 (a cost per row grown ninefold) misses the quick goal
    assert goal_seconds(200_000) < 14.9


def test_every_scaled_goal_names_where_the_benchmark_prints_it() -> None:
    figures = [f for b in BENCHES for f in b.figures]
    assert all(f.scaled_goal for f in figures if f.quick == "scaled")
    assert any(f.quick == "scaled" for f in figures)
