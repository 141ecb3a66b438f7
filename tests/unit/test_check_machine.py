"""Baselines and machines: timings are compared only on the machine that recorded them, system
metrics everywhere; another version of the scenario is refused; the measured spread applies
to few repeats. The acceptance of CI on any machine, on the committed CI baseline."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from harness.check.baseline import compare
from harness.check.baseline_file import (
    Baseline,
    MachineRecord,
    MetricSamples,
    RecordedOn,
    load_baseline,
    write_baseline,
)
from harness.check.command import check_run, save_baseline
from harness.check.comparable import diff, machine_difference, scenario_changes
from harness.check.noise import FEW_REPEATS, MEASURED_SPREAD, measured_min_change
from harness.errors import InputError
from harness.results.environment import boot_identity, cpu_model, machine
from harness.results.folder import RunFolder
from harness.results.metrics import METRICS, machine_dependent
from harness.results.summary import Summary, VariantSummary
from tests.synthetic import RunShape, SyntheticVariant, write_run

REPO = Path(__file__).resolve().parents[2]
CI_BASELINE = REPO / "reports" / "baselines" / "ci.json"
CI_SCENARIO = REPO / "harness" / "scenarios" / "ci.toml"


def here(machine_id: str = "boot:aaaa", **versions: str) -> RecordedOn:
    return RecordedOn(
        machine=MachineRecord(machine_id=machine_id, machine_id_source="boot", hostname="vm",
                              cpu_model="Intel(R) Xeon(R) Processor", cores=2, memory_gib=23.5,
                              kernel="6.1"),
        runtime="process", versions={"postgresql": "15.18", "locust": "2.47.0", **versions})


# ---------------------------------------------------------------- the registry

def test_every_metric_declares_machine_or_system() -> None:
    assert {m.depends for m in METRICS.values()} == {"machine", "system"}
    for name in ("latency.p50_ms", "latency.p95_ms", "http.rps", "platform.cold_start_ms.p50",
                 "host.cpu.postgres.mean", "host.saturated", "load.saturated"):
        assert machine_dependent(name), name
    for name in ("db.connections.peak", "db.refused", "errors.db_too_many_connections",
                 "http.error_rate", "platform.instances.peak", "background.lost",
                 "state.counter_divergence"):
        assert not machine_dependent(name), name
    assert machine_dependent("no.such.metric")  # unknown: never judged across machines


# ---------------------------------------------------------------- the machine's identity

def test_the_machine_record_tells_two_boots_apart(tmp_path: Path) -> None:
    record = machine()
    assert record["machine_id"] == boot_identity() and record["machine_id_source"] == "boot"
    assert record["machine_id"].startswith("boot:") and len(record["machine_id"]) > 20
    assert record["cpu_model"] and record["kernel"] and record["cores"] >= 1
    named = machine("runner-7")
    assert (named["machine_id"], named["machine_id_source"]) == ("runner-7", "named")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU @ 2GHz\n")
    assert cpu_model(cpuinfo) == "Test CPU @ 2GHz"


def test_machine_difference_names_what_differs() -> None:
    assert machine_difference(here(), here()) is None
    other = machine_difference(here("boot:aaaa1111-2222"), here("boot:bbbb3333-4444"))
    assert other == "machine boot:aaaa1111 vs boot:bbbb3333"
    assert machine_difference(here("ci-runner"), here("ci-runner", locust="2.48.0")) == \
        "Locust 2.47.0 vs 2.48.0"
    cores = dataclasses.replace(here(), machine=dataclasses.replace(here().machine, cores=4))
    assert machine_difference(here(), cores) == "2 vs 4 cores"
    assert "format 1" in str(machine_difference(None, here()))
    unknown = dataclasses.replace(here(), machine=dataclasses.replace(here().machine,
                                                                      machine_id=""))
    assert "recorded no machine identity" in str(machine_difference(unknown, here()))


# ---------------------------------------------------------------- comparing across machines

def summary_of(metrics: dict[str, list[float]], variant: str = "v") -> Summary:
    repeats = tuple({m: vs[i] for m, vs in metrics.items()} for i in range(3))
    medians: dict[str, Any] = {m: sorted(vs)[1] for m, vs in metrics.items()}
    entry = VariantSummary(status="complete", error=None, target="persistent", pooler="none",
                           max_connections=50, metrics=medians, nulls={}, repeats=repeats,
                           stages=(), faults=(), problems=())
    return Summary(schema_version=2, scenario="ci", status="complete",
                   variants={variant: entry}, thresholds=(), findings=(), problems=())


def baseline_of(metrics: dict[str, list[float]]) -> Baseline:
    return Baseline(format="pgstampede-baseline", version=2, scenario="ci", created="",
                    scenario_hash="", scenario_source={}, recorded_on=here(),
                    variants={"v": {m: MetricSamples(sorted(vs)[1], tuple(vs))
                                    for m, vs in metrics.items()}})


BASE = {"latency.p50_ms": [4.5, 4.6, 4.7], "db.refused": [0.0, 0.0, 0.0]}


def test_another_machine_compares_system_metrics_only() -> None:
    slower = {"latency.p50_ms": [8.1, 8.3, 8.5], "db.refused": [0.0, 0.0, 0.0]}
    by_metric = {c.metric: c for c in compare(baseline_of(BASE), summary_of(slower),
                                              other_machine="machine a vs b")}
    latency = by_metric["latency.p50_ms"]
    assert latency.verdict == "not compared" and not latency.failed
    assert latency.reason == "not compared: recorded on another machine (machine a vs b)"
    assert by_metric["db.refused"].verdict == "unchanged"
    refused = {"latency.p50_ms": [4.5, 4.6, 4.7], "db.refused": [5.0, 6.0, 7.0]}
    by_metric = {c.metric: c for c in compare(baseline_of(BASE), summary_of(refused),
                                              other_machine="machine a vs b")}
    assert by_metric["db.refused"].verdict == "regressed"


def test_same_machine_three_repeats_80_percent_counts_10_percent_does_not() -> None:
    slower = compare(baseline_of(BASE), summary_of({"latency.p50_ms": [8.1, 8.3, 8.5],
                                                    "db.refused": [0.0, 0.0, 0.0]}))
    assert {c.metric: c.verdict for c in slower}["latency.p50_ms"] == "regressed"
    little = compare(baseline_of(BASE), summary_of({"latency.p50_ms": [4.9, 5.06, 5.2],
                                                    "db.refused": [0.0, 0.0, 0.0]}))
    assert {c.metric: c.verdict for c in little}["latency.p50_ms"] in ("unchanged",
                                                                        "not significant")


def test_few_repeats_must_exceed_the_measured_spread_whatever_the_scenario_sets() -> None:
    spread = MEASURED_SPREAD["latency.p50_ms"]
    within = 1 + spread * 0.8
    base = {"latency.p50_ms": [45.0, 46.0, 47.0], "db.refused": [0.0, 0.0, 0.0]}
    cur = {"latency.p50_ms": [45.0 * within, 46.0 * within, 47.0 * within],
           "db.refused": [0.0, 0.0, 0.0]}
    [latency, _] = compare(baseline_of(base), summary_of(cur),
                           min_change={"latency.p50_ms": 0.01})
    assert latency.verdict == "not significant"
    assert "spread measured between identical runs" in latency.reason
    assert FEW_REPEATS == 3


def test_measured_min_changes_are_the_spread_rounded_up() -> None:
    for metric, spread in MEASURED_SPREAD.items():
        assert METRICS[metric].depends == "machine"
        floor = measured_min_change(metric, 0.10)
        assert floor >= max(0.10, spread) - 1e-9
        assert floor == 0.10 or floor - spread < 0.05 + 1e-9
    assert measured_min_change("db.refused", 0.10) == 0.10


# ---------------------------------------------------------------- the scenario

def test_diff_names_each_changed_key() -> None:
    old = {"load": {"stages": [{"users": 5}, {"users": 20}]}, "target": {"p": {"pool_max": 10}}}
    new = {"load": {"stages": [{"users": 5}, {"users": 40}]}, "target": {"p": {"pool_max": 1}},
           "pooler": {}}
    assert diff(old, new) == ["load.stages[1].users: 20 -> 40", "target.p.pool_max: 10 -> 1",
                              "pooler added"]


# ---------------------------------------------------------------- check_run on run folders

def ci_run(root: Path, machine_id: str, metrics: dict[str, list[float]]) -> Path:
    """A run folder of the ci scenario (its real scenario data) measured on ``machine_id``."""
    names = ("persistent", "persistent+pgbouncer")
    run = write_run(root, RunShape(requests_per_variant=100, duration_s=3.0, repeats=3),
                    (SyntheticVariant(names[0], "persistent", "none"),
                     SyntheticVariant(names[1], "persistent", "pgbouncer")), name="ci")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["scenario"]["source"] = tomllib.loads(CI_SCENARIO.read_text())
    manifest["machine"] = {**machine(), "machine_id": machine_id}
    recorded = load_baseline(CI_BASELINE).recorded_on
    assert recorded is not None
    manifest["machine"]["cpu_model"] = recorded.machine.cpu_model
    manifest["machine"]["cores"] = recorded.machine.cores
    manifest["versions"].update({k: v for k, v in recorded.versions.items()
                                 if k in ("python", "locust")})
    for record in manifest["variants"]:
        record["versions"] = {k: v for k, v in recorded.versions.items()
                              if k in ("postgresql", "pgbouncer")}
    (run / "manifest.json").write_text(json.dumps(manifest))
    variants = {}
    for name in names:
        summary = summary_of(metrics, name)
        variants[name] = summary.variants[name]
    RunFolder(run).write_summary(Summary(schema_version=2, scenario="ci", status="complete",
                                         variants=variants, thresholds=(), findings=(),
                                         problems=()))
    return run


def committed_baseline_on(tmp_path: Path, machine_id: str) -> Path:
    """The committed CI baseline, said to be recorded on ``machine_id``."""
    data = load_baseline(CI_BASELINE)
    assert data.recorded_on is not None and data.scenario_hash
    moved = dataclasses.replace(data, recorded_on=dataclasses.replace(
        data.recorded_on, machine=dataclasses.replace(data.recorded_on.machine,
                                                      machine_id=machine_id)))
    path = tmp_path / "ci.json"
    write_baseline(moved, path)
    return path


def committed_versions() -> dict[str, str]:
    recorded = load_baseline(CI_BASELINE).recorded_on
    assert recorded is not None
    return recorded.versions


def committed(metric: str, variant: str = "persistent") -> list[float]:
    return list(load_baseline(CI_BASELINE).variants[variant][metric].values)


def test_committed_baseline_from_another_machine_latency_not_compared(tmp_path: Path) -> None:
    baseline = committed_baseline_on(tmp_path, "boot:another-vm")
    slower = {"latency.p50_ms": [v * 1.8 for v in committed("latency.p50_ms")],
              "db.refused": committed("db.refused")}
    out = check_run(ci_run(tmp_path / "slow", "boot:this-vm", slower), baseline=baseline)
    assert out.exit_code == 0, [c.reason for c in out.regressions]
    latency = [c for c in out.comparisons if c.metric == "latency.p50_ms"]
    assert latency and all(c.verdict == "not compared" for c in latency)
    assert "another machine" in out.baseline_notes[0]
    refusing = {"latency.p50_ms": committed("latency.p50_ms"), "db.refused": [12.0, 15.0, 9.0]}
    out = check_run(ci_run(tmp_path / "refused", "boot:this-vm", refusing), baseline=baseline)
    assert out.exit_code == 1
    assert {c.metric for c in out.regressions} == {"db.refused"}


def test_same_machine_latency_shift_is_a_regression(tmp_path: Path) -> None:
    base = ci_run(tmp_path / "base", "ci-runner-1", BASE)
    baseline = save_baseline(base, tmp_path / "ci.json")
    slower = {"latency.p50_ms": [v * 1.8 for v in BASE["latency.p50_ms"]],
              "db.refused": [0.0, 0.0, 0.0]}
    out = check_run(ci_run(tmp_path / "slow", "boot:other", slower), baseline=baseline,
                    machine_id="ci-runner-1")
    assert out.exit_code == 1 and "latency.p50_ms" in {c.metric for c in out.regressions}
    assert out.baseline_notes == ()
    little = {"latency.p50_ms": [v * 1.1 for v in BASE["latency.p50_ms"]],
              "db.refused": [0.0, 0.0, 0.0]}
    assert check_run(ci_run(tmp_path / "little", "ci-runner-1", little),
                     baseline=baseline).exit_code == 0
    elsewhere = check_run(ci_run(tmp_path / "elsewhere", "boot:other", slower),
                          baseline=baseline)
    assert elsewhere.exit_code == 0
    forced = check_run(ci_run(tmp_path / "forced", "boot:other", slower), baseline=baseline,
                       compare_all=True)
    assert forced.exit_code == 1 and "compared anyway" in forced.baseline_notes[0]


def test_another_version_of_the_scenario_is_exit_2_with_what_changed(tmp_path: Path) -> None:
    baseline = committed_baseline_on(tmp_path, "boot:x")
    run = ci_run(tmp_path / "run", "boot:x", {"db.refused": [0.0, 0.0, 0.0]})
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["scenario"]["source"]["target"]["persistent"]["pool_max"] = 60
    manifest["scenario"]["source"]["thresholds"] = {}  # not measured: no difference
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError) as info:
        check_run(run, baseline=baseline)
    message = str(info.value)
    assert info.value.exit_code == 2 and "\n" not in message
    assert "another version of scenario 'ci'" in message
    assert "target.persistent.pool_max: 10 -> 60" in message
    assert "--compare-all" in message
    assert check_run(run, baseline=baseline, compare_all=True).exit_code == 0


def test_saved_baseline_records_machine_versions_and_scenario(tmp_path: Path) -> None:
    run = ci_run(tmp_path / "run", "boot:1234", {"db.refused": [0.0, 0.0, 0.0]})
    path = save_baseline(run, f"{tmp_path}/new/")  # a folder that does not exist yet
    assert path == tmp_path / "new" / "ci.json"
    data = load_baseline(path)
    assert data.version == 2 and data.recorded_on is not None
    assert data.recorded_on.machine.machine_id == "boot:1234"
    assert data.recorded_on.versions["locust"] == committed_versions()["locust"]
    assert "thresholds" not in data.scenario_source and "load" in data.scenario_source
    assert not scenario_changes(data, tomllib.loads(CI_SCENARIO.read_text()))
    named = load_baseline(save_baseline(run, tmp_path / "named.json", machine_id="runner"))
    assert named.recorded_on is not None and named.recorded_on.machine.machine_id == "runner"


def test_version_1_baselines_still_read_with_an_unknown_machine(tmp_path: Path) -> None:
    path = tmp_path / "v1.json"
    path.write_text(json.dumps({"format": "pgstampede-baseline", "version": 1,
                                "scenario": "ci", "created": "2026-11-29",
                                "variants": {"v": {"db.refused": {"median": 0,
                                                                   "values": [0, 0, 0]}}}}))
    data = load_baseline(path)
    assert data.recorded_on is None and data.scenario_hash == ""
    assert data.variants["v"]["db.refused"] == MetricSamples(0.0, (0.0, 0.0, 0.0))
