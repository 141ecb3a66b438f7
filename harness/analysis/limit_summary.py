"""The ``limit.*`` metrics and findings in a summary (pure; called by
:func:`harness.analysis.summary.summarise`).

In a folder made by ``pgstampede limit`` each variant of ``limit.json`` gets its ``limit.*``
metrics (computed once from the whole search), their null reasons, and its findings; its
ordinary metrics are those of the probe that decided its break, not a median over probes
that ran different loads. In a folder made by ``pgstampede run`` a threshold on a
``limit.*`` metric is not applicable (it would otherwise fail as not measured).
"""

from __future__ import annotations

import dataclasses

from harness.analysis.limit import VariantBreak, limit_metrics, variant_breaks
from harness.analysis.limit_text import findings_of
from harness.analysis.nulls import null_reasons
from harness.analysis.run import LoadedRun, VariantRun
from harness.results.check_spec import WILDCARD
from harness.results.limit import LIMIT_METRICS_PREFIX
from harness.results.summary import NullReason, VariantSummary

NOT_A_LIMIT_RUN = ("limit.* metrics are measured by `pgstampede limit`, not by `pgstampede "
                   "run`")


def with_limits(variants: dict[str, VariantSummary], run: LoadedRun
                ) -> tuple[dict[str, VariantSummary], tuple[str, ...]]:
    """The variants with their ``limit.*`` metrics, and the limit findings (module doc)."""
    record = run.limit
    if record is None:
        return _not_a_limit_run(variants, run), ()
    notes: list[str] = []
    out = dict(variants)
    for vb in variant_breaks(record, run.runs):
        summary = out.get(vb.name)
        if summary is None:
            continue
        summary = at_the_break(summary, vb, [r for r in run.runs if r.name == vb.name])
        metrics, nulls = limit_metrics(vb)
        out[vb.name] = dataclasses.replace(summary, metrics={**summary.metrics, **metrics},
                                           nulls={**summary.nulls, **nulls})
        notes += findings_of(vb, record.settings)
    return out, tuple(notes)


def at_the_break(summary: VariantSummary, vb: VariantBreak, runs: list[VariantRun]
                 ) -> VariantSummary:
    """The variant's ordinary metrics taken from the probe that decided its break (not the
    median over probes at different loads); each probe's stay in ``repeats``."""
    measured = [r for r in runs if r.ctx is not None]
    repeats = [r.repeat for r in measured]
    if vb.deciding is None or vb.deciding.probe.repeat not in repeats:
        return summary
    metrics = dict(summary.repeats[repeats.index(vb.deciding.probe.repeat)])
    return dataclasses.replace(summary, metrics=metrics,
                               nulls=null_reasons(metrics, measured, summary.repeats))


def _not_a_limit_run(variants: dict[str, VariantSummary], run: LoadedRun
                     ) -> dict[str, VariantSummary]:
    wanted = {(t.variant, t.metric) for t in run.manifest.scenario.check.thresholds
              if t.metric.startswith(LIMIT_METRICS_PREFIX)}
    if not wanted:
        return variants
    out = dict(variants)
    reason = NullReason("not applicable", NOT_A_LIMIT_RUN)
    for name, summary in variants.items():
        metrics = sorted({m for v, m in wanted if v in (name, WILDCARD)})
        if metrics:
            out[name] = dataclasses.replace(
                summary, metrics={**summary.metrics, **dict.fromkeys(metrics)},
                nulls={**summary.nulls, **dict.fromkeys(metrics, reason)})
    return out
