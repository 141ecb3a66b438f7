"""One step of a breaking-point search measured and judged, on synthetic frames: refusals,
the error budget and the p95 target, each with its noise; the gauges of a run folder's
frames; the connections per instance over a ramp."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from harness.analysis.breaking import (
    GAUGE_COLUMNS,
    StepWindow,
    gauges_from_frames,
    judge_step,
    measure_step,
)
from harness.analysis.limit import connections_per_instance
from harness.results.frames import coerce_frame, empty_frame
from harness.results.limit import LimitSettings

SETTINGS = LimitSettings(until="refused", error_budget=0.01, p95_ms=None, max_users=20,
                         step=5, step_duration_s=5.0, spawn_rate=5.0, verify=False,
                         headroom="10%", p95_noise=0.25)
WINDOW = StepWindow(users=10, start=100.0, settled=101.0, end=105.0)


def requests(n: int, failed: int = 0, latency_ms: float = 10.0, kind: str = "http_5xx",
             start: float = 101.0, end: float = 104.9) -> pd.DataFrame:
    t = np.linspace(start, end - latency_ms / 1000.0, n)
    kinds = [kind if i < failed else "" for i in range(n)]
    return coerce_frame("requests", pd.DataFrame({
        "t": t, "endpoint": "/read", "latency_ms": latency_ms, "status": 200, "kind": kinds,
        "instance": "i1", "counter": -1}))


def gauges(rows: list[tuple[float, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(GAUGE_COLUMNS), dtype="float64")


QUIET = gauges([(99.0, 5, 5, 5, 0), (102.0, 30, 10, 30, 0), (104.0, 28, 10, 28, 0)])


def test_a_step_is_measured_over_its_window() -> None:
    m = measure_step(requests(400), QUIET, WINDOW)
    assert (m.users, m.requests, m.failures, m.error_rate) == (10, 400, 0, 0.0)
    assert m.rps == pytest.approx(100.0) and m.p95_ms == pytest.approx(10.0)
    assert (m.db_connections, m.instances, m.app_connections) == (30, 10, 30)
    assert (m.refused, m.refused_requests) == (0, 0)
    judged = judge_step(m, SETTINGS)
    assert (judged.verdict, judged.clear) == ("held", True)


def test_a_refusal_breaks_the_step_and_is_always_clear() -> None:
    refusing = gauges([(99.0, 5, 5, 5, 2), (102.0, 27, 9, 27, 2), (104.0, 27, 10, 27, 5)])
    m = measure_step(requests(400), refusing, WINDOW)
    assert m.refused == 3  # the two before the step are not its own
    judged = judge_step(m, SETTINGS)
    assert (judged.verdict, judged.reason, judged.clear) == ("broke", "refused", True)
    assert judged.detail == "3 connections refused"
    # a request refused counts too (a target whose server log is not read)
    m = measure_step(requests(400, failed=2, kind="db_too_many_connections"), QUIET, WINDOW)
    assert judge_step(m, SETTINGS).reason == "refused"
    # until errors: a refusal is only an error among others
    errors = dataclasses.replace(SETTINGS, until="errors")
    assert judge_step(measure_step(requests(400), refusing, WINDOW), errors).verdict == "held"


def test_the_error_budget_with_its_binomial_noise() -> None:
    errors = dataclasses.replace(SETTINGS, until="errors")
    spent = judge_step(measure_step(requests(1000, failed=50), QUIET, WINDOW), errors)
    assert (spent.verdict, spent.reason, spent.clear) == ("broke", "errors", True)
    assert spent.detail == "error rate 5% of 1,000 requests, budget 1%"
    # 12 of 1000 is over 1%, but within two standard errors (0.63%) of it
    close = judge_step(measure_step(requests(1000, failed=12), QUIET, WINDOW), errors)
    assert (close.verdict, close.clear) == ("broke", False)
    # no failure in 100 requests: not enough requests to say 1% holds
    few = judge_step(measure_step(requests(100), QUIET, WINDOW), errors)
    assert (few.verdict, few.clear) == ("held", False)


def test_the_p95_target_with_this_machines_noise() -> None:
    p95 = dataclasses.replace(SETTINGS, until="p95", p95_ms=100.0)
    slow = judge_step(measure_step(requests(400, latency_ms=200.0), QUIET, WINDOW), p95)
    assert (slow.verdict, slow.reason, slow.clear) == ("broke", "p95", True)
    near = judge_step(measure_step(requests(400, latency_ms=110.0), QUIET, WINDOW), p95)
    assert (near.verdict, near.clear) == ("broke", False)  # within 25% of the target
    fast = judge_step(measure_step(requests(400, latency_ms=20.0), QUIET, WINDOW), p95)
    assert (fast.verdict, fast.clear) == ("held", True)


def spread_requests(n: int) -> pd.DataFrame:
    """``n`` requests whose latencies climb evenly from 1 to 200 ms."""
    frame = requests(n)
    frame["latency_ms"] = np.linspace(1.0, 200.0, n)
    frame["t"] = 101.0
    return frame


def test_a_p95_its_sample_cannot_tell_from_the_target_is_not_clear() -> None:
    # p95 190 ms: with 100 requests its bounds are about 180-200 ms, with 20,000 about 189-191
    p95 = dataclasses.replace(SETTINGS, until="p95", p95_ms=185.0, p95_noise=0.01)
    few = measure_step(spread_requests(100), QUIET, WINDOW)
    assert few.p95_low_ms is not None and few.p95_high_ms is not None
    assert few.p95_low_ms < 185.0 < few.p95_high_ms
    assert (judge_step(few, p95).verdict, judge_step(few, p95).clear) == ("broke", False)
    many = measure_step(spread_requests(20_000), QUIET, WINDOW)
    assert many.p95_low_ms is not None and many.p95_high_ms is not None
    assert many.p95_ms is not None
    assert 185.0 < many.p95_low_ms < many.p95_ms < many.p95_high_ms < 195.0
    assert (judge_step(many, p95).verdict, judge_step(many, p95).clear) == ("broke", True)


def test_requests_are_those_answered_once_the_users_ran() -> None:
    early = requests(100, start=100.0, end=100.9)  # answered while the users spawned
    late = requests(10, start=103.0, end=107.5, latency_ms=3500.0)  # answered after the end
    m = measure_step(pd.concat([early, late, requests(200)], ignore_index=True), QUIET, WINDOW)
    assert m.requests == 200
    empty = measure_step(empty_frame("requests"), QUIET, WINDOW)
    assert (empty.requests, empty.error_rate, empty.in_flight) == (0, None, None)
    assert judge_step(empty, SETTINGS).clear is False


def frames(pooler: bool = False) -> dict[str, pd.DataFrame]:
    out = {name: empty_frame(name) for name in ("db", "platform", "pooler", "pglog",
                                                "pooler_log")}
    out["db"] = coerce_frame("db", pd.DataFrame({
        "t": [1.0, 2.0, 3.0, 4.0], "total": [3, 6, 9, 9], "active": 0, "idle": 0,
        "idle_in_transaction": 0, "other": 0}))
    out["platform"] = coerce_frame("platform", pd.DataFrame({
        "t": [0.9, 1.9, 2.9, 3.9], "starting": [0, 0, 1, 0], "busy": [1, 2, 2, 4],
        "warm": 0, "frozen": 0, "zombie": [0, 0, 0, 5], "queue": 0, "cold_starts": 0,
        "reaped": 0, "throttled": 0, "init_failures": 0, "background_pending": 0,
        "background_completed": 0, "background_delayed": 0, "background_lost": 0,
        "init_error": ""}))
    out["pglog"] = coerce_frame("pglog", pd.DataFrame({
        "t": [2.5, 3.5, 3.6], "event": ["authorized", "refused", "refused"], "pid": 1,
        "user": "app", "message": "x"}))
    if pooler:
        out["pooler"] = coerce_frame("pooler", pd.DataFrame({
            "t": [1.0, 2.0, 3.0, 4.0], "database": "app", "user": "app",
            "cl_active": [2, 4, 6, 8], "cl_waiting": [0, 0, 1, 4], "sv_active": 1,
            "sv_idle": 0, "sv_used": 0, "sv_login": 0, "maxwait_ms": 0.0}))
    return out


def test_the_gauges_of_a_run_folders_frames() -> None:
    g = gauges_from_frames(frames(), "none")
    assert list(g.columns) == list(GAUGE_COLUMNS)
    assert g["instances"].tolist() == [1, 2, 3, 4]  # live instances, zombies apart
    assert g["app_connections"].tolist() == g["db_connections"].tolist() == [3, 6, 9, 9]
    assert g["refused"].tolist() == [0, 0, 0, 2]
    g = gauges_from_frames(frames(pooler=True), "pgbouncer")
    assert g["app_connections"].tolist() == [2, 4, 7, 12]  # clients of the pooler
    assert gauges_from_frames({**frames(), "db": empty_frame("db")}, "none").empty


def test_connections_per_instance_is_the_median_before_the_break() -> None:
    g = gauges([(1.0, 3, 1, 3, 0), (2.0, 6, 2, 6, 0), (3.0, 8, 3, 8, 0), (4.0, 9, 3, 9, 0),
                (5.0, 27, 20, 27, 4)])
    assert connections_per_instance(g, before=4.5) == pytest.approx(3.0)
    assert connections_per_instance(g, before=6.0) == pytest.approx(3.0)
    assert connections_per_instance(g, before=0.5) is None
