"""Cold starts that travel: the CPU a cold start took beside its wall time, and a finding that
gives both when the machine was saturated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from harness.analysis.findings import _platform
from harness.analysis.metrics import StageWindow, VariantContext, compute_metrics
from harness.analysis.summary import build_summary
from harness.results.frames import FRAME_NAMES, coerce_frame, empty_frame

START = 1_700_000_000.0
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_cpu_percentiles_from_the_cold_starts_frame() -> None:
    frames = {name: empty_frame(name) for name in FRAME_NAMES}
    frames["cold_starts"] = coerce_frame("cold_starts", pd.DataFrame({
        "t": [START - 1.0, START + 1.0, START + 2.0, START + 3.0],
        "instance": ["i0", "i1", "i2", "i3"], "duration_ms": [900.0, 7000.0, 7200.0, 6800.0],
        "cpu_ms": [400.0, 480.0, float("nan"), 500.0]}))
    ctx = VariantContext(load_start=START, load_end=START + 10.0, max_connections=20,
                         pooler="none", target="serverless",
                         stages=(StageWindow(START, START + 10.0, 1),), background_delay_ms=0.0)
    m = compute_metrics(frames, ctx)
    assert m["platform.cold_start_ms.p50"] == 7000.0
    assert m["platform.cold_start_cpu_ms.p50"] == 490.0  # the unread one left out


def test_a_saturated_machine_gives_both_figures() -> None:
    m = {"platform.cold_starts": 40, "platform.cold_start_ms.p50": 7100.0,
         "platform.cold_start_ms.p95": 19_800.0, "platform.cold_start_cpu_ms.p50": 480.0,
         "platform.cold_start_cpu_ms.p95": 610.0, "host.saturated": True}
    text = _platform("serverless", m)
    assert text is not None
    assert text.startswith("serverless: 40 cold starts (p50 7.1 s wall but 480 ms of CPU: "
                           "about 480 ms on an idle core; p95 19.8 s wall, 610 ms of CPU)")
    idle = _platform("serverless", {**m, "host.saturated": False})
    assert idle == "serverless: 40 cold starts (p50 7,100 ms, p95 19,800 ms; CPU p50 480 ms)"


def test_an_older_run_folder_reads_with_the_cpu_not_measured(tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(FIXTURES / "golden-run", copy,
                    ignore=shutil.ignore_patterns("summary.json", "index.html", "charts"))
    manifest = json.loads((copy / "manifest.json").read_text())
    serverless = [v["name"] for v in manifest["variants"] if v["target"] == "serverless"]
    assert serverless
    summary = build_summary(copy)
    assert summary.status == "complete"  # the frame without cpu_ms still reads
    for name in serverless:
        variant = summary.variants[name]
        assert variant.metrics["platform.cold_start_ms.p50"] is not None
        assert variant.metrics["platform.cold_start_cpu_ms.p50"] is None
        assert "CPU was not read" in variant.nulls["platform.cold_start_cpu_ms.p50"].why
