"""How much load the load machines can drive: a scenario's stages are checked against it
before anything starts (one line, exit 2), so that an impossible load is refused at once
instead of failing after a minute ("locust: still running 60s after the load shape should
have ended").

- ``USERS_PER_MACHINE``: Locust keeps every user in memory and schedules them all on its
  event loop. An idle FastHttpUser took about 11 KB here (10,000 users: +112 MB of RSS);
  100,000 users are about 1.1 GB per load machine, and far more than one machine's CPU
  can keep sending requests for, unless their think time is long.
- ``SPAWN_RATE_PER_MACHINE``: users started per second. One Locust process started 10,000
  idle users in 1.2 s here; 5,000/s leaves room for users that do something (Locust itself
  warns above 100/s).

One machine without ``--workers``; N with ``--workers N`` (the master sends no requests).
"""

from __future__ import annotations

from harness.errors import InputError
from harness.scenario import Scenario

USERS_PER_MACHINE = 100_000
SPAWN_RATE_PER_MACHINE = 5_000.0


def _rate(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,g}"


def _machines_needed(asked: float, per_machine: float) -> int:
    return int(-(-asked // per_machine))  # ceiling


def check_capacity(scenario: Scenario, machines: int = 1) -> None:
    """InputError naming the stage, the value and the limit when a stage asks for more
    users, or a faster spawn, than ``machines`` load machines can drive."""
    machines = max(1, machines)
    where = "one load machine" if machines == 1 else f"{machines} load machines (--workers)"
    for i, stage in enumerate(scenario.load.stages):
        key = f"{scenario.path}: [load] stages[{i}]"
        users_limit = USERS_PER_MACHINE * machines
        if stage.users > users_limit:
            raise InputError(
                f"{key}.users = {stage.users:,}: more than {where} can drive "
                f"({users_limit:,} users; {USERS_PER_MACHINE:,} per machine); use fewer "
                f"users, or --workers {_machines_needed(stage.users, USERS_PER_MACHINE):,} "
                "(docs/distributed.md)")
        spawn_limit = SPAWN_RATE_PER_MACHINE * machines
        if stage.spawn_rate > spawn_limit:
            raise InputError(
                f"{key}.spawn_rate = {_rate(stage.spawn_rate)}: faster than {where} can "
                f"start users ({_rate(spawn_limit)}/s; {_rate(SPAWN_RATE_PER_MACHINE)}/s per "
                "machine); "
                "ramp more slowly, or add load machines with --workers")
