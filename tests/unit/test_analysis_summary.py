"""summary.json from a run folder: medians over repeats, stages, findings."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.analysis.findings import findings
from harness.analysis.metrics import VariantContext, compute_metrics
from harness.analysis.run import LoadedRun, VariantRun, context_of, load_run
from harness.analysis.summary import build_summary, median_metrics, median_value, summarise
from harness.errors import InputError
from harness.results.codec import encode
from harness.results.frames import FRAME_NAMES, coerce_frame, empty_frame
from harness.results.limit import LIMIT_METRICS_PREFIX
from harness.results.metrics import METRICS, glossary_markdown, repeat_rule
from harness.results.records import StageWindow
from harness.results.summary import Summary
from tests.synthetic import (
    RunShape,
    SyntheticVariant,
    bare_record,
    variant_summary,
    write_run,
)

SMALL = RunShape(requests_per_variant=3000, duration_s=30.0, repeats=3)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("run") / "r", SMALL)


@pytest.fixture(scope="module")
def loaded(run_dir: Path) -> tuple[LoadedRun, Summary]:
    """The run folder loaded and summarised once for the module (``build_summary`` is
    exactly ``summarise(load_run(...))``)."""
    run = load_run(run_dir)
    return run, summarise(run)


@pytest.fixture(scope="module")
def summary(loaded: tuple[LoadedRun, Summary]) -> dict[str, Any]:
    data: dict[str, Any] = encode(loaded[1])
    return data


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1, 2, 3], 2), ([1, 2], 1.5), ([None, None], None), ([1.0, None, 3.0], 2.0),
     ([True, False, False], True), ([False, None], False), ([4, 4], 4)],
)
def test_median_value(values: list[Any], expected: Any) -> None:
    result = median_value(values)
    assert result == expected
    assert type(result) is type(expected)


def test_yes_no_metrics_over_repeats_follow_their_rule() -> None:
    """One repeat of three reconnected: not "reconnected" (rule all); one repeat of three
    saturated: saturated (rule any). Each rule is said in the glossary."""
    repeats: list[dict[str, Any]] = [
        {"faults.reconnected": True, "load.saturated": True},
        {"faults.reconnected": False, "load.saturated": False},
        {"faults.reconnected": False, "load.saturated": False},
    ]
    merged = median_metrics(repeats)
    assert merged == {"faults.reconnected": False, "load.saturated": True}
    assert median_metrics([{"faults.reconnected": True}] * 3) == {"faults.reconnected": True}
    assert repeat_rule("faults.reconnected") == "all" and repeat_rule("load.saturated") == "any"
    for info in METRICS.values():
        assert (info.repeat_rule is not None) == (info.unit == "bool")
    assert "over repeats: all" in glossary_markdown()


def test_median_metrics_keeps_every_name() -> None:
    merged = median_metrics([{"a": 1, "b": None}, {"a": 3, "b": None, "c": 2.5}])
    assert merged == {"a": 2, "b": None, "c": 2.5}


def test_summary_follows_the_schema(summary: dict[str, Any]) -> None:
    assert summary["schema_version"] == 2
    assert summary["scenario"] == "synthetic"
    assert summary["status"] == "complete"
    assert summary["thresholds"] == []
    assert summary["problems"] == []
    assert list(summary["variants"]) == [
        "persistent", "persistent+pgbouncer", "serverless", "serverless+pgbouncer"
    ]
    variant = summary["variants"]["serverless"]
    # every metric but those of pgstampede limit (a limit run folder adds them)
    assert set(variant["metrics"]) == {m for m in METRICS if not m.startswith(LIMIT_METRICS_PREFIX)}
    assert len(variant["repeats"]) == 3
    assert [s["stage"] for s in variant["stages"]] == [0, 1, 2]
    assert [s["users"] for s in variant["stages"]] == [10, 150, 10]
    json.dumps(summary, allow_nan=False)  # valid JSON: no NaN, no numpy scalars


def test_metrics_are_the_median_of_the_repeats(summary: dict[str, Any]) -> None:
    for variant in summary["variants"].values():
        for name in ("latency.p95_ms", "db.refused", "http.rps", "pooler.maxwait_ms.peak"):
            values = [r[name] for r in variant["repeats"]]
            assert variant["metrics"][name] == median_value(values)
    persistent = summary["variants"]["persistent"]
    assert persistent["metrics"]["pooler.cl_waiting.peak"] is None
    assert persistent["metrics"]["platform.instances.peak"] is None
    serverless = summary["variants"]["serverless"]["metrics"]
    assert serverless["db.refused"] > 0
    assert serverless["time_to_first_refusal_s"] > 0


def test_stage_medians_match_the_repeats(loaded: tuple[LoadedRun, Summary]) -> None:
    run, summary = loaded
    stage1 = summary.variants["serverless"].stages[1].metrics["http.requests"]
    own = [r for r in run.runs if r.name == "serverless"]
    per_repeat = []
    for r in own:
        assert r.ctx is not None
        stage = r.ctx.stages[1]
        t = r.frames["requests"]["t"]
        per_repeat.append(int(((t >= stage.start) & (t < stage.end)).sum()))
    assert stage1 == median_value(per_repeat)


def test_findings_are_in_the_summary(summary: dict[str, Any]) -> None:
    notes = summary["findings"]
    assert any(n.startswith("serverless: first connection refused at") for n in notes)
    assert any(n.startswith("serverless+pgbouncer: no refusals") and "clients waited up to"
               in n for n in notes)


def test_missing_manifest_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="manifest.json: missing"):
        build_summary(tmp_path)


def test_failed_variant_without_load_window(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "r", RunShape(requests_per_variant=500, duration_s=10),
                        (SyntheticVariant("persistent", "persistent", "none"),
                         SyntheticVariant("broken", "persistent", "none")))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["status"] = "failed"
    broken = manifest["variants"][1]
    broken.update(status="failed", load_start=None, load_end=None, error="target: exited 1")
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    summary = encode(build_summary(run_dir))
    assert summary["status"] == "failed"
    assert summary["variants"]["broken"]["status"] == "failed"
    assert summary["variants"]["broken"]["repeats"] == []
    assert all(v is None for v in summary["variants"]["broken"]["metrics"].values())
    assert "broken: run failed (target: exited 1)" in summary["findings"]


def test_context_from_the_variant_record() -> None:
    record = bare_record("v", load_start=100.0, load_end=None, max_connections=20,
                         pooler="pgbouncer", target="serverless", background_delay_s=0.25,
                         stages=(StageWindow(100.0, 110.0, 5, 5.0),
                                 StageWindow(110.0, 123.5, 9, 1.0)))
    reqs = coerce_frame("requests", pd.DataFrame({
        "t": [101.0, 123.5], "endpoint": "/read", "latency_ms": 1.0, "status": 200,
        "kind": "", "instance": "", "counter": -1}))
    ctx = context_of(record, reqs)
    assert ctx == VariantContext(
        load_start=100.0, load_end=123.5, max_connections=20, pooler="pgbouncer",
        target="serverless", stages=(StageWindow(100.0, 110.0, 5, 5.0),
                                     StageWindow(110.0, 123.5, 9, 1.0)),
        background_delay_ms=250.0)
    assert context_of(bare_record("v"), reqs) is None


def test_findings_name_instances_alive_at_the_first_refusal() -> None:
    start = 1_000.0
    context = VariantContext(start, start + 30, 100, "none", "serverless", (), 0.0)
    frames = {n: empty_frame(n) for n in FRAME_NAMES}
    frames["pglog"] = coerce_frame("pglog", pd.DataFrame({
        "t": [start + 14.2, start + 15], "event": "refused", "pid": [1, 2], "user": "",
        "message": ""}))
    frames["platform"] = coerce_frame("platform", pd.DataFrame({
        "t": [start + 14.0, start + 14.5], "starting": 0, "busy": [7, 9], "warm": 0,
        "frozen": [90, 95], "zombie": 0, "queue": 0, "cold_starts": 0, "reaped": 0,
        "throttled": 0, "init_failures": 0, "background_pending": 0, "background_completed": 0,
        "background_delayed": 0, "background_lost": 0, "init_error": ""}))
    run = VariantRun(bare_record("serverless", target="serverless"), Path("."), frames, (),
                     context)
    pooled_frames = {n: empty_frame(n) for n in FRAME_NAMES}
    pooled_frames["pooler"] = coerce_frame("pooler", pd.DataFrame({
        "t": [start + 1], "database": "app", "user": "app", "cl_active": 1, "cl_waiting": 12,
        "sv_active": 10, "sv_idle": 0, "sv_used": 0, "sv_login": 0, "maxwait_ms": 180.0}))
    pooled_frames["db"] = coerce_frame("db", pd.DataFrame({
        "t": [start + 1], "total": 11, "active": 10, "idle": 1, "idle_in_transaction": 0,
        "other": 0}))
    pooled_frames["pglog"] = coerce_frame("pglog", pd.DataFrame({
        "t": [start + 1], "event": "authorized", "pid": 1, "user": "app", "message": ""}))
    pooled_ctx = VariantContext(start, start + 30, 100, "pgbouncer", "serverless", (), 0.0)
    pooled = VariantRun(bare_record("serverless+pgbouncer", target="serverless",
                                    pooler="pgbouncer"), Path("."), pooled_frames, (),
                        pooled_ctx)
    summary = {"serverless": variant_summary(compute_metrics(frames, context)),
               "serverless+pgbouncer": variant_summary(compute_metrics(pooled_frames,
                                                                      pooled_ctx))}
    notes = findings(summary, [run, pooled])
    assert notes[0] == ("serverless: first connection refused at 14.2 s, with 97 instances "
                        "alive; 2 connections refused, 0 requests failed for it")
    assert ("serverless+pgbouncer: no refusals, at most 11 of 100 connections used; "
            "clients waited up to 180 ms (12 queued at most)") in notes
    answered_5xx = {**summary["serverless"].metrics, "errors.http_5xx": 2}
    summary["serverless"] = dataclasses.replace(summary["serverless"], metrics=answered_5xx)
    assert findings(summary, [run, pooled])[0].endswith(  # the built-in target: its own kinds
        "2 connections refused, 0 requests failed for it")
    app_run = dataclasses.replace(run, record=dataclasses.replace(
        run.record, config={"app": {"entry": "shop:app"}}))
    assert findings(summary, [app_run, pooled])[0].endswith(
        "2 connections refused, 2 requests answered 5xx (the app's own error answers do not "
        "say which came from a refusal)")
