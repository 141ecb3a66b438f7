"""Pooler refusals, state leaks and reconnect storms from frames (pure)."""

from __future__ import annotations

import pandas as pd

from harness.analysis.poolers import STORM_METRICS, pooler_metrics, refill_s, storm_metrics
from harness.collect.pg_log import parse_line
from harness.collect.pooler_log import parse_pooler_line
from harness.results.frames import empty_frame
from harness.results.records import FaultEvent

T0 = 1_800_000_000.0


def fault(kind: str = "restart_postgres", start: float = T0 + 10, end: float = T0 + 12,
          ok: bool = True) -> FaultEvent:
    return FaultEvent(kind=kind, at_s=10.0, duration_s=end - start, count=1, start=start,
                      end=end, detail="", ok=ok)


def frames(**given: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {name: empty_frame(name) for name in ("requests", "pooler_log", "pglog", "db")}
    out.update(given)
    return out


def test_pooler_refused_counts_the_poolers_own_refusals_from_the_load_start() -> None:
    log = pd.DataFrame({"t": [T0 - 1, T0 + 1, T0 + 2, T0 + 3],
                        "event": ["refused", "refused", "server_refused", "refused"],
                        "message": [""] * 4})
    names = pd.Series([], dtype="str")
    assert pooler_metrics(frames(pooler_log=log), "pgbouncer", T0, names)["pooler.refused"] == 2
    assert pooler_metrics(frames(pooler_log=log), "none", T0, names)["pooler.refused"] is None


def test_state_leaks_are_successful_read_state_answers_with_counter_1() -> None:
    requests = pd.DataFrame({
        "t": [T0] * 5, "endpoint": ["/read_state", "/read_state", "/read_state", "/set_state",
                                    "/read"],
        "latency_ms": [1.0] * 5, "status": [200, 200, 503, 200, 200],
        "kind": ["", "", "db_unavailable", "", ""], "instance": ["a"] * 5,
        "counter": [1, 0, -1, -1, -1]})
    names = requests["endpoint"].str.lstrip("/")
    m = pooler_metrics(frames(requests=requests), "pgbouncer", T0, names)
    assert m["pooler.state_leaks"] == 1
    none = pooler_metrics(frames(), "pgbouncer", T0, pd.Series([], dtype="str"))
    assert none["pooler.state_leaks"] is None  # no probe, no number


def test_storm_metrics_in_the_recovery_window() -> None:
    pglog = pd.DataFrame({
        "t": [T0 + 5, T0 + 12.1, T0 + 12.2, T0 + 12.3, T0 + 13.5, T0 + 11, T0 + 12.0, T0 + 40],
        "event": ["authorized", "authorized", "authorized", "authorized", "authorized",
                  "starting_up", "refused", "refused"],
        "pid": [1] * 8, "user": ["app"] * 8, "message": [""] * 8})
    db = pd.DataFrame({"t": [T0 + 8, T0 + 9, T0 + 12.5, T0 + 13, T0 + 14.5],
                       "total": [6, 8, 2, 5, 8], "active": [0] * 5, "idle": [0] * 5,
                       "idle_in_transaction": [0] * 5, "other": [0] * 5})
    m = storm_metrics(frames(pglog=pglog, db=db), [fault()])
    assert m == {"faults.connects_per_s.peak": 3, "faults.refused_53300": 1,
                 "faults.refused_57p03": 1, "faults.pool_refill_s.max": 2.5}


def test_storm_metrics_null_without_a_restart_and_refill_lower_bound() -> None:
    assert storm_metrics(frames(), [fault(kind="kill_instances")]) == dict.fromkeys(STORM_METRICS)
    assert storm_metrics(frames(), [fault(ok=False)]) == dict.fromkeys(STORM_METRICS)
    db = pd.DataFrame({"t": [T0 + 9, T0 + 13, T0 + 20], "total": [8, 2, 3]})
    assert refill_s(db, fault()) == 8.0  # never refilled: the rest of the recording


def test_log_lines_of_poolers_and_of_a_starting_server() -> None:
    bouncer = ("2026-11-29 09:59:34.219 UTC [6577] WARNING C-0x5644e666eec0: (nodb)/(nouser)@"
               "127.0.0.1:36746 pooler error: no more connections allowed (max_client_conn)")
    event = parse_pooler_line(bouncer)
    assert event is not None and event.event == "refused"
    login = ("2026-11-29 09:59:35.001 UTC [6577] WARNING S-0x1: app/app@127.0.0.1:5432 "
             "closing because: server login failed: FATAL sorry, too many clients already")
    assert getattr(parse_pooler_line(login), "event", None) == "server_refused"
    pgpool = "2026-11-29 09:46:03: pid 16314: FATAL:  Sorry, too many clients already"
    assert getattr(parse_pooler_line(pgpool), "event", None) == "refused"
    assert parse_pooler_line("2026-11-29 09:59:34.190 UTC [6577] LOG listening on x") is None
    starting = "2026-11-29 10:00:01.5 UTC [77] FATAL:  the database system is starting up"
    assert getattr(parse_line(starting), "event", None) == "starting_up"
