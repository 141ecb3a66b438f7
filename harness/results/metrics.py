"""The metric glossary: every name that may appear in ``summary.json``.

Each metric has a unit, a direction (which way is better, used by baseline comparison),
a one-line meaning and what it depends on:

- ``system``: the logic of the system under test decides it (connections, refusals, errors by
  kind, instances, lost work, counter divergence). The same code and scenario give the same
  figure on any machine, so a baseline from another machine still judges it.
- ``machine``: how fast the host is decides it (latency, throughput, CPU, memory, cold-start
  and other times, queue depths that follow from them, saturation). It is compared only
  against a baseline recorded on the same machine (:mod:`harness.check.comparable`).

A yes/no metric (unit ``bool``) over repeats is combined by its rule (:data:`RepeatRule`):
``all`` (true only when true in every repeat) or ``any`` (true when true in one). The
default is the fail-safe one: a metric for which true is good (``faults.reconnected``) needs
every repeat, one for which true is bad (``load.saturated``) needs one.

Names with a ``<kind>`` or ``<role>`` part are families. This registry is the single source
for the README glossary, threshold validation and baseline comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.results import metric_names as M

Direction = Literal["lower", "higher", "none"]
Depends = Literal["system", "machine"]
RepeatRule = Literal["all", "any"]
REPEAT_RULES: dict[RepeatRule, str] = {
    "all": "true only when true in every repeat",
    "any": "true when true in any repeat",
}

ERROR_KINDS = M.ERROR_KINDS
HOST_ROLES = M.HOST_ROLES


@dataclass(frozen=True)
class MetricInfo:
    name: str
    unit: str
    direction: Direction
    meaning: str
    depends: Depends = "system"
    over_repeats: RepeatRule | None = None  # a bool; None: the fail-safe rule (repeat_rule)

    @property
    def repeat_rule(self) -> RepeatRule | None:
        """How a yes/no metric is combined over repeats (None for a number): as declared,
        else the fail-safe rule: ``all`` when true is better, ``any`` otherwise."""
        if self.unit != "bool":
            return None
        if self.over_repeats is not None:
            return self.over_repeats
        return "all" if self.direction == "higher" else "any"


_BASE: tuple[MetricInfo, ...] = (
    MetricInfo(M.HTTP_REQUESTS, "count", "none", "requests sent by Locust", depends="machine"),
    MetricInfo(M.HTTP_FAILURES, "count", "lower", "requests that failed (any error kind)"),
    MetricInfo(M.HTTP_ERROR_RATE, "ratio", "lower", "failures / requests (0..1)"),
    MetricInfo(M.HTTP_RPS, "1/s", "higher", "requests per second over the load window",
               depends="machine"),
    MetricInfo(M.HTTP_IN_FLIGHT_PEAK, "count", "none",
               "most requests open at once (per-request log): what Vercel's claim compares "
               "db.connections.peak with", depends="machine"),
    MetricInfo(M.LATENCY_P50_MS, "ms", "lower", "median latency, from the per-request log",
               depends="machine"),
    MetricInfo(M.LATENCY_P95_MS, "ms", "lower", "95th percentile latency", depends="machine"),
    MetricInfo(M.LATENCY_P99_MS, "ms", "lower", "99th percentile latency", depends="machine"),
    MetricInfo(M.LATENCY_MAX_MS, "ms", "lower", "slowest request", depends="machine"),
    MetricInfo(M.DB_CONNECTIONS_PEAK, "count", "lower",
               "most client backends open at once, every connection counted from the server "
               "log's connection and disconnection lines (the sampled peak when the log is not "
               "read)"),
    MetricInfo(M.DB_CONNECTIONS_PEAK_SAMPLED, "count", "lower",
               "most client backends in one pg_stat_activity sample (every 100 ms: misses "
               "short bursts)"),
    MetricInfo(M.DB_CONNECTIONS_MEAN, "count", "lower", "mean client backends"),
    MetricInfo(M.DB_CONNECTIONS_IDLE_PEAK, "count", "lower", "most idle client backends at once"),
    MetricInfo(M.DB_CONNECTIONS_IDLE_MEAN, "count", "lower",
               "mean idle client backends (held by idle or frozen instances)"),
    MetricInfo(M.DB_MAX_CONNECTIONS, "count", "none", "the server's max_connections"),
    MetricInfo(M.DB_CONNECTS, "count", "lower", "connections authorised (server log)"),
    MetricInfo(M.DB_REFUSED, "count", "lower", "connections refused with 53300 (server log)"),
    MetricInfo(M.DB_CONNECTIONS_USABLE, "count", "none",
               "connections an application role can open: max_connections less the 3 "
               "reserved for superusers"),
    MetricInfo(M.DB_ERRORS, "count", "lower",
               "ERROR and FATAL lines of the server log from the load start (refusals "
               "included) until the harness stops the server: what the database rejected, "
               "by SQLSTATE in the report"),
    MetricInfo(M.APP_EXCEPTIONS, "count", "lower",
               "unhandled exceptions that escaped your app ([app]) from the load start, on "
               "either target: by type, message and the app's own line in the report"),
    MetricInfo(
        M.TIME_TO_FIRST_REFUSAL_S, "s", "higher", "seconds from load start to first refusal",
        depends="machine"),
    MetricInfo(M.POOLER_CL_WAITING_PEAK, "count", "lower", "most clients queued in PgBouncer",
               depends="machine"),
    MetricInfo(M.POOLER_MAXWAIT_MS_PEAK, "ms", "lower", "longest PgBouncer client wait",
               depends="machine"),
    MetricInfo(M.POOLER_SV_ACTIVE_PEAK, "count", "none", "most PgBouncer server conns in use"),
    MetricInfo(M.POOLER_REFUSED, "count", "lower",
               "clients the pooler itself turned away (its log: max_client_conn)"),
    MetricInfo(M.POOLER_STATE_LEAKS, "count", "lower",
               "/read_state answers that found another request's session state"),
    MetricInfo(M.PLATFORM_INSTANCES_PEAK, "count", "lower", "most live instances at once"),
    MetricInfo(M.PLATFORM_COLD_STARTS, "count", "lower", "instances started"),
    MetricInfo(M.PLATFORM_COLD_START_MS_P50, "ms", "lower", "median cold start", depends="machine"),
    MetricInfo(M.PLATFORM_COLD_START_MS_P95, "ms", "lower", "95th percentile cold start",
               depends="machine"),
    MetricInfo(M.PLATFORM_COLD_START_CPU_MS_P50, "ms", "lower",
               "median CPU time of a cold start: the instance's own CPU from spawn to ready "
               "(the kernel's per-task accounting), about what it takes on an idle core",
               depends="machine"),
    MetricInfo(M.PLATFORM_COLD_START_CPU_MS_P95, "ms", "lower",
               "95th percentile CPU time of a cold start", depends="machine"),
    MetricInfo(M.PLATFORM_FROZEN_PEAK, "count", "none", "most frozen instances at once"),
    MetricInfo(M.PLATFORM_ZOMBIES_PEAK, "count", "lower", "most abandoned (zombie) instances"),
    MetricInfo(M.PLATFORM_REAPED, "count", "none", "instances reaped after idle_timeout"),
    MetricInfo(M.PLATFORM_THROTTLED, "count", "lower", "requests rejected with 429"),
    MetricInfo(
        M.PLATFORM_INIT_FAILURES, "count", "lower", "instances whose init failed (answered 502)"
    ),
    MetricInfo(M.PLATFORM_QUEUE_PEAK, "count", "lower", "most requests waiting for an instance",
               depends="machine"),
    MetricInfo(M.PLATFORM_BUSY_MS, "ms", "lower",
               "instance time spent busy (unfrozen, work in flight), summed over instances",
               depends="machine"),
    MetricInfo(M.BACKGROUND_COMPLETED, "count", "higher",
               "work after the response that completed: the built-in /background jobs, or a "
               "response of your app with work still running once it was sent (background "
               "tasks, and a framework's clean-up such as FastAPI's yield dependencies)"),
    MetricInfo(M.BACKGROUND_DELAYED, "count", "lower",
               "work after the response completed late (frozen with its instance)"),
    MetricInfo(M.BACKGROUND_LOST, "count", "lower",
               "work after the response that never completed (its instance killed or "
               "abandoned first)"),
    MetricInfo(M.BACKGROUND_DELAY_MS_P95, "ms", "lower",
               "p95 lateness of the built-in /background jobs",
               depends="machine"),
    MetricInfo(M.APP_WORK_EXPECTED, "count", "none",
               "[app.expect]: 2xx responses whose work the database should show"),
    MetricInfo(M.APP_WORK_MISSING, "count", "lower",
               "[app.expect]: work the database does not show (expected minus counted, per "
               "request, at least 0): lost or not done"),
    MetricInfo(M.STATE_INSTANCES_SEEN, "count", "none", "distinct instances that answered"),
    MetricInfo(
        M.STATE_COUNTER_DIVERGENCE, "count", "lower", "/counter requests minus highest counter"
    ),
    MetricInfo(M.REALTIME_SUBSCRIBERS_PEAK, "count", "none",
               "most /events streams open at once"),
    MetricInfo(M.REALTIME_PUBLISHED, "count", "none", "messages published (their table)"),
    MetricInfo(M.REALTIME_DELIVERED, "count", "higher",
               "messages received by subscribers (distinct per subscriber)"),
    MetricInfo(M.REALTIME_LOST, "count", "lower",
               "messages due to a subscriber while subscribed or reconnecting, never received"),
    MetricInfo(M.REALTIME_DISCONNECTS, "count", "lower",
               "streams ended early (cut at max_duration, server gone, broken)"),
    MetricInfo(M.REALTIME_DELIVERY_MS_P95, "ms", "lower",
               "95th percentile from publish to arrival", depends="machine"),
    MetricInfo(M.REALTIME_LISTEN_CONNECTIONS_PEAK, "count", "none",
               "most backends in LISTEN at once (pg_stat_activity)"),
    MetricInfo(M.LOAD_SATURATED, "bool", "lower",
               "Locust busy (CPU used + run-queue wait) above 90% of a core in more than 10% "
               "of the load (harness/results/saturation.py)", depends="machine"),
    MetricInfo(M.LOAD_WORKERS, "count", "none",
               "pgstampede workers that sent the load (--workers)"),
    MetricInfo(M.LOAD_WORKERS_SATURATED, "count", "lower",
               "worker hosts whose Locust was saturated, by the rule of load.saturated "
               "(workers.json names them)",
               depends="machine"),
    MetricInfo(M.LOAD_WORKERS_CPU_LOCUST_MAX, "%", "none",
               "busiest worker's mean Locust CPU (100 = one core)", depends="machine"),
    MetricInfo(M.LOAD_WORKERS_CPU_HOST_MAX, "%", "none",
               "busiest worker host's mean CPU (100 = all its cores)", depends="machine"),
    MetricInfo(M.HOST_SATURATED, "bool", "none",
               "the machine's CPU was full (cores >90% busy or tasks waiting) in >10% of "
               "the load", depends="machine"),
    MetricInfo(M.HOST_SATURATED_SHARE, "ratio", "none",
               "share of the load's samples with the machine's CPU full", depends="machine"),
    MetricInfo(M.HARNESS_CPU_SHARE, "ratio", "none",
               "CPU of Locust, gateway, template and collectors / CPU of the whole run",
               depends="machine"),
    MetricInfo(M.FAULTS_COUNT, "count", "none", "faults injected"),
    MetricInfo(M.FAULTS_ERRORS, "count", "lower", "failed requests from fault to recovery",
               depends="machine"),
    MetricInfo(M.FAULTS_RECOVERY_S_MAX, "s", "lower", "slowest recovery after a fault",
               depends="machine"),
    MetricInfo(M.FAULTS_UNRECOVERED, "count", "lower", "faults never recovered from"),
    MetricInfo(M.FAULTS_RECONNECTED, "bool", "higher", "targets reconnected after every fault"),
    MetricInfo(M.FAULTS_CONNECTS_PER_S_PEAK, "1/s", "lower",
               "most connections authorised in one second after a restart fault",
               depends="machine"),
    MetricInfo(M.FAULTS_REFUSED_53300, "count", "lower",
               "connections refused with 53300 (too many clients) after a restart fault"),
    MetricInfo(M.FAULTS_REFUSED_57P03, "count", "lower",
               "connections refused with 57P03 (the server shutting down or starting up) after "
               "a restart fault"),
    MetricInfo(M.FAULTS_POOL_REFILL_S_MAX, "s", "lower",
               "seconds after a restart until the server's connections were back",
               depends="machine"),
    # pgstampede limit (docs/limit.md): the breaking point and the setting that holds
    MetricInfo(M.LIMIT_REACHED, "bool", "none",
               "the load broke the variant (1), or it held up to --max-users (0)",
               depends="machine"),
    MetricInfo(M.LIMIT_USERS, "count", "higher",
               "users at the break (the least that broke), or the most that held",
               depends="machine"),
    MetricInfo(M.LIMIT_RPS, "1/s", "higher", "requests per second at the break, or the most "
               "that held", depends="machine"),
    MetricInfo(M.LIMIT_IN_FLIGHT, "count", "higher",
               "most requests in flight at the break, or the most that held", depends="machine"),
    MetricInfo(M.LIMIT_INSTANCES, "count", "higher",
               "live instances at the break, or the most that held (serverless)"),
    MetricInfo(M.LIMIT_DB_CONNECTIONS, "count", "none",
               "client backends at the break, or the most while it held"),
    MetricInfo(M.LIMIT_CONNECTIONS_PER_INSTANCE, "count", "lower",
               "the app's connections per live instance, median over the ramp before the "
               "break (serverless)"),
    MetricInfo(M.LIMIT_RECOMMENDED_MAX_INSTANCES, "count", "higher",
               "largest max instances keeping the app's connections under its limit minus "
               "headroom (serverless; null when --verify withdrew it)"),
    MetricInfo(M.LIMIT_RECOMMENDED_POOL_SIZE, "count", "none",
               "per-instance pool size that fits at the observed instances, or the pooler's "
               "pool_size (serverless)"),
    MetricInfo(M.LIMIT_VERIFIED, "bool", "higher",
               "--verify: the recommended max instances held at the load that broke it",
               depends="machine"),
)

_KIND_MEANINGS: dict[str, str] = {
    "timeout": "requests failed with timeout (no answer within request_timeout, queueing "
               "included)",
    "max_duration": "requests cut at the serverless platform's max_duration (504; the "
                    "platform killed their instance, as a function's timeout does)",
}

def _role_direction(role: str) -> Direction:
    """The harness's own processes have no better direction: Locust's CPU grows with the load
    it sends, and neither tells how the system under test did (a CI gate fails only on it)."""
    return "none" if role in M.HARNESS_ROLES else "lower"


def _role_note(role: str) -> str:
    return "; the harness's own, informational" if role in M.HARNESS_ROLES else ""


_FAMILIES: tuple[MetricInfo, ...] = tuple(
    MetricInfo(M.error_count(kind), "count", "lower",
               _KIND_MEANINGS.get(kind, f"requests failed with {kind}"))
    for kind in ERROR_KINDS
) + tuple(
    MetricInfo(M.host_cpu_mean(role), "%", _role_direction(role),
               f"mean CPU of {role} (100 = one core){_role_note(role)}", depends="machine")
    for role in HOST_ROLES
) + tuple(
    MetricInfo(M.host_rss_peak_mb(role), "MiB", _role_direction(role),
               f"peak RSS of {role}{_role_note(role)}", depends="machine")
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


def repeat_rule(name: str) -> RepeatRule:
    """How metric ``name``, a yes/no one, is combined over repeats (``any`` for a name
    outside the registry)."""
    info = METRICS.get(name)
    return (info.repeat_rule if info is not None else None) or "any"


def glossary_markdown() -> str:
    """The README's metric table (kept in sync by a test)."""
    lines = ["| metric | unit | better | depends on | meaning |", "|---|---|---|---|---|"]
    for m in METRICS.values():
        better = {"lower": "lower", "higher": "higher", "none": "—"}[m.direction]
        meaning = m.meaning
        if m.repeat_rule is not None:
            meaning += f"; over repeats: {m.repeat_rule} ({REPEAT_RULES[m.repeat_rule]})"
        lines.append(f"| `{m.name}` | {m.unit} | {better} | {m.depends} | {meaning} |")
    return "\n".join(lines)
