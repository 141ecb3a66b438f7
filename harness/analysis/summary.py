"""From a run folder to its :class:`~harness.results.summary.Summary`.

``load_run`` reads ``manifest.json`` and the verified frames of every variant run;
``summarise`` turns that into the summary (pure); ``build_summary`` does both.
Metrics fed by a frame that was not measured are null, with a reason in ``nulls``.
Per variant, ``metrics`` is the median over repeats of each metric (null when null in
every repeat; a yes/no metric by its rule, ``all`` or ``any``: ``harness.results.metrics``),
``repeats`` the per-repeat
metric dicts and ``stages`` the per-stage medians. ``thresholds`` is left empty: the
check module fills it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from harness.analysis.faults import fault_effect, fault_metrics
from harness.analysis.findings import findings
from harness.analysis.limit_summary import with_limits
from harness.analysis.metrics import VariantContext, compute_metrics, stage_metrics
from harness.analysis.nulls import mask_unmeasured, null_reasons
from harness.analysis.poolers import storm_metrics
from harness.analysis.run import LoadedRun, VariantRun, load_run
from harness.results import metric_names as M
from harness.results.metrics import RepeatRule, repeat_rule
from harness.results.records import SCHEMA_VERSION
from harness.results.summary import (
    FaultEffect,
    Metrics,
    MetricValue,
    StageSummary,
    Summary,
    VariantSummary,
)


def median_value(values: Sequence[MetricValue], rule: RepeatRule = "any") -> MetricValue:
    """Median of the non-null values; booleans by ``rule`` (true when all, or any, of them
    are true); null if all null."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, bool) for v in present):
        return all(present) if rule == "all" else any(present)
    med = float(np.median(np.asarray(present, dtype="float64")))
    if all(isinstance(v, int) for v in present) and med.is_integer():
        return int(med)
    return round(med, 6)


def median_metrics(repeats: Sequence[Mapping[str, MetricValue]]) -> Metrics:
    """Per metric, the median over repeats (key order of the first repeat); a yes/no metric
    by its rule (:func:`harness.results.metrics.repeat_rule`)."""
    names: dict[str, None] = {}
    for metrics in repeats:
        names.update(dict.fromkeys(metrics))
    return {name: median_value([m.get(name) for m in repeats], repeat_rule(name))
            for name in names}


def _median_stages(per_repeat: Sequence[Sequence[StageSummary]]) -> tuple[StageSummary, ...]:
    count = max((len(stages) for stages in per_repeat), default=0)
    out = []
    for index in range(count):
        present = [stages[index] for stages in per_repeat if len(stages) > index]
        first = present[0]
        out.append(StageSummary(stage=index, start_s=first.start_s, end_s=first.end_s,
                                users=first.users,
                                metrics=_finite(median_metrics([s.metrics for s in present]))))
    return tuple(out)


def _finite(metrics: Metrics) -> Metrics:
    """NaN and infinities as null (what JSON can hold)."""
    return {name: None if isinstance(v, float) and not math.isfinite(v) else v
            for name, v in metrics.items()}


def _repeat_metrics(run: VariantRun, ctx: VariantContext,
                    effects: Sequence[FaultEffect]) -> Metrics:
    """Every metric of one measured repeat, those of an unmeasured source null."""
    metrics = mask_unmeasured(compute_metrics(run.frames, ctx), run)
    metrics.update(fault_metrics(effects))
    metrics.update(storm_metrics(run.frames, run.faults))
    if "pooler_log" not in {f.name for f in run.record.frames}:
        metrics[M.POOLER_REFUSED] = None  # a run from before the pooler log was read
    return _finite(metrics)


def _variant_summary(runs: Sequence[VariantRun]) -> VariantSummary:
    measured = [(r, r.ctx) for r in runs if r.ctx is not None]
    effects = [tuple(fault_effect(r.frames["requests"], f, ctx.load_start, ctx.load_end,
                                  repeat=r.repeat) for f in r.faults)
               for r, ctx in measured]
    repeats = tuple(_repeat_metrics(r, ctx, run_effects)
                    for (r, ctx), run_effects in zip(measured, effects, strict=True))
    stages = [stage_metrics(r.frames, ctx) for r, ctx in measured]
    failed = [r for r in runs if r.status != "complete"]
    first = measured[0][1] if measured else None
    metrics = median_metrics(repeats)
    return VariantSummary(
        status=failed[0].status if failed else "complete",
        error=next((r.error for r in failed if r.error), None),
        target=first.target if first else None,
        pooler=first.pooler if first else None,
        max_connections=first.max_connections if first else None,
        metrics=metrics,
        nulls=null_reasons(metrics, runs, repeats),
        repeats=repeats,
        stages=_median_stages(stages),
        faults=tuple(e for run_effects in effects for e in run_effects),
        problems=tuple(f"{r.record.label}: {p.text(r.record.load_start)}"
                       for r in runs for p in r.problems),
        pooler_version=_pooler_version(runs),
    )


def _pooler_version(runs: Sequence[VariantRun]) -> str | None:
    """The variant's pooler version from its first record that has one (``versions.<pooler>``)."""
    for run in runs:
        version = run.record.versions.get(run.record.pooler, "")
        if version:
            return version
    return None


def run_status(run: LoadedRun) -> str:
    """How the run ended: the manifest's status, ``incomplete`` when a measurement is missing."""
    status = run.manifest.status
    if status == "complete" and any(r.problems for r in run.runs):
        return "incomplete"
    return status


def summarise(run: LoadedRun) -> Summary:
    """The summary of a loaded run folder (thresholds empty: see harness.check.verdict)."""
    by_variant: dict[str, list[VariantRun]] = {}
    for variant_run in run.runs:
        by_variant.setdefault(variant_run.name, []).append(variant_run)
    variants = {name: _variant_summary(runs) for name, runs in by_variant.items()}
    variants, limit_notes = with_limits(variants, run)  # pgstampede limit: limit.* metrics
    return Summary(schema_version=SCHEMA_VERSION, scenario=run.manifest.scenario.name,
                   status=run_status(run), variants=variants, thresholds=(),
                   findings=limit_notes + tuple(findings(variants, run.runs)),
                   problems=run.problems)


def build_summary(run_dir: Path) -> Summary:
    """Read a run folder and compute its summary."""
    return summarise(load_run(run_dir))
