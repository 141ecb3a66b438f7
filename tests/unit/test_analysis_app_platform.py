"""Metrics of an app on the platform from the platform frame's app columns (written by
harness.collect.platform): init failures and background work counted by the gateway."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.analysis.metrics import StageWindow, VariantContext, compute_metrics, stage_metrics
from harness.results.frames import FRAME_NAMES, coerce_frame, empty_frame

START = 1_700_000_000.0
STATES = {"starting": 0, "busy": 0, "warm": 0, "frozen": 1, "zombie": 0, "queue": 0,
          "cold_starts": 1, "reaped": 0, "throttled": 0}


def context() -> VariantContext:
    return VariantContext(
        load_start=START, load_end=START + 100.0, max_connections=20, pooler="none",
        target="serverless",
        stages=(StageWindow(START, START + 50.0, 5), StageWindow(START + 50.0, START + 100.0, 5)),
        background_delay_ms=0.0,
    )


def platform(rows: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    frame = pd.DataFrame([{**STATES, "init_error": "", **row} for row in rows])
    out = {name: empty_frame(name) for name in FRAME_NAMES}
    out["platform"] = coerce_frame("platform", frame)
    out["requests"] = coerce_frame("requests", pd.DataFrame({
        "t": [START + 1.0], "endpoint": ["GET /orders"], "latency_ms": [5.0], "status": [200],
        "kind": [""], "instance": [""], "counter": [-1]}))
    return out


def row(t: float, **counts: int) -> dict[str, Any]:
    base = dict.fromkeys(("init_failures", "background_pending", "background_completed",
                          "background_delayed", "background_lost"), 0)
    return {"t": START + t, **base, **counts}


def test_an_apps_background_work_comes_from_the_platform_counts() -> None:
    frames = platform([
        row(-1.0, init_failures=1, background_completed=1),  # before the load: not counted
        row(10.0, init_failures=3, background_pending=2, background_completed=1),
        row(60.0, init_failures=3, background_pending=1, background_completed=4,
            background_delayed=2, background_lost=1),
        row(99.0, init_failures=4, background_pending=1, background_completed=5,
            background_delayed=2, background_lost=2),
    ])
    m = compute_metrics(frames, context())
    assert m["platform.init_failures"] == 3
    assert (m["background.completed"], m["background.delayed"]) == (4, 2)
    assert m["background.lost"] == 2 + 1  # reaped with it, plus still frozen at the end
    assert m["background.delay_ms.p95"] is None
    first, second = (s.metrics for s in stage_metrics(frames, context()))
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["background.lost"] == 0 and second["background.lost"] == 2  # no end pending


def test_no_background_metrics_without_app_work() -> None:
    m = compute_metrics(platform([row(10.0), row(20.0)]), context())
    assert m["background.completed"] is None and m["background.lost"] is None
    assert m["platform.init_failures"] == 0


def test_init_failures_are_a_finding_with_the_first_error() -> None:
    from types import SimpleNamespace

    from harness.analysis.findings import _init_failures

    frames = platform([row(1.0, init_failures=0),
                       {**row(2.0, init_failures=2), "init_error": "OSError: too many clients"},
                       {**row(3.0, init_failures=3), "init_error": "OSError: too many clients"}])
    runs: Any = [SimpleNamespace(frames=frames)]
    assert _init_failures("serverless", {"platform.init_failures": 3}, runs) == (
        "serverless: 3 instances failed their init (answered 502); the first error: "
        "OSError: too many clients")
    assert _init_failures("serverless", {"platform.init_failures": 0}, runs) is None


def test_app_exceptions_are_counted_from_the_load_start_for_an_app_only() -> None:
    import dataclasses

    frames = platform([row(10.0)])
    frames["app_exceptions"] = coerce_frame("app_exceptions", pd.DataFrame({
        "t": [START - 1.0, START + 2.0, START + 60.0], "instance": ["i1", "i1", "i2"],
        "type": ["KeyError"] * 3, "message": ["'user'"] * 3, "where": ["app.py:3"] * 3}))
    app = dataclasses.replace(context(), app=True)
    assert compute_metrics(frames, app)["app.exceptions"] == 2
    first, second = (s.metrics for s in stage_metrics(frames, app))
    assert first["app.exceptions"] == 1 and second["app.exceptions"] == 1
    assert compute_metrics(frames, context())["app.exceptions"] is None  # the built-in target


def test_an_app_run_folder_from_before_the_frame_reads_not_measured(tmp_path: Any) -> None:
    import json
    import shutil
    from pathlib import Path

    from harness.analysis.summary import build_summary

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "golden-run"
    copy = tmp_path / "run"
    shutil.copytree(fixture, copy, ignore=shutil.ignore_patterns("summary.json", "index.html",
                                                                 "charts"))
    manifest = json.loads((copy / "manifest.json").read_text())
    for variant in manifest["variants"]:
        variant["config"]["app"] = {"kind": "asgi", "entry": "shop.main:app"}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    for name, variant in build_summary(copy).variants.items():
        assert variant.metrics["app.exceptions"] is None, name
        reason = variant.nulls["app.exceptions"]
        assert reason.kind == "not measured"
        assert "did not record the app's exceptions" in reason.why


def test_work_after_the_response_says_what_it_includes() -> None:
    from types import SimpleNamespace

    from harness.analysis.findings import _background

    m = {"background.completed": 38, "background.lost": 2, "background.delayed": 5}
    app: Any = [SimpleNamespace(record=SimpleNamespace(config={"app": {"kind": "asgi"}}))]
    text = _background("serverless", m, app)
    assert text is not None and text.startswith(
        "serverless: of 40 units of work after the response (the app's background tasks and "
        "what its framework does once the response is sent, such as FastAPI's yield "
        "dependencies")
    assert text.endswith("2 were lost and 5 delayed")
    builtin: Any = [SimpleNamespace(record=SimpleNamespace(config={}))]
    assert _background("p", {**m, "background.lost": 0, "background.delayed": 0}, builtin) == \
        "p: all 38 units of work after the response (/background jobs) ran on time"
