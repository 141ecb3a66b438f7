"""Thresholds: parsing each op, unit and wildcard, each error, and evaluation on summaries."""

from __future__ import annotations

import pytest

from harness.check.thresholds import evaluate_thresholds
from harness.errors import ScenarioError
from harness.results.check_spec import (
    CheckSpecError,
    Threshold,
    parse_check,
    parse_threshold,
    parse_thresholds,
)
from harness.results.summary import Metrics, NullReason, Summary, VariantSummary
from harness.scenario.loader import parse_scenario
from harness.units import format_change, format_value, parse_quantity


def variant(metrics: Metrics, nulls: dict[str, NullReason] | None = None) -> VariantSummary:
    return VariantSummary(status="complete", error=None, target="persistent", pooler="none",
                          max_connections=100, metrics=metrics, nulls=nulls or {},
                          repeats=(metrics,), stages=(), faults=(), problems=())


def summary(**variants: Metrics | VariantSummary) -> Summary:
    return Summary(schema_version=2, scenario="t", status="complete",
                   variants={name: v if isinstance(v, VariantSummary) else variant(v)
                             for name, v in variants.items()},
                   thresholds=(), findings=(), problems=())


NOT_MEASURED = NullReason("not measured", "pg_log: the server log was not read to its end")
NO_POOLER = NullReason("not applicable", "the variant has no pooler")


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
    ("v.latency.p95_ms", "200", "expected \"<op> <number>[unit] [if measured]\""),
    ("v.latency.p95_ms", "=< 200", "expected \"<op> <number>[unit] [if measured]\""),
    ("v.latency.p95_ms", "~ 200", "expected \"<op> <number>[unit] [if measured]\""),
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
        parse_threshold("v.http.error_rate", 0)


def test_unknown_variant_is_an_error() -> None:
    assert len(parse_thresholds({"*.http.rps": "> 1", "a.http.rps": "> 1"}, ["a", "b"])) == 2
    with pytest.raises(CheckSpecError, match="unknown variant 'c': expected \\* or one of: a, b"
                       ) as info:
        parse_thresholds({"c.http.rps": "> 1"}, ["a", "b"])
    assert info.value.key == 'thresholds."c.http.rps"'


def test_check_section_is_parsed_once_with_defaults_and_errors() -> None:
    spec = parse_check({}, {}, ["a"])
    assert (spec.alpha, spec.min_coverage, spec.min_change, spec.min_abs) == (0.05, 0.9, {}, {})
    spec = parse_check({}, {"min_coverage": 0.5, "min_change": {"*": "20%"},
                            "min_abs": {"latency.p95_ms": "5ms"}, "alpha": 0.01}, ["a"])
    assert (spec.min_coverage, spec.min_change, spec.min_abs, spec.alpha) == (
        0.5, {"*": 0.2}, {"latency.p95_ms": 5.0}, 0.01)
    for bad, key in (({"min_coverage": 2}, "check.min_coverage"), ({"alpha": 1}, "check.alpha"),
                     ({"nope": 1}, "check.nope"),
                     ({"min_change": {"x.y": "1%"}}, 'check.min_change."x.y"')):
        with pytest.raises(CheckSpecError) as info:
            parse_check({}, bad, ["a"])
        assert info.value.key == key


def test_the_scenario_loader_names_file_and_key() -> None:
    data = {"load": {"stages": [{"duration": "1s", "users": 1}]},
            "variants": [{"name": "a"}], "thresholds": {"b.http.rps": "> 1"}}
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, "s.toml")
    assert info.value.exit_code == 2
    assert str(info.value).startswith('s.toml: thresholds."b.http.rps": unknown variant')
    data["thresholds"] = {"a.http.rps": "> 1 if measured"}
    assert parse_scenario(data, "s.toml").check.thresholds[0].if_measured


# ---------------------------------------------------------------- evaluation

def test_wildcard_expands_to_every_variant_in_summary_order() -> None:
    t = parse_threshold("*.latency.p95_ms", "< 2s")
    results = evaluate_thresholds([t], summary(b={"latency.p95_ms": 2500.0},
                                               a={"latency.p95_ms": 120.0}))
    assert [(r.variant, r.value, r.ok) for r in results] == [("b", 2500.0, False),
                                                             ("a", 120.0, True)]
    assert results[0].expr == "b.latency.p95_ms < 2s"
    record = results[0].record()
    assert (record.expr, record.status, record.value) == ("b.latency.p95_ms < 2s", "fail", 2500.0)
    assert "expected < 2,000 ms" in results[0].reason


def test_a_metric_not_measured_fails_and_not_applicable_is_na() -> None:
    t = parse_threshold("*.pooler.cl_waiting.peak", "< 10")
    results = evaluate_thresholds([t], summary(
        direct=variant({"pooler.cl_waiting.peak": None}, {"pooler.cl_waiting.peak": NO_POOLER}),
        broken=variant({"pooler.cl_waiting.peak": None},
                       {"pooler.cl_waiting.peak": NOT_MEASURED}),
        unknown={},
        pooled={"pooler.cl_waiting.peak": 3}))
    assert [r.status for r in results] == ["n/a", "fail", "fail", "pass"]
    assert results[0].reason == "not applicable: the variant has no pooler"
    assert results[1].reason.startswith("not measured: pg_log: the server log was not read")
    assert results[2].reason.startswith("not measured")


def test_if_measured_opts_out_of_failing_on_a_metric_not_measured() -> None:
    t = parse_threshold("a.db.refused", "== 0 if measured")
    assert t.if_measured and t.expr_for("a") == "a.db.refused == 0 if measured"
    [result] = evaluate_thresholds([t], summary(a=variant({"db.refused": None},
                                                          {"db.refused": NOT_MEASURED})))
    assert result.status == "n/a" and "allowed" in result.reason
    [measured] = evaluate_thresholds([t], summary(a={"db.refused": 2}))
    assert measured.status == "fail"


def test_nan_is_not_measured() -> None:
    t = parse_threshold("a.latency.p50_ms", "< 10")
    assert evaluate_thresholds([t], summary(a={"latency.p50_ms": float("nan")}))[0].ok is False


def test_named_variant_missing_from_summary_fails() -> None:
    t = parse_threshold("gone.http.rps", "> 1")
    [result] = evaluate_thresholds([t], summary(a={"http.rps": 10}))
    assert result.ok is False and result.value is None
    assert "has no results" in result.reason


def test_variant_left_out_of_the_run_is_not_applicable() -> None:
    t = parse_threshold("later.http.rps", "> 1")
    [result] = evaluate_thresholds([t], summary(a={"http.rps": 10}), not_selected=["later"])
    assert result.ok is None and result.status == "n/a"
    assert result.reason.startswith("not applicable: variant 'later' was not run")


def test_error_rate_percent_and_exact_zero() -> None:
    rules = [parse_threshold("a.http.error_rate", "< 1%"),
             parse_threshold("a.http.error_rate", "== 0")]
    ok = evaluate_thresholds(rules, summary(a={"http.error_rate": 0.0}))
    bad = evaluate_thresholds(rules, summary(a={"http.error_rate": 0.012}))
    assert [r.ok for r in ok] == [True, True]
    assert [r.ok for r in bad] == [False, False]
    assert "1.20%" in bad[0].reason


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
    (12.345, "1/s", "12.3/s"), (None, "ms", "—"), (1.0, "bool", "yes"),
    (45.5, "%", "45.5%"), (0.5, "s", "0.5 s"), (123456.7, "MiB", "123,456.7 MiB"),
    (4.25, "ms", "4.2 ms"), (0.42, "ms", "0.42 ms"), (12.5, "count", "12.5"),
    (0.00001, "ratio", "<0.01%"), (0.5, "ratio", "50.0%"),
])
def test_format_value(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_format_change() -> None:
    assert format_change(0.125) == "+12.5%"
    assert format_change(-0.03) == "-3.0%"
    assert format_change(None) == "n/a"
    assert format_change(float("inf")) == "+inf"
