"""Fault effects on synthetic request logs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.analysis.faults import fault_effect, fault_metrics
from harness.results.records import FaultEvent


def fault(kind: str, start: float, end: float) -> FaultEvent:
    return FaultEvent(kind=kind, at_s=start, duration_s=end - start, count=1, start=start,
                      end=end, detail="", ok=True)


def log(errors_between: tuple[float, float], rate: float = 100.0, duration: float = 30.0,
        endpoint: str = "read") -> pd.DataFrame:
    t = np.arange(0.0, duration, 1.0 / rate)
    failing = (t >= errors_between[0]) & (t < errors_between[1])
    return pd.DataFrame({"t": t, "endpoint": endpoint,
                         "kind": np.where(failing, "db_unavailable", "")})


def test_recovery_and_errors_are_measured_from_the_fault() -> None:
    requests = log((10.0, 14.0))
    effect = fault_effect(requests, fault("restart_postgres", 10.0, 11.0),
                          load_start=0.0, load_end=30.0)
    assert effect.errors == 400
    assert effect.recovered and effect.recovery_s == 4.0
    assert effect.reconnected is True
    assert effect.at_s == 10.0 and effect.error_rate_before == 0.0


def test_a_fault_never_recovered_from() -> None:
    requests = log((10.0, 30.0))
    effect = fault_effect(requests, fault("restart_postgres", 10.0, 10.5),
                          load_start=0.0, load_end=30.0)
    assert not effect.recovered
    assert effect.recovery_s == 20.0
    assert effect.reconnected is False
    metrics = fault_metrics([effect])
    assert metrics["faults.unrecovered"] == 1 and metrics["faults.reconnected"] is False


def test_recovery_waits_for_the_end_of_a_long_fault() -> None:
    requests = log((100.0, 100.0))  # no errors at all: a freeze only slows things down
    effect = fault_effect(requests, fault("freeze_target", 5.0, 8.0),
                          load_start=0.0, load_end=30.0)
    assert effect.recovery_s == 3.0 and effect.errors == 0


def test_baseline_errors_are_tolerated() -> None:
    requests = log((0.0, 30.0))
    requests.loc[requests.index % 10 != 0, "kind"] = ""  # 10% errors all along
    effect = fault_effect(requests, fault("terminate_backends", 10.0, 10.1),
                          load_start=0.0, load_end=30.0)
    assert abs(effect.error_rate_before - 0.1) < 0.01
    assert effect.recovered and effect.recovery_s == 0.1


def test_counter_requests_do_not_prove_reconnection() -> None:
    requests = log((10.0, 30.0))
    requests.loc[requests["t"] >= 20.0, "kind"] = ""
    requests.loc[requests["t"] >= 20.0, "endpoint"] = "counter"
    effect = fault_effect(requests, fault("restart_postgres", 10.0, 10.5),
                          load_start=0.0, load_end=30.0)
    assert effect.recovered and effect.reconnected is False


def test_no_faults_means_null_metrics() -> None:
    assert set(fault_metrics([]).values()) == {None}
