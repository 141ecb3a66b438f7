"""Findings: what the numbers say, in plain words, computed from the summary and frames.

Each finding is one sentence about one variant (or a comparison across variants), e.g.
"serverless: first connection refused at 14.2 s, with 97 instances alive". The order is
the order of the variants in the summary, most important sentence first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from harness.analysis.app_work import app_work_finding
from harness.analysis.causes import cause_sentence, exception_groups
from harness.analysis.db_errors import before_final_stop, error_groups, merge_groups
from harness.analysis.frames import platform_live
from harness.analysis.host_saturation import (
    load_window_rows,
    saturation_finding,
    with_queueing_note,
)
from harness.analysis.story import vercel_finding
from harness.analysis.timeouts import cut_sentence
from harness.results import metric_names as M
from harness.results.summary import FaultEffect, VariantSummary
from harness.units import format_count, format_value

if TYPE_CHECKING:
    from harness.analysis.run import VariantRun


def fmt_ms(value: float) -> str:
    """Milliseconds for prose: ``0.42 ms``, ``4.2 ms``, ``180 ms``, ``1,250 ms``."""
    return format_value(value, "ms")


def _alive_at(run: VariantRun, t: float) -> str:
    """``with N instances alive`` (platform) or ``with N client connections open`` (db)."""
    platform = run.frames["platform"]
    before = platform[platform["t"] <= t]
    if len(before):
        last = before.tail(1)
        text = f"with {int(platform_live(last).iloc[0])} instances alive"
        zombies = int(last["zombie"].iloc[0])
        return text + (f" and {zombies} zombies" if zombies else "")
    db = run.frames["db"]
    before = db[db["t"] <= t]
    if len(before):
        return f"with {int(before['total'].iloc[-1])} client connections open"
    return ""


def _first_refusal_time(run: VariantRun) -> float | None:
    if run.ctx is None:
        return None
    log = run.frames["pglog"]
    refused = log[(log["event"] == "refused") & (log["t"] >= run.ctx.load_start)]
    return float(refused["t"].min()) if len(refused) else None


def _connections(name: str, m: Mapping[str, Any], runs: Sequence[VariantRun]) -> str | None:
    refused, peak = m.get(M.DB_REFUSED), m.get(M.DB_CONNECTIONS_PEAK)
    limit = m.get(M.DB_MAX_CONNECTIONS)
    if refused:
        when = m.get(M.TIME_TO_FIRST_REFUSAL_S)
        text = f"{name}: first connection refused at {when:.1f} s" if when is not None else (
            f"{name}: connections refused"
        )
        first = next((r for r in runs if _first_refusal_time(r) is not None), None)
        refusal_t = _first_refusal_time(first) if first else None
        alive = _alive_at(first, refusal_t) if first and refusal_t is not None else ""
        text += f", {alive}" if alive else ""
        failed = m.get(M.error_count("db_too_many_connections")) or 0
        text += f"; {format_count(refused)} connections refused, "
        answered_5xx = m.get(M.error_count("http_5xx")) or 0
        if failed == 0 and answered_5xx and first is not None and "app" in first.record.config:
            # a user's app answers a refusal with its own error page, not pgstampede's kind
            return (text + f"{format_count(answered_5xx)} requests answered 5xx (the app's "
                    "own error answers do not say which came from a refusal)")
        return text + f"{format_count(failed)} requests failed for it"
    if peak is None:
        return None
    if refused is None:  # no server log read (an external target): refusals not observed
        text = (f"{name}: at most {peak} of {limit} connections used; refusals not observed "
                "(the server log of this database is not read)")
    else:
        text = f"{name}: no refusals, at most {peak} of {limit} connections used"
    wait, queued = m.get(M.POOLER_MAXWAIT_MS_PEAK), m.get(M.POOLER_CL_WAITING_PEAK)
    if wait is not None and (wait > 0 or queued):
        text += f"; clients waited up to {fmt_ms(wait)}"
        text += f" ({queued} queued at most)" if queued else ""
    elif wait is not None:
        text += "; no client ever waited for a pooled connection"
    return text


def _errors(name: str, m: Mapping[str, Any]) -> str | None:
    failures, rate = m.get(M.HTTP_FAILURES) or 0, m.get(M.HTTP_ERROR_RATE)
    if not failures or rate is None:
        return None
    counts = {k: m.get(M.error_count(k)) or 0 for k in M.ERROR_KINDS}
    kind = max(counts, key=lambda k: counts[k])
    main = f", mostly {kind} ({format_count(counts[kind])})" if counts[kind] else ""
    return f"{name}: {rate:.1%} of requests failed ({format_count(failures)}){main}"


def _cause(name: str, m: Mapping[str, Any], runs: Sequence[VariantRun]) -> str | None:
    """What the database rejected and what the app raised, tied to the failed requests."""
    failures = m.get(M.HTTP_FAILURES) or 0
    if not failures:
        return None
    db = merge_groups([error_groups(before_final_stop(r.frames["db_errors"], r.frames["pglog"]),
                                    r.ctx.load_start)
                       for r in runs if r.ctx is not None])
    raised = [f[f["t"] >= r.ctx.load_start] for r in runs
              if r.ctx is not None and (f := r.frames.get("app_exceptions")) is not None]
    app = exception_groups(pd.concat(raised)) if raised else []
    if db and not app and db[0].sqlstate == "53300":
        return None  # the refusal finding tells it
    counts = {k: m.get(M.error_count(k)) or 0 for k in M.ERROR_KINDS}
    kind = max(counts, key=lambda k: counts[k])
    sentence = cause_sentence(failures, kind, db, app)
    return f"{name}: {sentence}" if sentence else None


def _cut(name: str, m: Mapping[str, Any], runs: Sequence[VariantRun]) -> str | None:
    """Requests cut at the platform's max_duration, with the limit and its origin."""
    cut = m.get(M.error_count("max_duration")) or 0
    if not cut or not runs:
        return None
    return cut_sentence(name, int(cut), runs[0].record.config, bool(m.get(M.HOST_SATURATED)))


def _platform(name: str, m: Mapping[str, Any]) -> str | None:
    cold = m.get(M.PLATFORM_COLD_STARTS)
    if cold is None:
        return None
    text = f"{name}: {format_count(cold)} cold starts"
    p50, p95 = m.get(M.PLATFORM_COLD_START_MS_P50), m.get(M.PLATFORM_COLD_START_MS_P95)
    if p50 is not None and p95 is not None:
        text += _cold_start_times(p50, p95, m.get(M.PLATFORM_COLD_START_CPU_MS_P50),
                                  m.get(M.PLATFORM_COLD_START_CPU_MS_P95),
                                  bool(m.get(M.HOST_SATURATED)))
    peak = m.get(M.PLATFORM_INSTANCES_PEAK)
    if peak is not None:
        text += f", up to {format_count(peak)} live instances"
    zombies = m.get(M.PLATFORM_ZOMBIES_PEAK)
    if zombies:
        text += f", {format_count(zombies)} zombies holding connections"
    return with_queueing_note(text, m.get(M.HOST_SATURATED))


def _cold_start_times(p50: float, p95: float, cpu50: float | None, cpu95: float | None,
                      saturated: bool) -> str:
    """`` (p50 …, p95 …)``; on a saturated machine both figures, wall and CPU: the CPU time
    is about what a cold start takes on an idle core, a figure that travels."""
    if cpu50 is None or cpu95 is None:
        return f" (p50 {fmt_ms(p50)}, p95 {fmt_ms(p95)})"
    if not saturated:
        return f" (p50 {fmt_ms(p50)}, p95 {fmt_ms(p95)}; CPU p50 {fmt_ms(cpu50)})"
    return (f" (p50 {fmt_duration(p50)} wall but {fmt_duration(cpu50)} of CPU: about "
            f"{fmt_duration(cpu50)} on an idle core; p95 {fmt_duration(p95)} wall, "
            f"{fmt_duration(cpu95)} of CPU)")


def fmt_duration(ms: float) -> str:
    """Milliseconds for prose, in seconds from one second on: ``480 ms``, ``7.1 s``."""
    return fmt_ms(ms) if ms < 1000.0 else f"{ms / 1000.0:,.1f} s"


def _init_failures(name: str, m: Mapping[str, Any], runs: Sequence[VariantRun]) -> str | None:
    """``N instances failed their init (answered 502); the first error: ...``."""
    failed = m.get(M.PLATFORM_INIT_FAILURES)
    if not failed:
        return None
    text = f"{name}: {format_count(failed)} instances failed their init (answered 502)"
    for run in runs:
        errors = run.frames["platform"].get("init_error")
        first = next((str(e) for e in errors if str(e)), "") if errors is not None else ""
        if first:
            return f"{text}; the first error: {first}"
    return text


WORK_AFTER = {
    "app": "the app's background tasks and what its framework does once the response is "
           "sent, such as FastAPI's yield dependencies closing a session or Flask's "
           "call_on_close",
    "builtin": "/background jobs",
}
"""What "work after the response" includes, for a user's app and for the built-in targets."""


def _background(name: str, m: Mapping[str, Any], runs: Sequence[VariantRun]) -> str | None:
    completed = m.get(M.BACKGROUND_COMPLETED)
    if completed is None:
        return None
    lost, delayed = m.get(M.BACKGROUND_LOST) or 0, m.get(M.BACKGROUND_DELAYED) or 0
    total = completed + lost
    if not total:  # nothing was counted (an app whose kind reports no such work)
        return None
    app = any("app" in r.record.config for r in runs)
    what = f"work after the response ({WORK_AFTER['app' if app else 'builtin']})"
    if not lost and not delayed:
        return f"{name}: all {format_count(total)} units of {what} ran on time"
    text = (
        f"{name}: of {format_count(total)} units of {what}, "
        f"{format_count(lost)} were lost and {format_count(delayed)} delayed"
    )
    late = m.get(M.BACKGROUND_DELAY_MS_P95)
    return text + (f" (p95 {fmt_ms(late)} late)" if late is not None else "")


def _state(name: str, m: Mapping[str, Any]) -> str | None:
    seen, divergence = m.get(M.STATE_INSTANCES_SEEN), m.get(M.STATE_COUNTER_DIVERGENCE)
    if seen is None or seen <= 1 or not divergence:
        return None
    return (
        f"{name}: /counter was answered by {format_count(seen)} instances, each with its own "
        "counter; "
        f"the highest counter missed {format_count(divergence)} increments"
    )


def _latency(variants: Mapping[str, VariantSummary]) -> str | None:
    p95 = {v: d.metrics.get(M.LATENCY_P95_MS) for v, d in variants.items()}
    known = {v: x for v, x in p95.items() if x is not None}
    if len(known) < 2:
        return None
    low, high = min(known, key=known.__getitem__), max(known, key=known.__getitem__)
    queued = [v for v in known if variants[v].metrics.get(M.HOST_SATURATED)]
    note = (f" (includes queueing on this machine in {', '.join(queued)}: its CPU was "
            "saturated)") if queued else ""
    return (
        f"p95 latency ranges from {fmt_ms(known[low])} ({low}) "
        f"to {fmt_ms(known[high])} ({high}){note}"
    )


def _host(name: str, m: Mapping[str, Any], runs: Sequence[VariantRun]) -> str | None:
    measured = next((r for r in runs if r.ctx is not None), None)
    if measured is None or measured.ctx is None:
        return None
    rows = load_window_rows(measured.frames["host"], measured.ctx.load_start,
                            measured.ctx.load_end)
    return saturation_finding(name, m, rows)


def _faults(name: str, faults: Sequence[FaultEffect]) -> list[str]:
    out = []
    for f in faults:
        if not f.ok:
            out.append(f"{name}: {f.kind} at {f.at_s:.1f} s could not be injected "
                       f"({f.detail})")
            continue
        text = f"{name}: {f.kind} at {f.at_s:.1f} s: "
        text += f"{format_count(f.errors)} failed requests" if f.errors else "no failed requests"
        text += (f", recovered after {f.recovery_s:.1f} s" if f.recovered
                 else ", the error rate never recovered")
        text += "; targets reconnected" if f.reconnected else "; targets did not reconnect"
        out.append(text)
    return out


def findings(variants: Mapping[str, VariantSummary], runs: Sequence[VariantRun]) -> list[str]:
    """Plain-language findings of a run, computed from its variants' summaries and frames."""
    out: list[str] = []
    for name, variant in variants.items():
        m = variant.metrics
        own = [r for r in runs if r.name == name]
        if variant.status != "complete":
            error = variant.error
            out.append(f"{name}: run {variant.status}" + (f" ({error})" if error else ""))
        for sentence in (
            _connections(name, m, own),
            _errors(name, m),
            _cause(name, m, own),
            _cut(name, m, own),
            _platform(name, m),
            _init_failures(name, m, own),
            _background(name, m, own),
            app_work_finding(name, m),
            _state(name, m),
            vercel_finding(name, variant),
            _host(name, m, own),
        ):
            if sentence:
                out.append(sentence)
        out.extend(_faults(name, variant.faults))
        if m.get(M.LOAD_SATURATED):
            out.append(
                f"{name}: Locust was CPU-saturated, so its latencies are inflated; "
                "use fewer users or more Locust processes"
            )
        if m.get(M.LOAD_WORKERS_SATURATED):
            out.append(
                f"{name}: the Locust of {m[M.LOAD_WORKERS_SATURATED]} of {m[M.LOAD_WORKERS]} "
                "worker hosts was CPU-saturated, so latencies are inflated; start more workers "
                "(locust/workers.json names them)"
            )
    latency = _latency(variants)
    if latency:
        out.append(latency)
    return out
