"""state = "postgres": a shared counter whose increment lost its answer is no divergence."""

from __future__ import annotations

from harness.analysis.metrics import compute_metrics
from tests.unit.test_analysis_metrics import START, ctx, frames, requests


def test_a_lost_answer_puts_a_shared_counter_ahead_without_negative_divergence() -> None:
    # instances a and b share one counter; the answer of increment 3 never arrived
    shared = requests([START + i for i in range(3)], endpoint="/counter",
                      instance=["a", "b", "a"], counter=[1, 2, 4])
    m = compute_metrics(frames(requests=shared), ctx())
    assert m["state.instances_seen"] == 2
    assert m["state.counter_divergence"] == 0
