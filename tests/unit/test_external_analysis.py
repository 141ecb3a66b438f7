"""Issue 8 analysis on synthetic frames: external targets and load-generator saturation.

- An external target has no server log: db.connects / db.refused are null ("not observed"),
  never 0, and the findings never claim "no refusals" for it; its own PgBouncer, watched
  through pgbouncer_admin_dsn, still gives pooler metrics.
- A non-JSON error body is classified by its HTTP status.
- load.saturated: Locust's CPU per load-generating process (a --processes master is not one).
- locust_pids matches Locust's command line exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.analysis.findings import findings
from harness.analysis.metrics import VariantContext, compute_metrics, locust_workers
from harness.analysis.run import VariantRun
from harness.load.outcome import classify
from harness.results.frames import FRAME_NAMES, coerce_frame, empty_frame
from harness.results.summary import VariantSummary
from harness.services.collectors import is_locust
from tests.synthetic import bare_record, variant_summary

START = 1_700_000_000.0


def ctx(**overrides: Any) -> VariantContext:
    values: dict[str, Any] = {
        "load_start": START, "load_end": START + 20.0, "max_connections": 20,
        "pooler": "none", "target": "external", "stages": (), "background_delay_ms": 0.0,
    }
    values.update(overrides)
    return VariantContext(**values)


def frames(**given: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {name: empty_frame(name) for name in FRAME_NAMES}
    out.update({name: coerce_frame(name, frame) for name, frame in given.items()})
    return out


def requests(kinds: list[str]) -> pd.DataFrame:
    n = len(kinds)
    return pd.DataFrame({"t": [START + i * 0.1 for i in range(n)], "endpoint": "GET /items",
                         "latency_ms": 5.0, "status": [200 if not k else 503 for k in kinds],
                         "kind": kinds, "instance": "", "counter": -1})


def db(totals: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"t": [START + i for i in range(len(totals))], "total": totals,
                         "active": 0, "idle": totals, "idle_in_transaction": 0, "other": 0})


def pglog(events: list[tuple[float, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"t": [e[0] for e in events], "event": [e[1] for e in events],
                         "pid": 1, "user": [e[2] for e in events], "message": ""})


def host(cpu: list[float], processes: int) -> pd.DataFrame:
    return pd.DataFrame({"t": [START + i for i in range(len(cpu))], "role": "locust",
                         "cpu_percent": cpu, "rss_mb": 50.0, "processes": processes,
                         "wait_percent": 0.0})


def external_frames() -> dict[str, pd.DataFrame]:
    return frames(requests=requests(["", "", "http_5xx", ""]), db=db([0, 5, 17, 16]))


# ------------------------------------------------------------------ external targets


def test_external_target_refusals_and_connects_are_not_observed_not_zero() -> None:
    m = compute_metrics(external_frames(), ctx())
    assert m["db.refused"] is None
    assert m["db.connects"] is None
    assert m["time_to_first_refusal_s"] is None
    assert m["db.connections.peak"] == 17
    assert m["db.max_connections"] == 20
    assert m["errors.http_5xx"] == 1 and m["http.failures"] == 1


def test_a_managed_database_with_a_server_log_still_counts_zero_refusals() -> None:
    log = pglog([(START + 1, "authorized", "app"), (START + 2, "authorized", "app")])
    m = compute_metrics(frames(db=db([1, 2]), pglog=log), ctx(target="persistent"))
    assert m["db.refused"] == 0
    assert m["db.connects"] == 2


def test_external_pgbouncer_watched_through_its_admin_dsn_gives_pooler_metrics() -> None:
    pool = pd.DataFrame({"t": [START + 1, START + 2], "database": "app", "user": "app",
                         "cl_active": 3, "cl_waiting": [2, 7], "sv_active": 3, "sv_idle": 0,
                         "sv_used": 0, "sv_login": 0, "maxwait_ms": [1.5, 40.0]})
    m = compute_metrics(frames(pooler=pool), ctx())
    assert m["pooler.cl_waiting.peak"] == 7
    assert m["pooler.maxwait_ms.peak"] == 40.0
    assert compute_metrics(frames(), ctx())["pooler.cl_waiting.peak"] is None


def _summary(metrics: dict[str, Any]) -> dict[str, VariantSummary]:
    return {"mine": variant_summary(metrics)}


def _run(data: dict[str, pd.DataFrame], context: VariantContext) -> VariantRun:
    record = bare_record("mine", target=context.target,
                         observes_server_log=context.target != "external")
    return VariantRun(record=record, directory=Path("."), frames=data, problems=(), ctx=context)


def test_findings_never_claim_no_refusals_for_an_unobserved_server_log() -> None:
    data = external_frames()
    m = compute_metrics(data, ctx())
    text = findings(_summary(m), [_run(data, ctx())])
    joined = " ".join(text)
    assert "no refusals" not in joined
    assert "mine: at most 17 of 20 connections used; refusals not observed" in joined
    assert "mostly http_5xx" in joined


def test_findings_still_say_no_refusals_when_the_server_log_showed_none() -> None:
    data = frames(db=db([3]), pglog=pglog([(START + 1, "authorized", "app")]))
    context = ctx(target="persistent")
    text = findings(_summary(compute_metrics(data, context)), [_run(data, context)])
    assert "mine: no refusals, at most 3 of 20 connections used" in text


@pytest.mark.parametrize(("status", "body", "kind"), [
    (503, b"database error: sorry, too many clients already\n", "http_5xx"),
    (500, b"<html><body>Internal Server Error</body></html>", "http_5xx"),
    (502, b"", "http_5xx"),
    (503, b'{"detail": "database unavailable"}', "http_5xx"),  # JSON, but not the harness's
    (429, b"slow down", "http_429"),
    (404, b"Not Found", "http_4xx"),
    (201, b'{"id": 7}', ""),
    (200, b"plain ok", ""),
])
def test_an_external_apps_error_is_classified_by_its_status(status: int, body: bytes,
                                                            kind: str) -> None:
    assert classify(status, body, None).kind == kind


def test_the_harness_error_body_still_wins_over_the_status() -> None:
    body = b'{"error": {"kind": "db_too_many_connections", "sqlstate": "53300"}}'
    assert classify(503, body, None).kind == "db_too_many_connections"


# ------------------------------------------------------------------ saturation


def test_locust_workers_leave_the_master_out() -> None:
    counts = pd.Series([1, 2, 3, 5, 0])
    assert locust_workers(counts).tolist() == [1, 2, 2, 4, 1]


def test_one_saturated_locust_process_is_flagged() -> None:
    m = compute_metrics(frames(host=host([95.0] * 3 + [50.0] * 7, 1)), ctx())
    assert m["load.saturated"] is True
    m = compute_metrics(frames(host=host([95.0] * 1 + [50.0] * 9, 1)), ctx())
    assert m["load.saturated"] is False  # 10% of the samples is not more than 10%


def test_two_saturated_workers_under_a_master_are_flagged() -> None:
    # --processes 2: master + 2 workers = 3 processes; both workers at ~97%, master at 6%.
    m = compute_metrics(frames(host=host([200.0] * 10, 3)), ctx())
    assert m["load.saturated"] is True
    m = compute_metrics(frames(host=host([120.0] * 10, 3)), ctx())
    assert m["load.saturated"] is False


def test_samples_without_a_locust_process_do_not_dilute_the_share() -> None:
    rows = pd.concat([host([0.0] * 18, 0), host([96.0] * 2, 1)], ignore_index=True)
    rows["t"] = [START + i for i in range(len(rows))]
    assert compute_metrics(frames(host=rows), ctx())["load.saturated"] is True


def test_no_locust_samples_means_saturation_unknown() -> None:
    assert compute_metrics(frames(), ctx())["load.saturated"] is None


@pytest.mark.parametrize(("cmdline", "expected"), [
    (["/venv/bin/python", "-m", "locust", "-f", "/x/locustfile.py", "--headless"], True),
    (["/venv/bin/python", "/venv/bin/locust", "-f", "x.py"], True),
    (["/usr/local/bin/locust", "--worker"], True),
    (["postgres", "-D", "/tmp/locust-runs/pgdata", "-p", "5432"], False),
    (["/venv/bin/python", "-m", "uvicorn", "targets.persistent.app:app", "--log",
      "/runs/locust/target.log"], False),
    (["/venv/bin/python", "-m", "harness.platform.gateway", "--workdir", "/tmp/locust"], False),
    ([], False),
])
def test_locust_is_recognised_by_its_command_not_by_a_path(cmdline: list[str],
                                                          expected: bool) -> None:
    assert is_locust(cmdline) is expected
