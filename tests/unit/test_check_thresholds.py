"""Thresholds: parsing each op, unit and wildcard, each error, and evaluation on summaries."""

from __future__ import annotations

from typing import Any

import pytest

from harness.check.thresholds import (
    Threshold,
    evaluate_thresholds,
    parse_threshold,
    thresholds_from_scenario,
    validate_thresholds,
)
from harness.check.units import format_change, format_value, parse_quantity
from harness.errors import ScenarioError


def summary(**variants: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 1, "scenario": "t", "status": "complete",
            "variants": {name: {"metrics": m} for name, m in variants.items()}}


# ---------------------------------------------------------------- parsing

@pytest.mark.parametrize(("op", "value", "expected"), [
    ("<", 1.0, True), ("<", 2.0, False),
    ("<=", 2.0, True), ("<=", 2.1, False),
    (">", 3.0, True), (">", 2.0, False),
    (">=", 2.0, True), (">=", 1.9, False),
    ("==", 2.0, True), ("==", 2.5, False),
    ("!=", 2.5, True), ("!=", 2.0, False),
])
def test_each_op(op: str, value: float, expected: bool) -> None:
    t = parse_threshold("v.db.connections.peak", f"{op} 2")
    assert t.op == op and t.limit == 2.0 and t.variant == "v"
    assert t.metric == "db.connections.peak"
    assert t.holds(value) is expected


@pytest.mark.parametrize(("key", "value", "limit"), [
    ("v.latency.p95_ms", "< 200", 200.0),
    ("v.latency.p95_ms", "< 200ms", 200.0),
    ("v.latency.p95_ms", "< 2s", 2000.0),
    ("v.latency.p95_ms", "<0.25 s", 250.0),
    ("v.time_to_first_refusal_s", "> 5", 5.0),
    ("v.time_to_first_refusal_s", "> 5s", 5.0),
    ("v.time_to_first_refusal_s", "> 500ms", 0.5),
    ("v.http.error_rate", "< 1%", 0.01),
    ("v.http.error_rate", "<= 0.5%", 0.005),
    ("v.http.error_rate", "< 0.02", 0.02),
    ("v.host.cpu.postgres.mean", "< 150%", 150.0),
    ("v.http.rps", ">= 1e3", 1000.0),
    ("v.db.refused", "== 0", 0.0),
])
def test_units_convert_to_the_metric_unit(key: str, value: str, limit: float) -> None:
    assert parse_threshold(key, value).limit == pytest.approx(limit)


def test_wildcard_and_variants_with_dots_or_plus() -> None:
    assert parse_threshold("*.http.error_rate", "== 0").variant == "*"
    t = parse_threshold("persistent+pgbouncer.http.error_rate", "== 0")
    assert (t.variant, t.metric) == ("persistent+pgbouncer", "http.error_rate")
    t = parse_threshold("v1.2.latency.p50_ms", "< 10")
    assert (t.variant, t.metric) == ("v1.2", "latency.p50_ms")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("v.latency.p95_ms", "200", "expected \"<op> <number>[unit]\""),
    ("v.latency.p95_ms", "=< 200", "expected \"<op> <number>[unit]\""),
    ("v.latency.p95_ms", "~ 200", "expected \"<op> <number>[unit]\""),
    ("v.latency.p95_ms", "< fast", "expected a number"),
    ("v.latency.p95_ms", "< 200 us", "expected a number"),
    ("v.latency.p95_ms", "< 1%", "unit '%' does not fit"),
    ("v.http.error_rate", "< 1ms", "unit 'ms' does not fit"),
    ("v.db.connections.peak", "< 2s", "unit 's' does not fit"),
    ("v.db.connections.peak", "< 20%", "unit '%' does not fit"),
    ("v.latency.p96_ms", "< 200", "metric from the glossary"),
    ("latency", "< 200", "<variant or *>.<metric>"),
    (".latency.p95_ms", "< 200", "metric from the glossary"),
    ("v.latency.p95_ms", "< nan", "expected a number"),
])
def test_each_error(key: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match="expected") as info:
        parse_threshold(key, value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_non_string_value_is_an_error() -> None:
    with pytest.raises(ValueError, match="expected a string"):
        parse_threshold("v.http.error_rate", 0)  # type: ignore[arg-type]


def test_unknown_variant_is_an_error() -> None:
    good = [parse_threshold("*.http.rps", "> 1"), parse_threshold("a.http.rps", "> 1")]
    validate_thresholds(good, ["a", "b"])
    with pytest.raises(ValueError, match="unknown variant 'c': expected \\* or one of: a, b"):
        validate_thresholds([parse_threshold("c.http.rps", "> 1")], ["a", "b"])


def test_thresholds_from_scenario_names_file_and_key() -> None:
    parsed = thresholds_from_scenario({"*.http.rps": "> 1", "a.http.error_rate": "< 1%"},
                                      ["a"], source="s.toml")
    assert [t.metric for t in parsed] == ["http.rps", "http.error_rate"]
    assert thresholds_from_scenario([["a.http.rps", "> 1"]], ["a"], source="s.toml")
    with pytest.raises(ScenarioError) as info:
        thresholds_from_scenario({"b.http.rps": "> 1"}, ["a"], source="s.toml")
    assert info.value.exit_code == 2
    assert str(info.value).startswith('s.toml: thresholds."b.http.rps": unknown variant')
    with pytest.raises(ScenarioError, match="metric from the glossary"):
        thresholds_from_scenario({"a.http.nope": "> 1"}, ["a"], source="s.toml")


# ---------------------------------------------------------------- evaluation

def test_wildcard_expands_to_every_variant_in_summary_order() -> None:
    t = parse_threshold("*.latency.p95_ms", "< 2s")
    results = evaluate_thresholds([t], summary(b={"latency.p95_ms": 2500.0},
                                               a={"latency.p95_ms": 120.0}))
    assert [(r.variant, r.value, r.ok) for r in results] == [("b", 2500.0, False),
                                                             ("a", 120.0, True)]
    assert results[0].expr == "b.latency.p95_ms < 2s"
    assert results[0].as_dict() == {"expr": "b.latency.p95_ms < 2s", "variant": "b",
                                    "metric": "latency.p95_ms", "value": 2500.0, "ok": False}
    assert "expected < 2,000 ms" in results[0].reason


def test_null_or_absent_metric_is_not_applicable_never_a_pass() -> None:
    t = parse_threshold("*.pooler.cl_waiting.peak", "< 10")
    results = evaluate_thresholds([t], summary(direct={"pooler.cl_waiting.peak": None},
                                               other={},
                                               pooled={"pooler.cl_waiting.peak": 3}))
    assert [r.ok for r in results] == [None, None, True]
    assert [r.status for r in results] == ["n/a", "n/a", "pass"]
    assert results[0].reason.startswith("not applicable")
    assert results[0].as_dict()["ok"] is None


def test_nan_is_not_applicable() -> None:
    t = parse_threshold("a.latency.p50_ms", "< 10")
    assert evaluate_thresholds([t], summary(a={"latency.p50_ms": float("nan")}))[0].ok is None


def test_named_variant_missing_from_summary_fails() -> None:
    t = parse_threshold("gone.http.rps", "> 1")
    [result] = evaluate_thresholds([t], summary(a={"http.rps": 10}))
    assert result.ok is False and result.value is None
    assert "missing from summary.json" in result.reason


def test_variant_not_run_is_not_applicable() -> None:
    t = parse_threshold("later.http.rps", "> 1")
    [result] = evaluate_thresholds([t], summary(a={"http.rps": 10}), not_run=["later"])
    assert result.ok is None and result.status == "n/a"
    assert result.reason == "not applicable: variant 'later' was not run"


def test_error_rate_percent_and_exact_zero() -> None:
    rules = [parse_threshold("a.http.error_rate", "< 1%"),
             parse_threshold("a.http.error_rate", "== 0")]
    ok = evaluate_thresholds(rules, summary(a={"http.error_rate": 0.0}))
    bad = evaluate_thresholds(rules, summary(a={"http.error_rate": 0.012}))
    assert [r.ok for r in ok] == [True, True]
    assert [r.ok for r in bad] == [False, False]
    assert "1.2%" in bad[0].reason


def test_equality_tolerates_unit_rounding() -> None:
    t = parse_threshold("a.latency.p50_ms", "== 0.1s")
    assert t.holds(100.0)


def test_bool_metric() -> None:
    t = parse_threshold("a.load.saturated", "== 0")
    assert [r.ok for r in evaluate_thresholds([t], summary(a={"load.saturated": True}))] == [
        False]
    assert isinstance(t, Threshold)


# ---------------------------------------------------------------- units

def test_parse_quantity_reports_written_unit() -> None:
    assert parse_quantity("2s", "ms") == (2000.0, "s")
    assert parse_quantity("7", "count") == (7.0, "")


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.0123, "ratio", "1.23%"), (350.0, "ms", "350 ms"), (1234.0, "count", "1,234"),
    (12.345, "1/s", "12.3/s"), (None, "ms", "n/a"), (1.0, "bool", "yes"),
    (45.5, "%", "45.5%"), (0.5, "s", "0.5 s"), (123456.7, "MiB", "123,457 MiB"),
])
def test_format_value(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_format_change() -> None:
    assert format_change(0.125) == "+12.5%"
    assert format_change(-0.03) == "-3.0%"
    assert format_change(None) == "n/a"
    assert format_change(float("inf")) == "+inf"
