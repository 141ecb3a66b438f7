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

from harness.results.metrics import METRICS
from harness.results.summary import VariantSummary
from harness.units import format_value

Metrics = Mapping[str, Any]


def _v(m: Metrics, name: str) -> str:
    """A metric's value for prose, in its glossary unit ("n/a" when not measured)."""
    value = m.get(name)
    return "n/a" if value is None else format_value(value, METRICS[name].unit)


def _lifecycle(p: Metrics, f: Metrics) -> str:
    return (f"one request per instance started {_v(p, 'platform.cold_starts')} instances "
            f"(cold start p95 {_v(p, 'platform.cold_start_ms.p95')}); with up to 10 requests "
            f"per instance {_v(f, 'platform.cold_starts')} "
            f"(p95 {_v(f, 'platform.cold_start_ms.p95')})")


def _state(p: Metrics, f: Metrics) -> str:
    return (f"a counter in each instance's memory was off in "
            f"{_v(p, 'state.counter_divergence')} answers across "
            f"{_v(p, 'state.instances_seen')} instances; kept in PostgreSQL, in "
            f"{_v(f, 'state.counter_divergence')}")


def _scaling(p: Metrics, f: Metrics) -> str:
    return (f"instances opened up to {_v(p, 'db.connections.peak')} connections of "
            f"{_v(p, 'db.max_connections')} and {_v(p, 'db.refused')} were refused; behind "
            f"PgBouncer {_v(f, 'db.connections.peak')} connections, "
            f"{_v(f, 'db.refused')} refused")


def _leaks(p: Metrics, f: Metrics) -> str:
    return (f"idle and frozen instances held {_v(p, 'db.connections.idle.mean')} idle "
            f"connections on average (up to {_v(p, 'db.connections.idle.peak')}); draining "
            f"them before each freeze held {_v(f, 'db.connections.idle.mean')} (up to "
            f"{_v(f, 'db.connections.idle.peak')}), at the price of {_v(f, 'db.connects')} "
            f"connects instead of {_v(p, 'db.connects')} ({_v(f, 'db.refused')} refused "
            f"instead of {_v(p, 'db.refused')})")


def _background(p: Metrics, f: Metrics) -> str:
    return (f"work run after the response: {_v(p, 'background.lost')} jobs lost and "
            f"{_v(p, 'background.delayed')} delayed; through a queue and a worker "
            f"{_v(f, 'background.lost')} lost (p95 lateness "
            f"{_v(f, 'background.delay_ms.p95')})")


def _realtime(p: Metrics, f: Metrics) -> str:
    return (f"subscribers on instances were cut {_v(p, 'realtime.disconnects')} times and "
            f"missed {_v(p, 'realtime.lost')} due messages (up to "
            f"{_v(p, 'realtime.listen_connections.peak')} LISTEN connections); on a long-lived "
            f"server with one LISTEN connection they missed {_v(f, 'realtime.lost')} "
            f"({_v(f, 'realtime.disconnects')} cuts)")


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
        conns = variant.metrics.get("db.connections.peak")
        flight = variant.metrics.get("http.in_flight.peak")
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
    conns = variant.metrics.get("db.connections.peak")
    flight = variant.metrics.get("http.in_flight.peak")
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
