"""The comparison table shared by the terminal and the HTML report."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from harness.report.table import (
    COLUMNS,
    comparison_rows,
    format_metric,
    threshold_verdict,
)
from harness.report.terminal import render_summary
from harness.results.codec import decode
from harness.results.summary import Summary


def _summary() -> Summary:
    return as_summary(_data())


def as_summary(data: dict[str, Any]) -> Summary:
    """The summary record of a summary dict that gives metrics, status, pooler only."""
    variants = {name: {"status": v["status"], "error": None, "target": "serverless",
                       "pooler": v["pooler"], "pooler_version": None, "max_connections": 100,
                       "metrics": v["metrics"],
                       "nulls": v.get("nulls", {}), "repeats": [v["metrics"]], "stages": [],
                       "faults": [], "problems": []}
                for name, v in data.get("variants", {}).items()}
    return decode(Summary, {"schema_version": 2, "scenario": "quickstart",
                            "status": data.get("status", "complete"), "variants": variants,
                            "thresholds": data.get("thresholds", []),
                            "findings": data.get("findings", []), "problems": []}, "test")


def _data() -> dict[str, Any]:
    base = {"db.max_connections": 100, "http.rps": 512.26, "latency.p50_ms": 0.42,
            "latency.p95_ms": 250.0, "latency.p99_ms": 1500.0}
    return {
        "scenario": "quickstart", "status": "complete",
        "variants": {
            "serverless": {"status": "complete", "pooler": "none", "metrics": {
                **base, "db.connections.peak": 97, "db.refused": 120,
                "http.error_rate": 0.25, "platform.cold_starts": 140,
                "platform.instances.peak": 140}},
            "serverless+pgbouncer": {"status": "complete", "pooler": "pgbouncer", "metrics": {
                **base, "db.connections.peak": 80, "db.refused": 0, "http.error_rate": 0.0,
                "pooler.maxwait_ms.peak": 180.0, "pooler.cl_waiting.peak": 12,
                "platform.cold_starts": 140, "platform.instances.peak": 140}},
            "persistent": {"status": "interrupted", "pooler": "none", "metrics": {
                **base, "db.connections.peak": 20, "db.refused": 0,
                "http.error_rate": 0.005}},
        },
        "thresholds": [{"expr": "serverless.http.error_rate == 0", "variant": "serverless",
                        "metric": "http.error_rate", "value": 0.25, "status": "fail",
                        "reason": "http.error_rate = 25.0%, expected == 0%"},
                       {"expr": "*.latency.p95_ms < 2000", "variant": "persistent",
                        "metric": "latency.p95_ms", "value": 250.0, "status": "pass",
                        "reason": "holds"}],
        "findings": ["serverless: first connection refused at 14.2 s"],
    }


def _cells(row_index: int) -> dict[str, tuple[str, str]]:
    row = comparison_rows(_summary())[row_index]
    return {c.key: (cell.text, cell.severity) for c, cell in zip(COLUMNS, row.cells, strict=True)}


def test_rows_follow_variant_order_and_status() -> None:
    rows = comparison_rows(_summary())
    assert [r.variant for r in rows] == ["serverless", "serverless+pgbouncer", "persistent"]
    assert [r.status for r in rows] == ["complete", "complete", "interrupted"]
    assert all(len(r.cells) == len(COLUMNS) for r in rows)


def test_cells_are_formatted_and_graded() -> None:
    serverless = _cells(0)
    assert serverless["connections"] == ("97 / 97 usable (100)", "bad")
    assert serverless["refused"] == ("120", "bad")
    assert serverless["error_rate"] == ("25.0%", "bad")
    assert serverless["p50"] == ("0.42", "ok")
    assert serverless["p95"] == ("250", "warn")
    assert serverless["p99"] == ("1,500", "bad")
    assert serverless["rps"] == ("512", "none")
    assert serverless["instances"] == ("140", "bad")
    assert serverless["pooler_wait"] == ("—", "none")
    pooled = _cells(1)
    assert pooled["connections"] == ("80 / 97 usable (100)", "warn")
    assert pooled["refused"] == ("0", "ok")
    assert pooled["error_rate"] == ("0%", "ok")
    assert pooled["instances"] == ("140", "none")
    assert pooled["pooler_wait"] == ("180 ms (12 queued)", "warn")
    persistent = _cells(2)
    assert persistent["connections"] == ("20 / 97 usable (100)", "ok")
    assert persistent["error_rate"] == ("0.50%", "warn")
    assert persistent["cold_starts"] == ("—", "none")


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [("http.requests", 12345, "12,345"), ("http.error_rate", 0.0123, "1.23%"),
     ("latency.p95_ms", 4.25, "4.2 ms"), ("time_to_first_refusal_s", 14.21, "14.2 s"),
     ("load.saturated", True, "yes"), ("host.rss.postgres.peak_mb", 120.04, "120.0 MiB"),
     ("host.cpu.locust.mean", 97.5, "97.5%"), ("db.refused", None, "—"),
     ("db.refused", 2.5, "2.5")],
)
def test_format_metric_by_unit(name: str, value: object, text: str) -> None:
    assert format_metric(name, value) == text


def test_threshold_verdict() -> None:
    assert threshold_verdict(_summary()) == ("FAIL: 1 of 2 thresholds failed", "bad")
    assert threshold_verdict(as_summary({})) == ("no thresholds", "none")
    held = {"expr": "a", "variant": "a", "metric": "http.rps", "value": 1.0, "status": "pass",
            "reason": ""}
    ok = as_summary({"thresholds": [held]})
    assert threshold_verdict(ok) == ("PASS: all 1 thresholds held", "ok")
    skipped = as_summary({"thresholds": [held, {**held, "status": "n/a", "value": None}]})
    assert threshold_verdict(skipped) == ("PASS: 1 held, 1 not applicable", "ok")


def test_a_cell_not_measured_says_so() -> None:
    data = _data()
    data["variants"]["serverless"]["metrics"]["db.refused"] = None
    data["variants"]["serverless"]["nulls"] = {
        "db.refused": {"kind": "not measured", "why": "pg_log failed"}}
    data["variants"]["persistent"]["metrics"]["platform.cold_starts"] = None
    data["variants"]["persistent"]["nulls"] = {
        "platform.cold_starts": {"kind": "not applicable", "why": "not serverless"}}
    rows = comparison_rows(as_summary(data))
    refused = [c.key for c in COLUMNS].index("refused")
    cold = [c.key for c in COLUMNS].index("cold_starts")
    assert (rows[0].cells[refused].text, rows[0].cells[refused].severity) == (
        "not measured", "bad")
    assert rows[2].cells[cold].text == "—"


def test_terminal_shows_the_same_cells_as_the_table() -> None:
    out = io.StringIO()
    render_summary(_summary(), Console(file=out, width=220, color_system=None))
    text = out.getvalue()
    for row in comparison_rows(_summary()):
        line = next(line for line in text.splitlines() if f" {row.variant} " in line)
        for cell in row.cells:
            assert cell.text in line
    assert "persistent (interrupted)" in text
    assert "FAIL: 1 of 2 thresholds failed" in text
    assert "serverless: first connection refused at 14.2 s" in text


def test_narrow_terminal_shows_every_cell_in_blocks() -> None:
    out = io.StringIO()
    render_summary(_summary(), Console(file=out, width=80, color_system=None))
    text = out.getvalue()
    assert "…" not in text
    blocks = text.split("\n\n")[0]
    for row in comparison_rows(_summary()):
        section = blocks.split(row.variant, 1)[1]
        for column, cell in zip(COLUMNS, row.cells, strict=True):
            assert f"{column.header}" in section and cell.text in section
