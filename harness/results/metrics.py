"""The metric glossary: every name that may appear in ``summary.json``.

Each metric has a unit, a direction (which way is better, used by baseline comparison),
a one-line meaning and what it depends on:

- ``system``: the logic of the system under test decides it (connections, refusals, errors by
  kind, instances, lost work, counter divergence). The same code and scenario give the same
  figure on any machine, so a baseline from another machine still judges it.
- ``machine``: how fast the host is decides it (latency, throughput, CPU, memory, cold-start
  and other times, queue depths that follow from them, saturation). It is compared only
  against a baseline recorded on the same machine (:mod:`harness.check.comparable`).

Names with a ``<kind>`` or ``<role>`` part are families. This registry is the single source
for the README glossary, threshold validation and baseline comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["lower", "higher", "none"]
Depends = Literal["system", "machine"]

ERROR_KINDS: tuple[str, ...] = (
    "db_too_many_connections",
    "db_pool_timeout",
    "db_unavailable",
    "db_other",
    "http_5xx",
    "http_4xx",
    "http_429",
    "timeout",
    "connection_error",
    "pooler_full",
)

HOST_ROLES: tuple[str, ...] = ("postgres", "pgbouncer", "target", "gateway", "instances", "locust")


@dataclass(frozen=True)
class MetricInfo:
    name: str
    unit: str
    direction: Direction
    meaning: str
    depends: Depends = "system"


_BASE: tuple[MetricInfo, ...] = (
    MetricInfo("http.requests", "count", "none", "requests sent by Locust", depends="machine"),
    MetricInfo("http.failures", "count", "lower", "requests that failed (any error kind)"),
    MetricInfo("http.error_rate", "ratio", "lower", "failures / requests (0..1)"),
    MetricInfo("http.rps", "1/s", "higher", "requests per second over the load window",
               depends="machine"),
    MetricInfo("http.in_flight.peak", "count", "none",
               "most requests open at once (per-request log): what Vercel's claim compares "
               "db.connections.peak with", depends="machine"),
    MetricInfo("latency.p50_ms", "ms", "lower", "median latency, from the per-request log",
               depends="machine"),
    MetricInfo("latency.p95_ms", "ms", "lower", "95th percentile latency", depends="machine"),
    MetricInfo("latency.p99_ms", "ms", "lower", "99th percentile latency", depends="machine"),
    MetricInfo("latency.max_ms", "ms", "lower", "slowest request", depends="machine"),
    MetricInfo("db.connections.peak", "count", "lower", "most client backends at once"),
    MetricInfo("db.connections.mean", "count", "lower", "mean client backends"),
    MetricInfo("db.connections.idle.peak", "count", "lower", "most idle client backends at once"),
    MetricInfo("db.connections.idle.mean", "count", "lower",
               "mean idle client backends (held by idle or frozen instances)"),
    MetricInfo("db.max_connections", "count", "none", "the server's max_connections"),
    MetricInfo("db.connects", "count", "lower", "connections authorised (server log)"),
    MetricInfo("db.refused", "count", "lower", "connections refused with 53300 (server log)"),
    MetricInfo(
        "time_to_first_refusal_s", "s", "higher", "seconds from load start to first refusal",
        depends="machine"),
    MetricInfo("pooler.cl_waiting.peak", "count", "lower", "most clients queued in PgBouncer",
               depends="machine"),
    MetricInfo("pooler.maxwait_ms.peak", "ms", "lower", "longest PgBouncer client wait",
               depends="machine"),
    MetricInfo("pooler.sv_active.peak", "count", "none", "most PgBouncer server conns in use"),
    MetricInfo("pooler.refused", "count", "lower",
               "clients the pooler itself turned away (its log: max_client_conn)"),
    MetricInfo("pooler.state_leaks", "count", "lower",
               "/read_state answers that found another request's session state"),
    MetricInfo("platform.instances.peak", "count", "lower", "most live instances at once"),
    MetricInfo("platform.cold_starts", "count", "lower", "instances started"),
    MetricInfo("platform.cold_start_ms.p50", "ms", "lower", "median cold start", depends="machine"),
    MetricInfo("platform.cold_start_ms.p95", "ms", "lower", "95th percentile cold start",
               depends="machine"),
    MetricInfo("platform.frozen.peak", "count", "none", "most frozen instances at once"),
    MetricInfo("platform.zombies.peak", "count", "lower", "most abandoned (zombie) instances"),
    MetricInfo("platform.reaped", "count", "none", "instances reaped after idle_timeout"),
    MetricInfo("platform.throttled", "count", "lower", "requests rejected with 429"),
    MetricInfo(
        "platform.init_failures", "count", "lower", "instances whose init failed (answered 502)"
    ),
    MetricInfo("platform.queue.peak", "count", "lower", "most requests waiting for an instance",
               depends="machine"),
    MetricInfo("platform.busy_ms", "ms", "lower",
               "instance time spent busy (unfrozen, work in flight), summed over instances",
               depends="machine"),
    MetricInfo("background.completed", "count", "higher", "background jobs that completed"),
    MetricInfo("background.delayed", "count", "lower", "background jobs completed late"),
    MetricInfo("background.lost", "count", "lower", "background jobs that never ran"),
    MetricInfo("background.delay_ms.p95", "ms", "lower", "p95 lateness of background jobs",
               depends="machine"),
    MetricInfo("state.instances_seen", "count", "none", "distinct instances that answered"),
    MetricInfo(
        "state.counter_divergence", "count", "lower", "/counter requests minus highest counter"
    ),
    MetricInfo("realtime.subscribers.peak", "count", "none",
               "most /events streams open at once"),
    MetricInfo("realtime.published", "count", "none", "messages published (their table)"),
    MetricInfo("realtime.delivered", "count", "higher",
               "messages received by subscribers (distinct per subscriber)"),
    MetricInfo("realtime.lost", "count", "lower",
               "messages due to a subscriber while subscribed or reconnecting, never received"),
    MetricInfo("realtime.disconnects", "count", "lower",
               "streams ended early (cut at max_duration, server gone, broken)"),
    MetricInfo("realtime.delivery_ms.p95", "ms", "lower",
               "95th percentile from publish to arrival", depends="machine"),
    MetricInfo("realtime.listen_connections.peak", "count", "none",
               "most backends in LISTEN at once (pg_stat_activity)"),
    MetricInfo("load.saturated", "bool", "lower", "Locust ran above 90% of a core",
               depends="machine"),
    MetricInfo("load.workers", "count", "none",
               "pgstampede workers that sent the load (--workers)"),
    MetricInfo("load.workers.saturated", "count", "lower",
               "worker hosts whose Locust ran above 90% of a core (workers.json names them)",
               depends="machine"),
    MetricInfo("load.workers.cpu.locust.max", "%", "none",
               "busiest worker's mean Locust CPU (100 = one core)", depends="machine"),
    MetricInfo("load.workers.cpu.host.max", "%", "none",
               "busiest worker host's mean CPU (100 = all its cores)", depends="machine"),
    MetricInfo("host.saturated", "bool", "none",
               "the machine's CPU was full (cores >90% busy or tasks waiting) in >10% of "
               "the load", depends="machine"),
    MetricInfo("host.saturated_share", "ratio", "none",
               "share of the load's samples with the machine's CPU full", depends="machine"),
    MetricInfo("harness.cpu_share", "ratio", "none",
               "CPU of Locust, gateway, template and collectors / CPU of the whole run",
               depends="machine"),
    MetricInfo("faults.count", "count", "none", "faults injected"),
    MetricInfo("faults.errors", "count", "lower", "failed requests from fault to recovery",
               depends="machine"),
    MetricInfo("faults.recovery_s.max", "s", "lower", "slowest recovery after a fault",
               depends="machine"),
    MetricInfo("faults.unrecovered", "count", "lower", "faults never recovered from"),
    MetricInfo("faults.reconnected", "bool", "higher", "targets reconnected after every fault"),
    MetricInfo("faults.connects_per_s.peak", "1/s", "lower",
               "most connections authorised in one second after a restart fault",
               depends="machine"),
    MetricInfo("faults.refused_53300", "count", "lower",
               "connections refused with 53300 (too many clients) after a restart fault"),
    MetricInfo("faults.refused_57p03", "count", "lower",
               "connections refused with 57P03 (starting up) after a restart fault"),
    MetricInfo("faults.pool_refill_s.max", "s", "lower",
               "seconds after a restart until the server's connections were back",
               depends="machine"),
)

_FAMILIES: tuple[MetricInfo, ...] = tuple(
    MetricInfo(f"errors.{kind}", "count", "lower", f"requests failed with {kind}")
    for kind in ERROR_KINDS
) + tuple(
    MetricInfo(f"host.cpu.{role}.mean", "%", "lower", f"mean CPU of {role} (100 = one core)",
               depends="machine")
    for role in HOST_ROLES
) + tuple(
    MetricInfo(f"host.rss.{role}.peak_mb", "MiB", "lower", f"peak RSS of {role}",
               depends="machine")
    for role in HOST_ROLES
)

METRICS: dict[str, MetricInfo] = {m.name: m for m in _BASE + _FAMILIES}


def metric_info(name: str) -> MetricInfo | None:
    """The glossary entry of ``name``, or None when no such metric exists."""
    return METRICS.get(name)


def machine_dependent(name: str) -> bool:
    """Whether the host's speed decides ``name`` (an unknown metric counts as machine: it is
    never judged against another machine's baseline without ``--compare-all``)."""
    info = METRICS.get(name)
    return info is None or info.depends == "machine"


def glossary_markdown() -> str:
    """The README's metric table (kept in sync by a test)."""
    lines = ["| metric | unit | better | depends on | meaning |", "|---|---|---|---|---|"]
    for m in METRICS.values():
        better = {"lower": "lower", "higher": "higher", "none": "—"}[m.direction]
        lines.append(f"| `{m.name}` | {m.unit} | {better} | {m.depends} | {m.meaning} |")
    return "\n".join(lines)
