"""The breaking-point search, as plans and decisions (pure: no process, no clock).

1. **Ramp**: one probe whose load climbs in stair steps of ``step`` users (``step``,
   ``2·step``, ..., ``max_users``), each held ``step_duration`` once its users have
   spawned. The search stops it at the first step that breaks.
2. **Bisection**: between the most users that held (``held``) and the fewest that broke
   (``broke``), one probe at a constant load of ``(held + broke) // 2`` users at a time, each
   on fresh services (a serverless platform keeps the instances a broken step left behind,
   so a step down inside one probe would not start clean). It narrows the bracket while a
   narrower step still means something on this machine:
   - users are whole: it stops when ``broke - held`` is one user;
   - a probe whose verdict was *too close to call* (its measure within this machine's noise
     of the limit: :mod:`harness.analysis.breaking`) ends it: the bracket it leaves is as
     narrow as this machine can tell apart. Its verdict is kept as measured.
   The ramp's own breaking step counts the same way: if it was too close to call, no probe
   follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.results.limit import LimitSettings, StepRecord
from harness.scenario import Stage

SETTLE_MAX_S = 1.0  # after its users spawned, a step waits this long (at most) before judging


@dataclass(frozen=True)
class PlannedStep:
    """A step of a probe, in seconds from the load shape's start."""

    users: int
    start_s: float
    settled_s: float
    end_s: float


@dataclass(frozen=True)
class ProbePlan:
    """A probe's load stages (for the scenario) and its steps (for the judge)."""

    stages: tuple[Stage, ...]
    steps: tuple[PlannedStep, ...]


def _step(users: int, previous: int, start: float, rate: float,
          settings: LimitSettings) -> tuple[Stage, PlannedStep]:
    spawn = abs(users - previous) / rate
    settle = min(SETTLE_MAX_S, settings.step_duration_s / 5)
    duration = spawn + settings.step_duration_s
    return (Stage(duration_s=duration, users=users, spawn_rate=rate),
            PlannedStep(users, start, start + spawn + settle, start + duration))


def ramp_users(settings: LimitSettings) -> tuple[int, ...]:
    """The users of each ramp step: ``step``, ``2·step``, ..., ``max_users``."""
    count = -(-settings.max_users // settings.step)
    return tuple(min((k + 1) * settings.step, settings.max_users) for k in range(count))


def ramp_plan(settings: LimitSettings) -> ProbePlan:
    stages, steps, start, previous = [], [], 0.0, 0
    for users in ramp_users(settings):
        stage, step = _step(users, previous, start, settings.spawn_rate, settings)
        stages.append(stage)
        steps.append(step)
        start, previous = step.end_s, users
    return ProbePlan(tuple(stages), tuple(steps))


def level_plan(users: int, settings: LimitSettings) -> ProbePlan:
    """One constant load of ``users``, spawned within about two seconds."""
    rate = max(settings.spawn_rate, users / 2.0)
    stage, step = _step(users, 0, 0.0, rate, settings)
    return ProbePlan((stage,), (step,))


class Search:
    """The bracket ``held`` < break <= ``broke`` and the next load to try."""

    def __init__(self, settings: LimitSettings) -> None:
        self.settings = settings
        self.held = 0
        self.broke: int | None = None
        self.stopped = ""

    @classmethod
    def after_ramp(cls, steps: Sequence[StepRecord], settings: LimitSettings) -> Search:
        """The bracket the ramp left: its last step that held, its step that broke."""
        search = cls(settings)
        bracket: list[StepRecord] = []  # the last step that held, the step that broke
        for step in steps:
            bracket = [s for s in bracket if s.verdict == "held"][-1:] + [step]
            if step.verdict == "broke":
                break
        for step in bracket:
            search._narrow(step)
        if not steps:
            search.stopped = "the ramp judged no step (its variant run says why)"
        elif search.broke is None:
            search.stopped = (f"held every step up to max_users ({settings.max_users}); "
                              "raise --max-users to look further")
        return search

    def _narrow(self, step: StepRecord) -> None:
        if step.verdict == "broke":
            self.broke = step.users if self.broke is None else min(self.broke, step.users)
        else:
            self.held = max(self.held, step.users)
        if not step.clear:
            self.stopped = (f"stopped refining: at {step.users} users the verdict was too "
                            f"close to call ({step.detail}), within this machine's noise")

    def next_users(self) -> int | None:
        """The users of the next probe, or None when the search is over (``stopped`` says
        why)."""
        if self.broke is None or self.stopped:
            return None
        if self.broke - self.held <= 1:
            self.stopped = "resolved to one user"
            return None
        return (self.held + self.broke) // 2

    def record(self, step: StepRecord) -> None:
        """What a bisection probe's step decided."""
        self._narrow(step)
