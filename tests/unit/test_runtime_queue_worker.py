"""background = "queue" needs the worker only the process runtime starts: refused up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import InputError
from harness.scenario import load_scenario
from harness.services.registry import check_supported

ARTICLE = Path(__file__).parents[2] / "harness" / "scenarios" / "article.toml"


def test_docker_refuses_a_queue_variant_in_one_line() -> None:
    with pytest.raises(InputError) as err:
        check_supported("docker", load_scenario(ARTICLE))
    message = str(err.value)
    assert "variant serverless-queue" in message and "\n" not in message


def test_the_process_runtime_and_other_variants_pass() -> None:
    scenario = load_scenario(ARTICLE)
    check_supported("process", scenario)
    check_supported("docker", scenario, ["serverless", "persistent", "serverless-state"])
