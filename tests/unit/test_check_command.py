"""check_run and save_baseline on synthetic run folders: exit codes, files written, errors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.check.command import check_run, save_baseline
from harness.errors import IncompleteRunError, InputError
from harness.results.check_spec import parse_check
from harness.results.folder import RunFolder
from harness.results.summary import NullReason, Summary, VariantSummary
from tests.synthetic import RunShape, SyntheticVariant, write_run

VARIANTS = {"direct": ("persistent", "none"), "pooled": ("persistent", "pgbouncer"),
            "lambda": ("serverless", "none")}
NO_POOLER = {"pooler.cl_waiting.peak": NullReason("not applicable", "the variant has no pooler")}


def make_run(root: Path, *, p95: tuple[float, ...] = (20.0, 21.0, 19.0),
             error_rate: float = 0.0, thresholds: dict[str, str] | None = None,
             check: dict[str, Any] | None = None, scenario: str = "ci",
             declared: list[str] | None = None) -> Path:
    """A complete run folder (synthetic frames) whose summary holds the given metrics."""
    names = declared or list(VARIANTS)
    spec = parse_check(thresholds or {}, check or {}, names)
    run = write_run(root / "run", RunShape(requests_per_variant=200, duration_s=5.0,
                                           repeats=len(p95)),
                    tuple(SyntheticVariant(n, t, p) for n, (t, p) in VARIANTS.items()),
                    check=spec, name=scenario, declared=tuple(names))
    variants = {}
    for name, (_, pooler) in VARIANTS.items():
        repeats = tuple({"latency.p95_ms": p, "http.error_rate": error_rate,
                         "pooler.cl_waiting.peak": 2 if pooler != "none" else None}
                        for p in p95)
        metrics = {m: sorted(r[m] for r in repeats)[len(repeats) // 2]  # type: ignore[type-var]
                   if repeats[0][m] is not None else None for m in repeats[0]}
        variants[name] = VariantSummary(
            status="complete", error=None, target=VARIANTS[name][0], pooler=pooler,
            max_connections=100, metrics=metrics, nulls=NO_POOLER if pooler == "none" else {},
            repeats=repeats, stages=(), faults=(), problems=())
    RunFolder(run).write_summary(Summary(schema_version=2, scenario=scenario,
                                         status="complete", variants=variants, thresholds=(),
                                         findings=(), problems=()))
    return run


def edit(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


# ---------------------------------------------------------------- thresholds

def test_passing_run_writes_junit_and_markdown(tmp_path: Path) -> None:
    run = make_run(tmp_path, thresholds={"*.http.error_rate": "== 0",
                                         "*.pooler.cl_waiting.peak": "< 10"})
    out = check_run(run, junit=tmp_path / "out" / "junit.xml", markdown=tmp_path / "s.md")
    assert out.exit_code == 0 and out.scenario == "ci"
    assert [t.ok for t in out.thresholds] == [True, True, True, None, True, None]
    root = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("6", "0", "2")
    assert (tmp_path / "s.md").read_text().startswith("## ✅ pgstampede check `ci`: PASS")


def test_failed_threshold_exits_1(tmp_path: Path) -> None:
    run = make_run(tmp_path, error_rate=0.05, thresholds={"pooled.http.error_rate": "< 1%"})
    out = check_run(run)
    assert out.exit_code == 1
    assert [t.expr for t in out.failed_thresholds] == ["pooled.http.error_rate < 1%"]


def test_no_thresholds_and_no_baseline_passes(tmp_path: Path) -> None:
    assert check_run(make_run(tmp_path)).exit_code == 0


def test_variant_declared_but_not_run_is_not_applicable(tmp_path: Path) -> None:
    run = make_run(tmp_path, declared=[*VARIANTS, "extra"],
                   thresholds={"extra.http.error_rate": "== 0", "*.http.error_rate": "== 0"})
    out = check_run(run)
    assert out.exit_code == 0
    assert [(t.variant, t.ok) for t in out.thresholds] == [
        ("extra", None), ("direct", True), ("pooled", True), ("lambda", True)]
    assert out.thresholds[0].reason.startswith("not applicable: variant 'extra' was not run")


# ---------------------------------------------------------------- baselines

def test_same_configuration_passes_and_a_slowdown_regresses(tmp_path: Path) -> None:
    base_run = make_run(tmp_path / "a")
    written = save_baseline(base_run, tmp_path / "baselines" / "ci.json")
    assert written == tmp_path / "baselines" / "ci.json"
    assert json.loads(written.read_text())["format"] == "pgstampede-baseline"

    same = check_run(make_run(tmp_path / "b", p95=(21.0, 19.5, 20.5)), baseline=written)
    assert same.exit_code == 0
    assert {c.verdict for c in same.comparisons} == {"unchanged", "skipped"}

    slow = make_run(tmp_path / "c", p95=(200.0, 210.0, 190.0))
    out = check_run(slow, baseline=tmp_path / "baselines", junit=tmp_path / "j.xml")
    assert out.exit_code == 1
    assert {(c.variant, c.metric) for c in out.regressions} == {
        (v, "latency.p95_ms") for v in VARIANTS}
    assert all(c.supported for c in out.regressions)
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert root.get("failures") == "3"


def test_save_baseline_into_a_directory(tmp_path: Path) -> None:
    (tmp_path / "baselines").mkdir()
    written = save_baseline(make_run(tmp_path), tmp_path / "baselines")
    assert written == tmp_path / "baselines" / "ci.json"


def test_min_change_from_scenario_and_from_argument(tmp_path: Path) -> None:
    baseline = save_baseline(make_run(tmp_path / "a"), tmp_path / "ci.json")
    slower = (60.0, 63.0, 57.0)  # +200% p95: over the built-in 50% minimum
    assert check_run(make_run(tmp_path / "b", p95=slower), baseline=baseline).exit_code == 1
    lenient = make_run(tmp_path / "c", p95=slower,
                       check={"min_change": {"latency.p95_ms": "300%"}})
    assert check_run(lenient, baseline=baseline).exit_code == 0
    assert check_run(lenient, baseline=baseline,
                     min_change={"latency.p95_ms": 0.5}).exit_code == 1
    star = make_run(tmp_path / "d", p95=(32.0, 33.0, 31.0),  # beyond the measured spread
                    check={"min_change": {"*": 0.05, "latency.p95_ms": "5%"}})
    assert check_run(star, baseline=baseline).exit_code == 1


def test_min_abs_and_alpha_from_scenario(tmp_path: Path) -> None:
    baseline = save_baseline(make_run(tmp_path / "a"), tmp_path / "ci.json")
    slow = make_run(tmp_path / "b", p95=(200.0, 210.0, 190.0),
                    check={"min_abs": {"latency.p95_ms": "1s"}})
    assert check_run(slow, baseline=baseline).exit_code == 0
    strict = make_run(tmp_path / "c", p95=(200.0, 210.0, 190.0), check={"alpha": 0.01})
    out = check_run(strict, baseline=baseline)
    assert out.exit_code == 0 and out.alpha == 0.01
    assert any("add repeats" in c.reason for c in out.comparisons)


def test_baseline_of_another_scenario_is_bad_input(tmp_path: Path) -> None:
    baseline = save_baseline(make_run(tmp_path / "a", scenario="other"), tmp_path / "o.json")
    with pytest.raises(InputError, match="recorded for scenario 'other', this run is 'ci'"):
        check_run(make_run(tmp_path / "b"), baseline=baseline)


def test_missing_baseline_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="baseline file not found") as info:
        check_run(make_run(tmp_path), baseline=tmp_path / "none.json")
    assert info.value.exit_code == 2


# ---------------------------------------------------------------- incomplete runs

def _remove(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize(("damage", "message"), [
    (lambda run: _remove(run / "summary.json"), "summary.json: missing"),
    (lambda run: (run / "summary.json").write_text('{"trunc'), "summary.json: unreadable"),
    (lambda run: edit(run / "manifest.json", status="interrupted"),
     "status is 'interrupted'"),
    (lambda run: _remove(run / "direct" / "2" / "requests.parquet"),
     r"direct/2: .*requests\.parquet: missing"),
    (lambda run: _remove(run / "pooled" / "1" / "pooler.parquet"), r"pooler\.parquet: missing"),
    (lambda run: _empty(run / "lambda" / "3" / "pglog.parquet"),
     r"lambda/3: .*pglog\.parquet: holds 0 rows, the run wrote \d+"),
    (lambda run: _empty(run / "direct" / "1" / "db.parquet"), r"db\.parquet: holds 0 rows"),
])
def test_incomplete_run_never_passes(tmp_path: Path, damage: Any, message: str) -> None:
    run = make_run(tmp_path, thresholds={"*.http.error_rate": "== 0"})
    damage(run)
    with pytest.raises(IncompleteRunError, match=message) as info:
        check_run(run)
    assert info.value.exit_code == 3
    with pytest.raises(IncompleteRunError):
        save_baseline(run, tmp_path / "b.json")


def _empty(path: Path) -> None:
    """What a collector that read nothing would leave: a valid file without rows."""
    frame = pd.read_parquet(path)
    frame.iloc[0:0].to_parquet(path, index=False)


def test_failed_variant_run_is_incomplete(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["variants"][1]["status"] = "failed"
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IncompleteRunError, match="variant run direct/2 has status 'failed'"):
        check_run(run)


def test_not_a_folder_or_unknown_schema_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such run folder") as info:
        check_run(tmp_path / "nope")
    assert info.value.exit_code == 2
    run = make_run(tmp_path)
    edit(run / "summary.json", schema_version=1)
    with pytest.raises(InputError, match="schema_version 1; this pgstampede reads"):
        check_run(run)
    (run / "manifest.json").unlink()
    with pytest.raises(InputError, match="manifest.json: missing"):
        check_run(run)
