"""Metrics on synthetic frames with known answers (harness.analysis.metrics)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from harness.analysis.metrics import (
    BACKGROUND_TOLERANCE_MS,
    StageWindow,
    VariantContext,
    compute_metrics,
    stage_metrics,
)
from harness.results.frames import FRAME_NAMES, coerce_frame, empty_frame
from harness.results.limit import LIMIT_METRICS_PREFIX
from harness.results.metrics import METRICS

START = 1_700_000_000.0


def ctx(**overrides: Any) -> VariantContext:
    values: dict[str, Any] = {
        "load_start": START, "load_end": START + 100.0, "max_connections": 100,
        "pooler": "none", "target": "persistent",
        "stages": (StageWindow(START, START + 50.0, 10), StageWindow(START + 50, START + 100, 50)),
        "background_delay_ms": 100.0,
    }
    values.update(overrides)
    return VariantContext(**values)


def frames(**given: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {name: empty_frame(name) for name in FRAME_NAMES}
    out.update({name: coerce_frame(name, frame) for name, frame in given.items()})
    return out


def requests(t: list[float], latency: list[float] | None = None, **cols: Any) -> pd.DataFrame:
    data: dict[str, Any] = {"t": t, "endpoint": "/read", "status": 200, "kind": "",
                            "instance": "", "counter": -1}
    data["latency_ms"] = latency if latency is not None else [1.0] * len(t)
    data.update(cols)
    return pd.DataFrame(data)


def test_every_metric_is_present_in_glossary_order() -> None:
    metrics = compute_metrics(frames(), ctx())
    # but those of pgstampede limit: once per search, never per variant run
    assert list(metrics) == [m for m in METRICS if not m.startswith(LIMIT_METRICS_PREFIX)]


def test_percentiles_use_linear_interpolation_with_sub_ms_precision() -> None:
    lat = [float(x) for x in range(1, 101)]
    m = compute_metrics(frames(requests=requests([START + i * 0.5 for i in range(100)], lat)),
                        ctx())
    assert m["latency.p50_ms"] == pytest.approx(50.5)
    assert m["latency.p95_ms"] == pytest.approx(95.05)
    assert m["latency.p99_ms"] == pytest.approx(99.01)
    assert m["latency.max_ms"] == 100.0
    small = compute_metrics(frames(requests=requests([START] * 3, [0.125, 0.25, 0.5])), ctx())
    assert small["latency.p50_ms"] == 0.25
    assert small["latency.p95_ms"] == pytest.approx(0.475)


def test_http_counts_error_rate_kinds_and_rps() -> None:
    kinds = ["", "", "db_too_many_connections", "timeout", "db_too_many_connections"]
    m = compute_metrics(frames(requests=requests([START + i for i in range(5)], kind=kinds)),
                        ctx(load_end=START + 10.0))
    assert m["http.requests"] == 5
    assert m["http.failures"] == 3
    assert m["http.error_rate"] == pytest.approx(0.6)
    assert m["http.rps"] == pytest.approx(0.5)
    assert m["errors.db_too_many_connections"] == 2
    assert m["errors.timeout"] == 1
    assert m["errors.http_429"] == 0


def test_no_requests_gives_null_rates_and_latencies() -> None:
    m = compute_metrics(frames(), ctx())
    assert m["http.requests"] == 0
    assert m["http.error_rate"] is None
    assert m["latency.p50_ms"] is None
    assert m["db.connections.peak"] is None
    assert m["db.max_connections"] == 100


def _pglog(events: list[tuple[float, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"t": [e[0] for e in events], "event": [e[1] for e in events],
                         "pid": range(len(events)), "user": [e[2] for e in events],
                         "message": ""})


def test_refusals_and_connects_come_from_the_server_log_after_load_start() -> None:
    log = _pglog([
        (START - 5, "authorized", "app"), (START - 1, "refused", ""),
        (START + 1, "authorized", "app"), (START + 2, "authorized", "pgstampede_monitor"),
        (START + 14.2, "refused", ""), (START + 15, "refused", ""),
        (START + 16, "disconnected", "app"), (START + 120, "authorized", "app"),
    ])
    m = compute_metrics(frames(pglog=log), ctx())
    assert m["db.connects"] == 2
    assert m["db.refused"] == 2
    assert m["time_to_first_refusal_s"] == pytest.approx(14.2)


def test_no_refusal_means_null_time_to_first_refusal() -> None:
    m = compute_metrics(frames(pglog=_pglog([(START + 1, "authorized", "app")])), ctx())
    assert m["db.refused"] == 0
    assert m["time_to_first_refusal_s"] is None


def test_db_gauges_peak_after_the_load_and_mean_within_it() -> None:
    db = pd.DataFrame({"t": [START - 1, START, START + 50, START + 100, START + 130],
                       "total": [99, 10, 20, 30, 80], "active": 1, "idle": [0, 5, 6, 7, 70],
                       "idle_in_transaction": 0, "other": 0})
    m = compute_metrics(frames(db=db), ctx())
    assert m["db.connections.peak"] == 80
    assert m["db.connections.idle.peak"] == 70
    assert m["db.connections.mean"] == pytest.approx(20.0)
    assert m["db.connections.idle.mean"] == pytest.approx(6.0)


def _pooler(t: list[float], waiting: list[int], wait_ms: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"t": t, "database": "app", "user": "app", "cl_active": 5,
                         "cl_waiting": waiting, "sv_active": [3] * len(t), "sv_idle": 0,
                         "sv_used": 0, "sv_login": 0, "maxwait_ms": wait_ms})


def test_pooler_metrics_null_without_pooler_and_peaks_with_one() -> None:
    pool = _pooler([START + 1, START + 2], [4, 30], [12.5, 180.0])
    assert compute_metrics(frames(pooler=pool), ctx())["pooler.cl_waiting.peak"] is None
    m = compute_metrics(frames(pooler=pool), ctx(pooler="pgbouncer"))
    assert m["pooler.cl_waiting.peak"] == 30
    assert m["pooler.maxwait_ms.peak"] == 180.0
    assert m["pooler.sv_active.peak"] == 3


def test_platform_metrics_null_without_frames_and_computed_with_them() -> None:
    assert compute_metrics(frames(), ctx())["platform.instances.peak"] is None
    platform = pd.DataFrame({
        "t": [START - 1, START + 1, START + 2], "starting": [0, 1, 0], "busy": [1, 5, 2],
        "warm": [0, 0, 1], "frozen": [0, 3, 40], "zombie": [0, 0, 2], "queue": [0, 7, 0],
        "cold_starts": [1, 9, 43], "reaped": [2, 2, 5], "throttled": [0, 1, 4],
        "init_failures": 0, "background_pending": 0, "background_completed": 0,
        "background_delayed": 0, "background_lost": 0, "init_error": "",
    })
    cold = pd.DataFrame({"t": [START - 1] + [START + 1 + i / 100 for i in range(4)],
                         "instance": ["a", "b", "c", "d", "e"],
                         "duration_ms": [500.0, 10.0, 20.0, 30.0, 40.0]})
    m = compute_metrics(frames(platform=platform, cold_starts=cold), ctx(target="serverless"))
    assert m["platform.instances.peak"] == 43
    assert m["platform.frozen.peak"] == 40
    assert m["platform.zombies.peak"] == 2
    assert m["platform.queue.peak"] == 7
    assert m["platform.cold_starts"] == 4
    assert m["platform.cold_start_ms.p50"] == pytest.approx(25.0)
    assert m["platform.cold_start_ms.p95"] == pytest.approx(38.5)
    assert m["platform.reaped"] == 3
    assert m["platform.throttled"] == 4


def test_background_null_without_requests_and_classified_with_them() -> None:
    jobs = pd.DataFrame({
        "id": [1, 2, 3, 4], "instance": "i",
        "scheduled_at": [START + 1, START + 2, START + 3, START + 4],
        "due_at": [START + 1.1, np.nan, START + 3.1, START + 4.1],
        "completed_at": [START + 1.11, START + 2.15, START + 5.1, np.nan],
    })
    assert compute_metrics(frames(background=jobs), ctx())["background.completed"] is None
    reqs = requests([START + 1], endpoint="/background")
    m = compute_metrics(frames(background=jobs, requests=reqs), ctx(background_delay_ms=100))
    assert m["background.completed"] == 3
    assert m["background.lost"] == 1
    assert m["background.delayed"] == 1
    lateness = np.array([10.0, 50.0, 2000.0])
    assert m["background.delay_ms.p95"] == pytest.approx(np.quantile(lateness, 0.95), abs=0.01)
    assert 50.0 < BACKGROUND_TOLERANCE_MS < 2000.0


def test_counter_state_single_process_and_many_instances() -> None:
    n = 6
    single = requests([START + i for i in range(n)], endpoint="/counter", instance="pid-1",
                      counter=list(range(1, n + 1)))
    m = compute_metrics(frames(requests=single), ctx())
    assert m["state.instances_seen"] == 1
    assert m["state.counter_divergence"] == 0
    many = requests([START + i for i in range(n)], endpoint="/counter",
                    instance=["a", "b", "c", "a", "b", "a"], counter=[1, 1, 1, 2, 2, 3])
    m = compute_metrics(frames(requests=many), ctx())
    assert m["state.instances_seen"] == 3
    assert m["state.counter_divergence"] == 3
    no_counter = compute_metrics(frames(requests=requests([START])), ctx())
    assert no_counter["state.instances_seen"] is None


def _host(rows: list[tuple[float, str, float, float, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["t", "role", "cpu_percent", "rss_mb", "processes"])
    return frame.assign(wait_percent=0.0)


def test_host_means_peaks_and_locust_saturation() -> None:
    rows = [(START + i, "locust", 95.0 if i < 2 else 50.0, 50.0 + i, 1) for i in range(10)]
    rows += [(START + i, "postgres", 20.0, 100.0, 3) for i in range(10)]
    rows += [(START + 500, "postgres", 90.0, 400.0, 3)]
    rows += [(START + i, "pgpool", 12.0, 30.0 + i, 33) for i in range(10)]
    m = compute_metrics(frames(host=_host(rows)), ctx())
    assert m["host.cpu.locust.mean"] == pytest.approx(59.0)
    assert m["host.cpu.postgres.mean"] == pytest.approx(20.0)
    assert m["host.rss.postgres.peak_mb"] == 400.0
    assert m["host.cpu.pgbouncer.mean"] is None
    assert m["host.cpu.pgpool.mean"] == pytest.approx(12.0)  # a host role like any
    assert m["host.rss.pgpool.peak_mb"] == 39.0
    assert m["load.saturated"] is True
    one = [(START + i, "locust", 95.0 if i < 1 else 50.0, 50.0, 1) for i in range(10)]
    assert compute_metrics(frames(host=_host(one)), ctx())["load.saturated"] is False
    two = [(START + i, "locust", 150.0, 50.0, 2) for i in range(10)]
    assert compute_metrics(frames(host=_host(two)), ctx())["load.saturated"] is False
    assert compute_metrics(frames(), ctx())["load.saturated"] is None


def test_stage_metrics_restrict_everything_to_each_window() -> None:
    t = [START + i for i in range(0, 50, 5)] + [START + 50 + i * 0.5 for i in range(100)]
    kinds = [""] * 10 + ["db_too_many_connections"] * 100
    log = _pglog([(START + 10, "authorized", "app"), (START + 60.5, "refused", ""),
                  (START + 61, "refused", "")])
    stages = stage_metrics(frames(requests=requests(t, kind=kinds), pglog=log), ctx())
    assert [s.stage for s in stages] == [0, 1]
    assert (stages[0].start_s, stages[0].end_s, stages[0].users) == (0.0, 50.0, 10)
    first, second = stages[0].metrics, stages[1].metrics
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["http.requests"] == 10
    assert first["http.rps"] == pytest.approx(0.2)
    assert first["db.refused"] == 0 and first["db.connects"] == 1
    assert first["time_to_first_refusal_s"] is None
    assert second["http.requests"] == 100
    assert second["http.rps"] == pytest.approx(2.0)
    assert second["http.error_rate"] == 1.0
    assert second["db.refused"] == 2
    assert second["time_to_first_refusal_s"] == pytest.approx(60.5)


def test_stage_counter_divergence_counts_increments_within_the_stage() -> None:
    reqs = requests([START + 10, START + 20, START + 60, START + 70, START + 80],
                    endpoint="/counter", instance=["a", "a", "a", "b", "a"],
                    counter=[1, 2, 3, 1, 4])
    stages = stage_metrics(frames(requests=reqs), ctx())
    second = stages[1].metrics
    assert isinstance(second, dict)
    assert second["state.instances_seen"] == 2
    assert second["state.counter_divergence"] == 1
