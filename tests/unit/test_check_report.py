"""Check outputs: JUnit XML (parsed with xml.etree), Markdown, JSON and the text table."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.check.baseline import compare
from harness.check.baseline_file import make_baseline
from harness.check.outcome import CheckOutcome
from harness.check.report import (
    headline,
    json_report,
    junit_xml,
    markdown_report,
    notable,
    print_report,
)
from harness.check.thresholds import evaluate_thresholds
from harness.results.check_spec import parse_threshold
from harness.results.codec import decode
from harness.results.summary import Summary


def text_report(outcome: CheckOutcome, *, verbose: bool = False, width: int = 120) -> str:
    """The text report as a plain string (no colour)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    print_report(outcome, console, verbose=verbose)
    return buffer.getvalue()


NO_POOLER = {"kind": "not applicable", "why": "the variant has no pooler"}


def record(data: dict[str, Any]) -> Summary:
    """The summary record of a summary dict of metrics only (nulls not applicable)."""
    variants = {name: {"status": "complete", "error": None, "target": "persistent",
                       "pooler": "none", "pooler_version": None, "max_connections": 100,
                       "stages": [], "faults": [],
                       "problems": [], "repeats": v.get("repeats", [v["metrics"]]),
                       "metrics": v["metrics"],
                       "nulls": {m: NO_POOLER for m, x in v["metrics"].items() if x is None}}
                for name, v in data["variants"].items()}
    return decode(Summary, {"schema_version": 2, "scenario": "ci", "status": "complete",
                            "variants": variants, "thresholds": [], "findings": [],
                            "problems": []}, "test")


def summary(metrics: dict[str, dict[str, list[float | None]]]) -> dict[str, Any]:
    variants = {}
    for name, values in metrics.items():
        n = max(len(v) for v in values.values())
        repeats = [{m: v[i] for m, v in values.items()} for i in range(n)]
        medians = {m: (sorted(x for x in v if x is not None)[len(v) // 2]
                       if all(x is not None for x in v) else None) for m, v in values.items()}
        variants[name] = {"metrics": medians, "repeats": repeats}
    return {"schema_version": 1, "scenario": "ci", "status": "complete", "variants": variants}


BASE = summary({
    "direct": {"latency.p95_ms": [20.0, 21.0, 19.0], "db.connects": [10.0, 10.0, 10.0],
               "http.error_rate": [0.0, 0.0, 0.0], "pooler.cl_waiting.peak": [None] * 3},
    "pooled": {"latency.p95_ms": [30.0, 31.0, 29.0], "db.connects": [20.0, 20.0, 20.0],
               "http.error_rate": [0.0, 0.0, 0.0], "pooler.cl_waiting.peak": [1.0, 1.0, 1.0]},
})
CURRENT = summary({
    "direct": {"latency.p95_ms": [80.0, 85.0, 90.0], "db.connects": [10.0, 10.0, 10.0],
               "http.error_rate": [0.02, 0.03, 0.02], "pooler.cl_waiting.peak": [None] * 3},
    "pooled": {"latency.p95_ms": [30.0, 30.0, 31.0], "db.connects": [20.0, 20.0, 20.0],
               "http.error_rate": [0.0, 0.0, 0.0], "pooler.cl_waiting.peak": [1.0, 1.0, 1.0]},
})
RULES = [parse_threshold("*.http.error_rate", "< 1%"),
         parse_threshold("*.pooler.cl_waiting.peak", "< 5"),
         parse_threshold("pooled.latency.p95_ms", "< 2s")]


def outcome(with_baseline: bool = True, current: dict[str, Any] = CURRENT) -> CheckOutcome:
    results = tuple(evaluate_thresholds(RULES, record(current)))
    if not with_baseline:
        return CheckOutcome(run_dir=Path("runs/r1"), scenario="ci", thresholds=results)
    comparisons = tuple(compare(make_baseline(record(BASE),
                                              created="2024-05-01T00:00:00+00:00"),
                                record(current)))
    return CheckOutcome(run_dir=Path("runs/r1"), scenario="ci", thresholds=results,
                        comparisons=comparisons, baseline_path=Path("reports/baselines/ci.json"),
                        baseline_created="2024-05-01T00:00:00+00:00", alpha=0.05)


def test_outcome_verdict() -> None:
    o = outcome()
    assert o.exit_code == 1 and not o.passed
    assert o.threshold_counts() == {"pass": 3, "fail": 1, "n/a": 1}
    assert [r.variant for r in o.regressions] == ["direct", "direct"]
    assert headline(o) == "FAIL: 1 threshold(s) failed, 2 regression(s)"
    good = outcome(current=BASE)
    assert good.exit_code == 0 and headline(good) == "PASS"


def test_junit_counts_names_failures_and_skips() -> None:
    root = ET.fromstring(junit_xml(outcome()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped"), root.get("errors")) \
        == ("13", "3", "2", "0")
    thresholds, baseline = root.findall("testsuite")
    assert thresholds.get("name") == "pgstampede.ci.thresholds"
    assert (thresholds.get("tests"), thresholds.get("failures"), thresholds.get("skipped")) == \
        ("5", "1", "1")
    names = [case.get("name") for case in thresholds.iter("testcase")]
    assert names == ["direct.http.error_rate < 1%", "pooled.http.error_rate < 1%",
                     "direct.pooler.cl_waiting.peak < 5", "pooled.pooler.cl_waiting.peak < 5",
                     "pooled.latency.p95_ms < 2s"]
    [failed] = [c for c in thresholds.iter("testcase") if c.find("failure") is not None]
    failure = failed.find("failure")
    assert failure is not None and failure.get("type") == "threshold"
    assert "expected < 1.00%" in (failure.get("message") or "")
    [skipped] = [c for c in thresholds.iter("testcase") if c.find("skipped") is not None]
    assert skipped.get("name") == "direct.pooler.cl_waiting.peak < 5"

    assert baseline.get("name") == "pgstampede.ci.baseline"
    assert (baseline.get("tests"), baseline.get("failures"), baseline.get("skipped")) == \
        ("8", "2", "1")
    failed_cases = {(c.get("classname"), c.get("name")) for c in baseline.iter("testcase")
                    if c.find("failure") is not None}
    assert failed_cases == {("pgstampede.ci.baseline.direct", "latency.p95_ms"),
                            ("pgstampede.ci.baseline.direct", "http.error_rate")}
    message = next(c.find("failure") for c in baseline.iter("testcase")
                   if c.get("name") == "latency.p95_ms" and c.find("failure") is not None)
    assert message is not None and "regressed" in (message.text or "")
    assert "baseline 20 ms, current 85 ms" in (message.text or "")


def test_junit_without_baseline_has_one_suite() -> None:
    root = ET.fromstring(junit_xml(outcome(with_baseline=False)))
    assert [s.get("name") for s in root.findall("testsuite")] == ["pgstampede.ci.thresholds"]
    assert root.get("tests") == "5"


def test_markdown_has_verdict_tables_and_details() -> None:
    text = markdown_report(outcome())
    assert text.startswith("## ❌ pgstampede check `ci`: FAIL: 1 threshold(s) failed, "
                           "2 regression(s)\n")
    assert "| ❌ fail | `direct.http.error_rate < 1%` | 2.00% |" in text
    assert "| ➖ n/a | `direct.pooler.cl_waiting.peak < 5` | — |" in text
    assert "| direct | `latency.p95_ms` | 20 ms | 85 ms | +325.0% | ❌ regressed |" in text
    assert "<details><summary>All comparisons</summary>" in text
    assert "8 comparisons: 2 regressed, 5 unchanged, 1 skipped." in text
    notable_rows = text.split("<details>")[0]
    assert "`db.connects`" not in notable_rows  # unchanged rows only in the details
    passing = markdown_report(outcome(current=BASE))
    assert passing.startswith("## ✅ pgstampede check `ci`: PASS")
    assert "No metric changed beyond its minimum change." in passing


def test_markdown_escapes_pipes_in_cells() -> None:
    o = outcome()
    odd = CheckOutcome(run_dir=o.run_dir, scenario="ci",
                       thresholds=tuple(evaluate_thresholds(
                           [parse_threshold("a|b.http.rps", "> 1")],
                           record({"variants": {"a|b": {"metrics": {"http.rps": 0.5}}}}))))
    assert "`a\\|b.http.rps > 1`" in markdown_report(odd)


def test_json_report_round_trips() -> None:
    data = json.loads(json_report(outcome()))
    assert data["passed"] is False and data["exit_code"] == 1 and data["scenario"] == "ci"
    assert data["threshold_counts"] == {"pass": 3, "fail": 1, "n/a": 1}
    first = data["thresholds"][0]
    assert set(first) == {"expr", "variant", "metric", "value", "status", "reason"}
    assert data["baseline"]["path"] == "reports/baselines/ci.json"
    assert data["baseline"]["counts"]["regressed"] == 2
    verdicts = {(c["variant"], c["metric"]): c["verdict"]
                for c in data["baseline"]["comparisons"]}
    assert verdicts[("direct", "latency.p95_ms")] == "regressed"
    assert verdicts[("direct", "pooler.cl_waiting.peak")] == "skipped"
    assert json.loads(json_report(outcome(with_baseline=False)))["baseline"] is None


def test_text_report_shows_notable_rows_unless_verbose() -> None:
    o = outcome()
    text = text_report(o, width=200)
    assert "Thresholds" in text and "Baseline reports/baselines/ci.json" in text
    assert "regressed" in text and "FAIL: 1 threshold(s) failed, 2 regression(s) (exit 1)" in text
    assert "6 unchanged or not applicable not shown" in text
    assert "db.connects" not in text
    assert "db.connects" in text_report(o, verbose=True, width=200)
    assert len(notable(o.comparisons)) == 2
    assert "PASS (exit 0)" in text_report(outcome(current=BASE), width=200)


def test_text_report_does_not_interpret_markup_in_paths() -> None:
    o = outcome()
    odd = CheckOutcome(run_dir=Path("runs/[bold]x"), scenario="ci", thresholds=o.thresholds,
                       comparisons=o.comparisons, baseline_path=Path("b/[red]ci.json"))
    text = text_report(odd, width=200)
    assert "runs/[bold]x" in text and "b/[red]ci.json" in text
