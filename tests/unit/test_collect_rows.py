"""Unit tests of the row builders of the pg_activity, pgbouncer and host collectors."""

from __future__ import annotations

import os

import pytest

from harness.collect.host import HostCollector, ProcSample, cpu_seconds, snapshot
from harness.collect.pg_activity import PgActivityCollector, db_row
from harness.collect.pgbouncer import PgBouncerCollector, pool_row, stats_row


def test_db_row_splits_states() -> None:
    groups = [
        ("idle", "app1", "app", 5),
        ("idle", "", "app", 2),
        ("active", "app1", "app", 3),
        ("idle in transaction", "app1", "app", 1),
        ("idle in transaction (aborted)", "app1", "app", 1),
        ("", "", "app", 1),  # a backend still authenticating has no state
    ]
    assert db_row(1.5, groups) == (1.5, 13, 3, 7, 2, 1)
    assert db_row(2.0, []) == (2.0, 0, 0, 0, 0, 0)


def test_empty_collectors_give_empty_frames_with_columns() -> None:
    db = PgActivityCollector("postgresql://x@127.0.0.1:1/app").frames()
    assert list(db["db"].columns) == [
        "t",
        "total",
        "active",
        "idle",
        "idle_in_transaction",
        "other",
    ]
    assert list(db["db_groups"].columns) == ["t", "state", "application_name", "usename", "count"]
    pb = PgBouncerCollector("postgresql://x@127.0.0.1:1/pgbouncer").frames()
    assert pb["pooler"].empty and "maxwait_ms" in pb["pooler"].columns
    assert pb["pooler_stats"].empty and "avg_wait_time_us" in pb["pooler_stats"].columns
    assert HostCollector({}).frames()["host"].empty


def test_pool_row_maxwait_in_ms() -> None:
    row = {
        "database": "app", "user": "app", "cl_active": 20, "cl_waiting": 30, "sv_active": 20,
        "sv_idle": 0, "sv_used": 1, "sv_login": 0, "maxwait": 1, "maxwait_us": 271_888,
        "pool_mode": "transaction", "cl_active_cancel_req": 0,
    }  # fmt: skip
    assert pool_row(9.0, row) == (9.0, "app", "app", 20, 30, 20, 0, 1, 0, pytest.approx(1271.888))


def test_stats_row_keeps_microseconds() -> None:
    row = {
        "database": "app", "total_xact_count": 10, "total_query_count": 12,
        "total_wait_time": 5_000, "avg_wait_time": 250, "total_received": 1,
    }  # fmt: skip
    assert stats_row(3.0, row) == (3.0, "app", 10, 12, 5_000, 250.0)


def proc(pid: int, ppid: int, started: float, cpu: float, children: float = 0.0) -> ProcSample:
    return ProcSample(pid, ppid, started, cpu, children, 1 << 20)


def test_cpu_of_processes_seen_twice() -> None:
    before = {p.key: p for p in [proc(1, 0, 0.0, 10.0), proc(2, 1, 1.0, 3.0)]}
    after = [proc(1, 0, 0.0, 10.5), proc(2, 1, 1.0, 3.25)]
    assert cpu_seconds(before, after, 100.0) == pytest.approx(0.75)


def test_new_process_counts_fully_old_unseen_one_only_sets_a_baseline() -> None:
    before = {p.key: p for p in [proc(1, 0, 0.0, 10.0)]}
    after = [proc(1, 0, 0.0, 10.0), proc(3, 1, 100.5, 0.2), proc(4, 0, 50.0, 99.0)]
    assert cpu_seconds(before, after, 100.0) == pytest.approx(0.2)


def test_children_reaped_between_samples_are_counted_once() -> None:
    # child 2 was seen with 0.3 s; it used 0.1 s more and was reaped by 1 along with a child
    # (5) born and reaped between the samples that used 0.4 s
    before = {p.key: p for p in [proc(1, 0, 0.0, 10.0, 1.0), proc(2, 1, 90.0, 0.3)]}
    after = [proc(1, 0, 0.0, 10.0, 1.0 + 0.4 + 0.4)]
    assert cpu_seconds(before, after, 100.0) == pytest.approx(0.1 + 0.4)


def test_a_reused_pid_is_a_new_process() -> None:
    before = {p.key: p for p in [proc(7, 0, 10.0, 5.0)]}
    after = [proc(7, 0, 100.2, 0.1)]
    assert cpu_seconds(before, after, 100.0) == pytest.approx(0.1)


def test_snapshot_of_this_process_and_a_missing_pid() -> None:
    samples = snapshot([os.getpid(), os.getpid(), 2**22 + 12345])
    mine = [s for s in samples if s.pid == os.getpid()]
    assert len(mine) == 1
    assert mine[0].rss > 0 and mine[0].cpu_s > 0


def test_run_queue_wait_is_read_for_a_live_process() -> None:
    import os

    from harness.collect.host import wait_seconds
    from harness.runtime.schedstat import run_queue_wait_s

    wait = run_queue_wait_s(os.getpid())
    assert wait is None or wait >= 0.0
    assert run_queue_wait_s(2**22 + 12345) is None
    prev = {(1, 0.0): 1.0, (2, 0.0): 5.0}
    cur = {(1, 0.0): 1.5, (2, 0.0): 5.0, (3, 0.0): 9.0}  # a new process sets a baseline
    assert wait_seconds(prev, cur) == 0.5
