"""The load shape as a pure function of run time (used by the locustfile's LoadTestShape)."""

from __future__ import annotations

from collections.abc import Sequence

from harness.scenario.records import Stage


def stage_index(stages: Sequence[Stage], run_time_s: float) -> int | None:
    """The index of the stage running at ``run_time_s``; None once every stage has ended."""
    end = 0.0
    for i, stage in enumerate(stages):
        end += stage.duration_s
        if run_time_s < end:
            return i
    return None


def shape_tick(stages: Sequence[Stage], run_time_s: float) -> tuple[int, float] | None:
    """``(users, spawn_rate)`` at ``run_time_s``; None when the shape is over (Locust stops)."""
    i = stage_index(stages, run_time_s)
    if i is None:
        return None
    return stages[i].users, stages[i].spawn_rate
