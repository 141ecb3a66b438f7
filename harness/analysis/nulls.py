"""Why a metric is null: not applicable to the variant, or not measured (and then why).

A metric whose source could not be measured (its collector failed, its file is missing,
emptied or changed) is nulled here even when the frame would give a number: an emptied
``pglog.parquet`` must not read as "0 refusals". :func:`mask_unmeasured` does that per
repeat; :func:`null_reasons` says, per null metric of a variant, which kind of null it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.analysis.frames import endpoint_name
from harness.analysis.run import VariantRun
from harness.results import metric_names as M
from harness.results.records import Problem
from harness.results.summary import Metrics, NullReason

SOURCES: dict[str, tuple[str, ...]] = {
    "db": ("db.connections.",),
    "pglog": (M.DB_CONNECTS, M.DB_REFUSED, M.TIME_TO_FIRST_REFUSAL_S),
    "db_errors": (M.DB_ERRORS,),
    "app_exceptions": (M.APP_EXCEPTIONS,),
    "background": ("background.",),
    "app_work": ("app.work.",),
    "pooler": ("pooler.",),
    "platform": ("platform.",),
    "cold_starts": ("platform.cold_start",),
    "requests": ("http.", "latency.", "errors.", "state.", "faults."),
    "host": ("host.", M.LOAD_SATURATED, "harness."),
    "workers": (M.LOAD_WORKERS,),  # and load.workers.*
}
"""Which metrics each frame feeds (by name prefix). A new frame or metric family: add it."""

COLLECTOR_FRAMES: dict[str, str] = {"pg_activity": "db", "pg_log": "pglog",
                                    "background": "background", "pgbouncer": "pooler",
                                    "platform": "platform", "host": "host"}
"""The frame a problem's source stands for (collector names as ``Problem.source``)."""


def frame_of(problem: Problem) -> str | None:
    """The frame a problem makes unmeasured: by collector name or by file name."""
    if problem.source in COLLECTOR_FRAMES:
        return COLLECTOR_FRAMES[problem.source]
    stem = Path(problem.source).name.removesuffix(".parquet")
    return stem if stem in SOURCES else None


def _fed_by(metric: str, frame: str) -> bool:
    return any(metric.startswith(prefix) for prefix in SOURCES.get(frame, ()))


def unmeasured(run: VariantRun) -> dict[str, Problem]:
    """Frame name -> the first problem that makes it unmeasured."""
    out: dict[str, Problem] = {}
    for problem in run.problems:
        frame = frame_of(problem)
        if frame is not None:
            out.setdefault(frame, problem)
    return out


ADDED_LATER: dict[str, str] = {
    "db_errors": "the pgstampede that made this run folder did not read errors from the "
                 "server log",
    "app_exceptions": "the pgstampede that made this run folder did not record the app's "
                      "exceptions",
}
"""Frames a newer pgstampede writes: absent from an older run folder, their metrics are not
measured there (not zero)."""


def absent(run: VariantRun) -> dict[str, str]:
    """Frame name -> why it was not recorded, for frames a run of this kind should have."""
    recorded = {f.name for f in run.record.frames}
    out = {name: why for name, why in ADDED_LATER.items() if name not in recorded}
    if not run.record.observes_server_log:
        out["db_errors"] = "the server log of a database the harness did not start is not read"
    return out


def mask_unmeasured(metrics: Metrics, run: VariantRun) -> Metrics:
    """``metrics`` with every metric fed by an unmeasured or unrecorded frame set to null."""
    bad = set(unmeasured(run)) | set(absent(run))
    return {name: None if any(_fed_by(name, f) for f in bad) else value
            for name, value in metrics.items()}


@dataclass(frozen=True)
class _Facts:
    """What the rules of :func:`_not_applicable` read from a variant run, read once per run
    (not once per null metric: the request frame can hold millions of rows)."""

    endpoints: frozenset[str]
    frames: frozenset[str]
    host_recorded: bool

    @staticmethod
    def of(run: VariantRun) -> _Facts:
        endpoint = run.frames["requests"]["endpoint"]
        distinct = pd.Series(endpoint.unique(), dtype=endpoint.dtype)  # a handful of names
        return _Facts(endpoints=frozenset(endpoint_name(distinct)),
                      frames=frozenset(f.name for f in run.record.frames),
                      host_recorded=not run.frames["host"].empty)


def _not_applicable(metric: str, run: VariantRun, facts: _Facts,
                    metrics: Metrics) -> str | None:
    """Why ``metric`` does not apply to this variant run, or None when it should have a value."""
    record, endpoints = run.record, facts.endpoints
    rules: tuple[tuple[bool, str], ...] = (
        (metric.startswith("pooler.") and record.pooler == "none"
         and "pooler" not in facts.frames, "the variant has no pooler"),
        (metric.startswith("platform.") and record.target != "serverless",
         "only a serverless target has a platform"),
        (metric.startswith("background.") and "background" not in endpoints,
         "no /background requests were sent"),
        (metric.startswith("app.work.") and "app_work" not in facts.frames,
         "the scenario has no [app.expect]"),
        (metric.startswith("state.") and "counter" not in endpoints,
         "no /counter requests were sent"),
        (metric.startswith("faults.") and not record.faults, "no fault was injected"),
        (metric.startswith(M.LOAD_WORKERS) and "workers" not in facts.frames,
         "the load came from this machine (no --workers)"),
        (metric == M.TIME_TO_FIRST_REFUSAL_S and metrics.get(M.DB_REFUSED) == 0,
         "no connection was refused"),
        (metric == M.HARNESS_CPU_SHARE and record.target == "external",
         "the system under test runs elsewhere"),
        (metric == M.APP_EXCEPTIONS and "app" not in record.config,
         "recorded for your own app ([app]) only: the built-in targets answer their errors "
         "themselves, an external target's exceptions stay where it runs"),
        (metric.startswith(M.HOST_SATURATED) and facts.host_recorded,
         "the machine was not recorded (a run folder from before it was)"),
        (metric.startswith("host.") and facts.host_recorded,
         "no such process role in this variant"),
    )
    return next((why for applies, why in rules if applies), None)


def _not_measured(metric: str, run: VariantRun) -> str:
    bad = unmeasured(run)
    for frame, problem in bad.items():
        if _fed_by(metric, frame):
            return problem.text(run.record.load_start)
    if metric in SOURCES["pglog"] and not run.record.observes_server_log:
        return "the server log of a database the harness did not start is not read"
    for frame, why in absent(run).items():
        if _fed_by(metric, frame):
            return why
    if run.ctx is None:
        return "the variant's load never started"
    if metric.startswith("platform.cold_start_cpu") and not run.frames["cold_starts"].empty:
        return ("the cold starts' CPU was not read (a run folder from before it was, or a "
                "system without /proc)")
    return "no data to compute it from"


def null_reasons(metrics: Metrics, runs: Sequence[VariantRun],
                 repeats: Sequence[Metrics]) -> dict[str, NullReason]:
    """Per metric null in ``metrics`` (a variant's medians), why it is null; judged on the
    first measured repeat (``repeats`` are the measured repeats' metrics, in order)."""
    nulls = [n for n, value in metrics.items() if value is None]
    measured = [r for r in runs if r.ctx is not None]
    if not measured or not repeats:
        return dict.fromkeys(nulls, NullReason("not measured",
                                               "the variant's load never started"))
    first, facts = measured[0], _Facts.of(measured[0])
    out: dict[str, NullReason] = {}
    for name in nulls:
        why = _not_applicable(name, first, facts, repeats[0])
        out[name] = (NullReason("not applicable", why) if why is not None
                     else NullReason("not measured", _not_measured(name, first)))
    return out
