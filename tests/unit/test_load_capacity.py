"""What the load machines can drive: one machine, or N with --workers N."""

from __future__ import annotations

import pytest

from harness.errors import InputError
from harness.load.capacity import check_capacity
from harness.scenario import Scenario
from harness.scenario.loader import parse_scenario


def scenario(users: int, spawn_rate: float = 10.0) -> Scenario:
    return parse_scenario({
        "name": "s", "load": {"endpoints": {"read": 1}, "stages": [
            {"duration": "1s", "users": 5}, {"duration": "1s", "users": users,
                                             "spawn_rate": spawn_rate}]},
        "variants": [{"name": "a"}]}, "s.toml")


def test_workers_multiply_what_can_be_driven() -> None:
    check_capacity(scenario(100_000))
    with pytest.raises(InputError, match=r"s.toml: \[load\] stages\[1\].users = 250,000: more "
                       r"than one load machine can drive \(100,000 users"):
        check_capacity(scenario(250_000))
    check_capacity(scenario(250_000), machines=3)
    with pytest.raises(InputError, match="more than 2 load machines \\(--workers\\) can drive "
                                         "\\(200,000 users.*--workers 3"):
        check_capacity(scenario(250_000), machines=2)


def test_a_spawn_rate_beyond_the_machines_is_refused() -> None:
    check_capacity(scenario(10, spawn_rate=5_000))
    with pytest.raises(InputError, match="spawn_rate = 12,500: faster than 2 load machines"):
        check_capacity(scenario(10, spawn_rate=12_500), machines=2)
