"""The breaking point of each variant of a ``pgstampede limit`` run folder (pure).

``limit.json`` (:mod:`harness.results.limit`) says how the search went: which variant runs
were its probes and what each step decided. From it and the probes' frames this module
measures every step again (:mod:`harness.analysis.breaking`), picks the step that decides
the ``limit.*`` metrics — the fewest users that broke, or the most that held — measures the
connections per instance over the ramp, and computes the advice
(:mod:`harness.analysis.recommend`). :mod:`harness.analysis.limit_summary` puts it into the
summary, :mod:`harness.analysis.limit_text` into sentences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.breaking import StepMeasures, StepWindow, gauges_from_frames, measure_step
from harness.analysis.recommend import Recommendation, TargetFacts, facts_of, recommend
from harness.analysis.run import VariantRun
from harness.results import metric_names as M
from harness.results.limit import (
    LimitRecord,
    LimitSettings,
    ProbeRecord,
    StepRecord,
    VariantLimit,
)
from harness.results.summary import Metrics, NullReason

LIMIT_METRICS = (M.LIMIT_REACHED, M.LIMIT_USERS, M.LIMIT_RPS, M.LIMIT_IN_FLIGHT,
                 M.LIMIT_INSTANCES, M.LIMIT_DB_CONNECTIONS, M.LIMIT_CONNECTIONS_PER_INSTANCE,
                 M.LIMIT_RECOMMENDED_MAX_INSTANCES, M.LIMIT_RECOMMENDED_POOL_SIZE,
                 M.LIMIT_VERIFIED)
SERVERLESS_ONLY = (M.LIMIT_INSTANCES, M.LIMIT_CONNECTIONS_PER_INSTANCE,
                   M.LIMIT_RECOMMENDED_MAX_INSTANCES, M.LIMIT_RECOMMENDED_POOL_SIZE,
                   M.LIMIT_VERIFIED)


@dataclass(frozen=True)
class StepRow:
    """A step of a probe with what its frames measured."""

    probe: ProbeRecord
    step: StepRecord
    measures: StepMeasures


@dataclass(frozen=True)
class VariantBreak:
    """One variant's search, measured: every step, the deciding one, the advice."""

    limit: VariantLimit
    facts: TargetFacts
    rows: tuple[StepRow, ...]
    deciding: StepRow | None
    cpi: float | None
    recommendation: Recommendation | None
    verify: StepRow | None
    first_error: str

    @property
    def name(self) -> str:
        return self.limit.name

    @property
    def usable(self) -> int:
        return self.facts.max_connections - self.limit.reserved


def connections_per_instance(gauges: pd.DataFrame, before: float) -> float | None:
    """The app's connections per live instance: the median over the samples before
    ``before`` (epoch s) with at least one instance; None without such samples."""
    rows = gauges[(gauges["t"] < before) & (gauges["instances"] >= 1)]
    rows = rows.dropna(subset=["instances", "app_connections"])
    if rows.empty:
        return None
    ratio = rows["app_connections"] / rows["instances"]
    return round(float(np.median(ratio.to_numpy(dtype="float64"))), 3)


def first_error(run: VariantRun, start: float, end: float) -> str:
    """The first refusal in the server log or the pooler's, else the first failed request,
    in ``[start, end]`` (+1 s for the logs); "" when nothing failed."""
    for source, frame in (("PostgreSQL (53300): ", run.frames["pglog"]),
                          ("the pooler: ", run.frames["pooler_log"])):
        refused = frame[(frame["event"] == "refused") & (frame["t"] >= start)
                        & (frame["t"] <= end + 1.0)]
        if len(refused):
            return source + str(refused.sort_values("t")["message"].iloc[0]).strip()
    requests = run.frames["requests"]
    failed = requests[(requests["kind"] != "") & (requests["t"] >= start)
                      & (requests["t"] <= end)]
    if failed.empty:
        return ""
    first = failed.sort_values("t").iloc[0]
    return f"{first['kind']} (HTTP {int(first['status'])}) on {first['endpoint']}"


def _rows(vl: VariantLimit, runs: Mapping[int, VariantRun]) -> tuple[StepRow, ...]:
    out = []
    for probe in vl.probes:
        run = runs.get(probe.repeat)
        if run is None:
            continue
        gauges = gauges_from_frames(run.frames, run.record.pooler)
        for step in probe.steps:
            window = StepWindow(step.users, step.start, step.settled, step.end)
            out.append(StepRow(probe, step, measure_step(run.frames["requests"], gauges,
                                                          window)))
    return tuple(out)


def _deciding(vl: VariantLimit, rows: Sequence[StepRow]) -> StepRow | None:
    """The last step of the search at the fewest users that broke, or the most that held."""
    search = [r for r in rows if r.probe.kind != "verify"]
    if vl.broke_users is not None:
        broke = [r for r in search if r.step.verdict == "broke"]
        exact = [r for r in broke if r.step.users == vl.broke_users]
        chosen = exact or sorted(broke, key=lambda r: r.step.users)[:1]
        return chosen[-1] if chosen else None
    held = [r for r in search if r.step.verdict == "held" and r.step.users == vl.held_users]
    return held[-1] if held else None


def _cpi(vl: VariantLimit, runs: Mapping[int, VariantRun]) -> float | None:
    ramp = vl.probe("ramp")
    run = runs.get(ramp.repeat) if ramp is not None else None
    if ramp is None or run is None or run.ctx is None:
        return None
    broke = ramp.broke
    before = run.ctx.load_end if broke is None else broke.broke_at or broke.end
    return connections_per_instance(gauges_from_frames(run.frames, run.record.pooler), before)


def variant_break(vl: VariantLimit, settings: LimitSettings,
                  runs: Mapping[int, VariantRun]) -> VariantBreak:
    """One variant's search measured from its probes' frames (``runs`` by repeat)."""
    rows = _rows(vl, runs)
    first = next(iter(runs.values()), None)
    facts = facts_of(first.record.config if first is not None else {})
    deciding = _deciding(vl, rows)
    serverless = facts.target == "serverless"
    cpi = _cpi(vl, runs) if serverless else None
    instances = deciding.measures.instances if deciding is not None else None
    advice = recommend(facts, vl.reserved, settings.headroom, cpi, instances)
    verify = next((r for r in rows if r.probe.kind == "verify"), None)
    error = ""
    if deciding is not None and deciding.step.verdict == "broke":
        step = deciding.step
        error = first_error(runs[deciding.probe.repeat], step.start, step.broke_at or step.end)
    return VariantBreak(limit=vl, facts=facts, rows=rows, deciding=deciding, cpi=cpi,
                        recommendation=advice, verify=verify, first_error=error)


def _int(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def limit_metrics(vb: VariantBreak) -> tuple[Metrics, dict[str, NullReason]]:
    """The ``limit.*`` metrics of one variant and why those that are null are null."""
    if not vb.rows:  # the search judged no step (its probes' variant runs say why)
        why = NullReason("not measured", f"the search judged no step: {vb.limit.stopped}")
        return dict.fromkeys(LIMIT_METRICS), dict.fromkeys(LIMIT_METRICS, why)
    m = vb.deciding.measures if vb.deciding is not None else None
    advice = vb.recommendation
    verified = None if vb.verify is None else vb.verify.step.verdict == "held"
    metrics: Metrics = {
        M.LIMIT_REACHED: vb.limit.broke_users is not None,
        M.LIMIT_USERS: vb.limit.broke_users if vb.limit.broke_users is not None
        else vb.limit.held_users,
        M.LIMIT_RPS: None if m is None or m.rps is None else round(m.rps, 1),
        M.LIMIT_IN_FLIGHT: None if m is None else m.in_flight,
        M.LIMIT_INSTANCES: None if m is None else _int(m.instances),
        M.LIMIT_DB_CONNECTIONS: None if m is None else _int(m.db_connections),
        M.LIMIT_CONNECTIONS_PER_INSTANCE: vb.cpi,
        M.LIMIT_RECOMMENDED_MAX_INSTANCES: None if advice is None or verified is False
        else advice.max_instances,
        M.LIMIT_RECOMMENDED_POOL_SIZE: None if advice is None else advice.pool_size,
        M.LIMIT_VERIFIED: verified,
    }
    nulls = {name: _null_reason(name, vb, verified) for name, v in metrics.items() if v is None}
    return metrics, nulls


def _null_reason(name: str, vb: VariantBreak, verified: bool | None) -> NullReason:
    if name in SERVERLESS_ONLY and vb.facts.target != "serverless":
        return NullReason("not applicable", "only a serverless variant has instances to cap")
    if name == M.LIMIT_VERIFIED:
        why = ("--verify was not given" if vb.recommendation is not None
               and vb.recommendation.max_instances is not None
               else "there was no max instances to verify")
        return NullReason("not applicable", why)
    if name == M.LIMIT_RECOMMENDED_MAX_INSTANCES and verified is False and vb.verify:
        return NullReason("not measured", "withdrawn: " + verify_text(vb.verify))
    advice = vb.recommendation
    if name == M.LIMIT_RECOMMENDED_MAX_INSTANCES and advice is not None:
        return NullReason("not applicable", advice.max_instances_text)
    if name == M.LIMIT_RECOMMENDED_POOL_SIZE and advice is not None:
        return NullReason("not applicable", advice.pool_size_text)
    if vb.deciding is None:
        return NullReason("not measured", "the search has no step at the break in the run "
                          "folder")
    return NullReason("not measured", "no data to compute it from")


def verify_text(row: StepRow) -> str:
    return (f"at {row.step.users} users with max instances {row.probe.max_instances} it "
            f"{row.step.verdict}: {row.step.reason + ' — ' if row.step.reason else ''}"
            f"{row.step.detail}")


def variant_breaks(record: LimitRecord, runs: Sequence[VariantRun]) -> list[VariantBreak]:
    """Every variant of the search, measured, in the record's order."""
    out = []
    for vl in record.variants:
        mine = {r.repeat: r for r in runs if r.name == vl.name}
        if mine:
            out.append(variant_break(vl, record.settings, mine))
    return out
