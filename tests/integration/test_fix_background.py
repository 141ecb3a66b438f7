"""The background-work fixes as switches, beside the problem: after the response the work is
frozen with the instance and lost when it is reaped; wait_until keeps the instance busy until
the work is done; a queue's worker process completes every job."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.pipeline_helpers import metrics, run_complete

pytestmark = pytest.mark.integration

SCENARIO = """
name = "background-fixes"
description = "work after the response: after_response, wait_until, queue"
repeats = 1

[database]
max_connections = 60

[load]
think_time = ["100ms", "300ms"]
endpoints = { background = 1.0 }
stages = [{ duration = "4s", users = 4, spawn_rate = 50 }]

[target.serverless]
background_delay = "300ms"
idle_timeout = "1s"
freeze = true
reap = "kill"

[[variants]]
name = "after_response"
target = "serverless"

[[variants]]
name = "wait_until"
target = "serverless"
target_overrides = { background = "wait_until" }

[[variants]]
name = "queue"
target = "serverless"
target_overrides = { background = "queue" }
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_complete(tmp_path_factory.mktemp("background"), SCENARIO)


def test_work_after_the_response_is_lost_with_reaped_instances(run_dir: Path) -> None:
    m = metrics(run_dir, "after_response")
    assert m["background.lost"] > 0


@pytest.mark.parametrize("variant", ["wait_until", "queue"])
def test_wait_until_and_queue_lose_nothing(run_dir: Path, variant: str) -> None:
    m = metrics(run_dir, variant)
    assert m["http.requests"] > 0 and m["http.failures"] == 0
    assert m["background.completed"] > 0
    assert m["background.lost"] == 0


def test_wait_until_costs_busy_time(run_dir: Path) -> None:
    before = metrics(run_dir, "after_response")["platform.busy_ms"]
    assert metrics(run_dir, "wait_until")["platform.busy_ms"] > before
