"""The load shape as a pure function of run time (used by the locustfile's LoadTestShape).

The harness may end the shape before its last stage (``pgstampede limit`` stops a ramp at
the step that broke): it creates :data:`STOP_FILE` in the plan's ``out_dir``; the shape
then ends at its next tick, as after its last stage (the load window closes normally).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.scenario.records import Stage

STOP_FILE = "stop"


def request_stop(out_dir: Path) -> None:
    """Ask the running shape whose plan writes to ``out_dir`` to end at its next tick."""
    (out_dir / STOP_FILE).touch()


def stop_requested(out_dir: Path | str) -> bool:
    return (Path(out_dir) / STOP_FILE).exists()


def stage_index(stages: Sequence[Stage], run_time_s: float) -> int | None:
    """The index of the stage running at ``run_time_s``; None once every stage has ended."""
    end = 0.0
    for i, stage in enumerate(stages):
        end += stage.duration_s
        if run_time_s < end:
            return i
    return None


def shape_tick(stages: Sequence[Stage], run_time_s: float,
               subscribers: int = 0) -> tuple[int, float] | None:
    """``(users, spawn_rate)`` at ``run_time_s`` (``subscribers``, a population of their own,
    on top of the stage's users); None when the shape is over (Locust stops)."""
    i = stage_index(stages, run_time_s)
    if i is None:
        return None
    return stages[i].users + subscribers, stages[i].spawn_rate
