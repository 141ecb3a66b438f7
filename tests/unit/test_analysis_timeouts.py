"""Requests cut at the platform's max_duration: the finding names the limit and its origin."""

from __future__ import annotations

from typing import Any

from harness.analysis.timeouts import cut_sentence, limit_origin


def config(max_duration_s: float, preset: str = "",
           overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"target": "serverless", "serverless": {"max_duration_s": max_duration_s,
                                                   "preset": preset,
                                                   "overrides": list(overrides)}}


def test_the_limit_comes_from_the_preset_or_the_scenario() -> None:
    assert limit_origin(config(3.0, "aws-lambda")) == (3.0, "the aws-lambda preset's default")
    assert limit_origin(config(5.0, "aws-lambda", ("max_duration",))) == \
        (5.0, "[target.serverless] max_duration")
    assert limit_origin(config(5.0)) == (5.0, "[target.serverless] max_duration")
    assert limit_origin(config(0.0)) is None  # unlimited: nothing is cut
    assert limit_origin({"target": "persistent", "persistent": {}}) is None


def test_the_finding_names_the_limit_where_it_came_from_and_the_machine() -> None:
    text = cut_sentence("serverless", 12, config(3.0, "aws-lambda"), saturated=True)
    assert text is not None
    assert text.startswith("serverless: 12 requests were cut at the platform's max_duration "
                           "= 3.0 s (the aws-lambda preset's default) and answered 504")
    assert "Raise max_duration in [target.serverless]" in text
    assert "CPU was saturated" in text
    plain = cut_sentence("serverless", 1, config(3.0, "aws-lambda"), saturated=False)
    assert plain is not None and "saturated" not in plain
    assert cut_sentence("serverless", 0, config(3.0), saturated=False) is None
