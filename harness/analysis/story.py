"""The whole story: one finding per trap, each problem variant beside its fix variant.

The shipped scenario ``article.toml`` names its variants after the traps (``VARIANTS``); a
run that has a trap's two variants gets that trap's sentence, from the measured medians.
Vercel's claim (a serverless function needs as many connections as requests in flight)
gets one sentence over every variant that measured both numbers. Pure: summary in,
sentences out; the report shows them in their own section.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.results import metric_names as M
from harness.results.metrics import METRICS
from harness.results.summary import VariantSummary
from harness.units import format_value

Metrics = Mapping[str, Any]


def _v(m: Metrics, name: str) -> str:
    """A metric's value for prose, in its glossary unit ("n/a" when not measured)."""
    value = m.get(name)
    return "n/a" if value is None else format_value(value, METRICS[name].unit)


def _lifecycle(p: Metrics, f: Metrics) -> str:
    return (f"one request per instance started {_v(p, M.PLATFORM_COLD_STARTS)} instances "
            f"(cold start p95 {_v(p, M.PLATFORM_COLD_START_MS_P95)}); with up to 10 requests "
            f"per instance {_v(f, M.PLATFORM_COLD_STARTS)} "
            f"(p95 {_v(f, M.PLATFORM_COLD_START_MS_P95)})")


def _state(p: Metrics, f: Metrics) -> str:
    return (f"a counter in each instance's memory was off in "
            f"{_v(p, M.STATE_COUNTER_DIVERGENCE)} answers across "
            f"{_v(p, M.STATE_INSTANCES_SEEN)} instances; kept in PostgreSQL, in "
            f"{_v(f, M.STATE_COUNTER_DIVERGENCE)}")


def _scaling(p: Metrics, f: Metrics) -> str:
    return (f"instances opened up to {_v(p, M.DB_CONNECTIONS_PEAK)} connections of "
            f"{_v(p, M.DB_MAX_CONNECTIONS)} and {_v(p, M.DB_REFUSED)} were refused; behind "
            f"PgBouncer {_v(f, M.DB_CONNECTIONS_PEAK)} connections, "
            f"{_v(f, M.DB_REFUSED)} refused")


def _leaks(p: Metrics, f: Metrics) -> str:
    return (f"idle and frozen instances held {_v(p, M.DB_CONNECTIONS_IDLE_MEAN)} idle "
            f"connections on average (up to {_v(p, M.DB_CONNECTIONS_IDLE_PEAK)}); draining "
            f"them before each freeze held {_v(f, M.DB_CONNECTIONS_IDLE_MEAN)} (up to "
            f"{_v(f, M.DB_CONNECTIONS_IDLE_PEAK)}), at the price of {_v(f, M.DB_CONNECTS)} "
            f"connects instead of {_v(p, M.DB_CONNECTS)} ({_v(f, M.DB_REFUSED)} refused "
            f"instead of {_v(p, M.DB_REFUSED)})")


def _background(p: Metrics, f: Metrics) -> str:
    return (f"work run after the response: {_v(p, M.BACKGROUND_LOST)} jobs lost and "
            f"{_v(p, M.BACKGROUND_DELAYED)} delayed; through a queue and a worker "
            f"{_v(f, M.BACKGROUND_LOST)} lost (p95 lateness "
            f"{_v(f, M.BACKGROUND_DELAY_MS_P95)})")


def _realtime(p: Metrics, f: Metrics) -> str:
    return (f"subscribers on instances were cut {_v(p, M.REALTIME_DISCONNECTS)} times and "
            f"missed {_v(p, M.REALTIME_LOST)} due messages (up to "
            f"{_v(p, M.REALTIME_LISTEN_CONNECTIONS_PEAK)} LISTEN connections); on a long-lived "
            f"server with one LISTEN connection they missed {_v(f, M.REALTIME_LOST)} "
            f"({_v(f, M.REALTIME_DISCONNECTS)} cuts)")


@dataclass(frozen=True)
class Trap:
    title: str
    problem: str  # the variant showing the trap
    fix: str  # the variant with its remedy
    sentence: Callable[[Metrics, Metrics], str]


TRAPS: tuple[Trap, ...] = (
    Trap("1. Process lifecycle (cold starts)", "serverless", "serverless-fluid", _lifecycle),
    Trap("2. Global state", "serverless", "serverless-state", _state),
    Trap("3. Scaling by multiplication", "serverless", "serverless-pgbouncer", _scaling),
    Trap("3b. Connections leaked while frozen", "serverless", "serverless-drain", _leaks),
    Trap("4. Background work after the response", "serverless", "serverless-queue",
         _background),
    Trap("5. Long-lived connections (LISTEN, server-sent events)", "serverless", "persistent",
         _realtime),
)
VARIANTS: tuple[str, ...] = tuple(dict.fromkeys(n for t in TRAPS for n in (t.problem, t.fix)))


def _vercel(variants: Mapping[str, VariantSummary]) -> str | None:
    parts = []
    for name, variant in variants.items():
        conns = variant.metrics.get(M.DB_CONNECTIONS_PEAK)
        flight = variant.metrics.get(M.HTTP_IN_FLIGHT_PEAK)
        if conns is None or flight is None:
            continue
        more = ("more connections" if conns > flight else
                "more requests" if flight > conns else "as many")
        parts.append(f"{name} {format_value(conns, 'count')} connections for "
                     f"{format_value(flight, 'count')} requests in flight ({more})")
    if not parts:
        return None
    return "peak connections beside peak requests in flight: " + "; ".join(parts)


def vercel_finding(name: str, variant: VariantSummary) -> str | None:
    """For a serverless variant: its peak connections beside its peak requests in flight,
    and which held more (Vercel, 2025: a function needs one connection per request in flight;
    more connections than that are connections leaked by suspended instances)."""
    conns = variant.metrics.get(M.DB_CONNECTIONS_PEAK)
    flight = variant.metrics.get(M.HTTP_IN_FLIGHT_PEAK)
    if variant.target != "serverless" or conns is None or flight is None:
        return None
    if conns > flight:
        verdict = "more connections than requests: connections held by idle or frozen instances"
    elif flight > conns:
        verdict = "fewer connections than requests"
    else:
        verdict = "one connection per request"
    return (f"{name}: at most {format_value(conns, 'count')} connections for at most "
            f"{format_value(flight, 'count')} requests in flight ({verdict})")


def story(variants: Mapping[str, VariantSummary]) -> list[tuple[str, str]]:
    """(title, finding) for each trap whose problem and fix variants are both in the run,
    then Vercel's claim; empty when the run has none of them."""
    out = [(t.title, t.sentence(variants[t.problem].metrics, variants[t.fix].metrics))
           for t in TRAPS if t.problem in variants and t.fix in variants]
    if not out:
        return []
    vercel = _vercel(variants)
    if vercel:
        out.append(("Vercel's claim", vercel))
    return out
