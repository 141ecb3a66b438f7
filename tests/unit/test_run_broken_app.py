"""A serverless variant in which no instance completed its init is a broken app."""

from __future__ import annotations

import pandas as pd

from harness.results.frames import coerce_frame, empty_frame
from harness.run.broken_app import failure_text, no_instance_ready


def platform(*rows: tuple[int, int, str]) -> pd.DataFrame:
    columns = empty_frame("platform").columns
    data = [{**dict.fromkeys(columns, 0), "t": float(i), "cold_starts": cold,
             "init_failures": failed, "init_error": error}
            for i, (cold, failed, error) in enumerate(rows)]
    return coerce_frame("platform", pd.DataFrame(data))


def test_every_init_failed() -> None:
    frame = platform((0, 0, ""), (0, 1, "RuntimeError: boom"), (0, 3, "RuntimeError: boom"))
    assert no_instance_ready(frame) == (3, "RuntimeError: boom")
    text = failure_text("shop.main:app", 3, "RuntimeError: boom", "logs/gateway.log")
    assert text == ("app shop.main:app: no instance completed its init (all 3 instances "
                    "failed); the first error: RuntimeError: boom (see its log: "
                    "logs/gateway.log)")


def test_some_instances_served_is_a_measurement() -> None:
    frame = platform((1, 0, ""), (4, 2, "OSError: too many clients"))
    assert no_instance_ready(frame) is None


def test_nothing_started_or_no_platform() -> None:
    assert no_instance_ready(platform((0, 0, ""))) is None
    assert no_instance_ready(empty_frame("platform")) is None
    assert no_instance_ready(None) is None
