"""Unit tests of host saturation and the harness's CPU share, on host frames as recorded.

The frames below are rows the host collector wrote on this kind of machine (2 vCPU): with a
CPU hog on each core (machine 200% busy, tasks waiting ~90% of the time), and on a quiet
machine (a run using ~60% of one core, no waiting).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from harness.analysis.host_saturation import (
    cpu_share,
    cpu_takers,
    host_metrics,
    saturated_samples,
    saturation,
    saturation_finding,
    with_queueing_note,
)
from harness.collect.machine import MachineReading, machine_use, read_machine

NAN = math.nan
COLUMNS = ["t", "role", "cpu_percent", "rss_mb", "processes", "wait_percent"]


def frame(rows: list[tuple[float, str, float, float, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def hogged(samples: int = 10) -> pd.DataFrame:
    rows = []
    for i in range(samples):
        t = 100.0 + i * 0.5
        rows += [(t, "machine", 200.0, 1214.0, 2, 88.0 + i % 3),
                 (t, "postgres", 20.0, 80.0, 6, NAN), (t, "target", 15.0, 40.0, 1, NAN),
                 (t, "locust", 25.0, 60.0, 1, 3.0), (t, "harness", 5.0, 110.0, 1, NAN),
                 (t, "other:pgs-hog", 95.0, 9.0, 2, NAN), (t, "other:python3", 30.0, 90.0, 4, NAN)]
    return frame(rows)


def quiet(samples: int = 10) -> pd.DataFrame:
    rows = []
    for i in range(samples):
        t = 100.0 + i * 0.5
        rows += [(t, "machine", 62.0 + i, 900.0, 2, 2.0), (t, "postgres", 20.0, 80.0, 6, NAN),
                 (t, "target", 15.0, 40.0, 1, NAN), (t, "locust", 20.0, 60.0, 1, 0.5),
                 (t, "harness", 4.0, 110.0, 1, NAN)]
    return frame(rows)


def test_a_hogged_machine_is_saturated_and_a_quiet_one_is_not() -> None:
    assert saturation(hogged()) == (True, 1.0)
    assert saturation(quiet()) == (False, 0.0)


def test_either_busy_cores_or_waiting_tasks_saturate_a_sample() -> None:
    machine = frame([(1.0, "machine", 185.0, 1.0, 2, 10.0),   # 92.5% per core
                     (2.0, "machine", 170.0, 1.0, 2, 10.0),   # 85% per core, little wait
                     (3.0, "machine", 120.0, 1.0, 2, 75.0),   # cores free but tasks waited
                     (4.0, "machine", 170.0, 1.0, 2, NAN),    # wait unknown: not saturated
                     (5.0, "machine", 350.0, 1.0, 4, 0.0)])   # 87.5% of 4 cores
    assert saturated_samples(machine).tolist() == [True, False, True, False, False]


def test_saturated_means_more_than_a_tenth_of_the_window() -> None:
    rows = quiet(20)
    one = rows.index[(rows["role"] == "machine")][:2]  # 2 of 20 samples: exactly 10%
    rows.loc[one, "cpu_percent"] = 199.0
    assert saturation(rows) == (False, 0.1)
    rows.loc[rows.index[(rows["role"] == "machine")][2], "cpu_percent"] = 199.0
    assert saturation(rows) == (True, 0.15)


def test_no_machine_rows_is_not_measured() -> None:
    rows = quiet()
    assert host_metrics(rows[rows["role"] != "machine"])["host.saturated"] is None


def test_cpu_share_of_the_harness() -> None:
    # harness roles: locust 20 + harness 4 = 24; system under test: postgres 20 + target 15
    assert cpu_share(quiet()) == pytest.approx(round(24 / 59, 3))
    serverless = frame([(1.0, "gateway", 30.0, 1, 2, NAN), (1.0, "instances", 50.0, 1, 9, NAN),
                        (1.0, "postgres", 60.0, 1, 9, NAN), (1.0, "locust", 29.0, 1, 1, NAN),
                        (1.0, "harness", 1.0, 1, 1, NAN), (1.0, "machine", 190.0, 1, 2, 1.0),
                        (1.0, "other:stress", 20.0, 1, 1, NAN)])
    assert cpu_share(serverless) == pytest.approx(0.353)  # 60 / 170: machine, others apart


def test_cpu_share_is_null_without_a_system_under_test() -> None:
    external = frame([(1.0, "locust", 30.0, 1, 1, NAN), (1.0, "harness", 2.0, 1, 1, NAN)])
    assert cpu_share(external) is None


def test_the_finding_names_who_took_the_cpu() -> None:
    rows = hogged()
    metrics = host_metrics(rows)
    assert metrics["host.saturated"] is True
    ours, others = cpu_takers(rows)
    assert [who for who, _ in ours] == ["locust", "postgres"]
    assert [who for who, _ in others] == ["pgs-hog", "python3"]
    text = saturation_finding("serverless", metrics, rows)
    assert text is not None
    assert text.startswith("serverless: this machine's CPU was saturated during 100% of")
    assert "the CPU went to this run's locust 25%, postgres 20% and to other processes of " \
           "this machine (not this run's): pgs-hog 95%, python3 30% (100% = one core)" in text
    assert "include queueing on this machine" in text
    assert saturation_finding("quiet", host_metrics(quiet()), quiet()) is None


def test_a_role_missing_from_some_samples_counts_as_zero_there() -> None:
    rows = quiet(4)
    rows = pd.concat([rows, frame([(100.0, "other:cc1", 80.0, 1.0, 1, NAN)])])
    assert dict(cpu_takers(rows)[1])["cc1"] == pytest.approx(20.0)


def test_queueing_note_only_for_a_saturated_variant() -> None:
    assert with_queueing_note("a: p95 9 ms", True).endswith("its CPU was saturated)")
    assert with_queueing_note("a: p95 9 ms", False) == "a: p95 9 ms"


def fake_proc(folder: Path, busy: int, idle: int, pressure_us: int | None,
              schedstat_ns: tuple[int, ...] = ()) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "stat").write_text(
        f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\n"
        "cpu1 1 0 0 1 0 0 0 0 0 0\nintr 1 2 3\n")
    (folder / "meminfo").write_text("MemTotal: 2048 kB\nMemFree: 100 kB\nMemAvailable: 1024 kB\n")
    if pressure_us is not None:
        (folder / "pressure").mkdir(exist_ok=True)
        (folder / "pressure" / "cpu").write_text(
            f"some avg10=1.00 avg60=1.00 avg300=1.00 total={pressure_us}\n"
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    if schedstat_ns:
        (folder / "schedstat").write_text("version 15\ntimestamp 1\n" + "".join(
            f"cpu{i} 0 0 0 0 0 0 5 {ns} 9\ndomain0 3 1 2 3\n" for i, ns in enumerate(schedstat_ns)))
    return folder


def test_machine_use_from_proc_stat_and_pressure(tmp_path: Path) -> None:
    before = read_machine(10.0, fake_proc(tmp_path / "a", 1000, 1000, 5_000_000))
    after = read_machine(12.0, fake_proc(tmp_path / "b", 1300, 1100, 6_500_000))
    assert before is not None and after is not None
    use = machine_use(before, after)
    assert use is not None
    assert use.cores == 2
    assert use.cpu_percent == pytest.approx(150.0)  # 300 of 400 ticks busy, 2 cores
    assert use.wait_percent == pytest.approx(75.0)  # 1.5 s of pressure in 2 s
    assert use.used_mib == pytest.approx(1.0)


def test_machine_wait_from_schedstat_without_pressure(tmp_path: Path) -> None:
    before = read_machine(1.0, fake_proc(tmp_path / "a", 10, 10, None, (0, 0)))
    after = read_machine(2.0, fake_proc(tmp_path / "b", 20, 20, None, (400_000_000, 600_000_000)))
    assert before is not None and after is not None
    use = machine_use(before, after)
    assert use is not None and use.wait_percent == pytest.approx(100.0)


def test_machine_without_wait_counters_or_time(tmp_path: Path) -> None:
    reading = read_machine(1.0, fake_proc(tmp_path / "a", 10, 10, None))
    assert reading is not None and reading.wait_s is None
    later = MachineReading(2.0, 20, 40, 2, None, 1.0)
    use = machine_use(reading, later)
    assert use is not None and math.isnan(use.wait_percent)
    assert machine_use(later, later) is None
    assert read_machine(1.0, tmp_path / "missing") is None
