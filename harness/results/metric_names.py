"""Metric names as constants: code names a metric through these, never as a string literal.

Each constant is its metric's name upper-cased, dots as underscores (``http.in_flight.peak`` is
``HTTP_IN_FLIGHT_PEAK``), so a misspelt name fails the type check instead of reading as null.
The registry (:mod:`harness.results.metrics`) describes every one of them; the families
(``errors.<kind>``, ``host.cpu.<role>.mean``, ``host.rss.<role>.peak_mb``) are spelt by the
functions at the end. ``tests/unit/test_metric_names.py`` checks that the two agree and that
no other module of the harness spells a metric name itself.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

ErrorKind = Literal[
    "db_too_many_connections",
    "db_pool_timeout",
    "db_unavailable",
    "db_other",
    "http_5xx",
    "http_4xx",
    "http_429",
    "timeout",
    "max_duration",
    "connection_error",
    "pooler_full",
    "websocket_refused",
]
"""The kinds a failed request is counted under (the ``kind`` column of ``requests``)."""
ERROR_KINDS: tuple[ErrorKind, ...] = get_args(ErrorKind)

HostRole = Literal["postgres", "pgbouncer", "pgpool", "target", "gateway", "instances",
                   "locust"]
"""The process roles the host collector measures."""
HOST_ROLES: tuple[HostRole, ...] = get_args(HostRole)
HARNESS_ROLES: tuple[str, ...] = ("locust", "gateway", "harness")
"""The harness's own process roles: Locust, the platform emulator's gateway, and the harness
process with its collectors (``harness`` is a row of the host frame, not a ``HostRole``).
Their CPU and memory describe the measurement, not the system under test."""

HTTP_REQUESTS: Final = "http.requests"
HTTP_FAILURES: Final = "http.failures"
HTTP_ERROR_RATE: Final = "http.error_rate"
HTTP_RPS: Final = "http.rps"
HTTP_IN_FLIGHT_PEAK: Final = "http.in_flight.peak"

LATENCY_P50_MS: Final = "latency.p50_ms"
LATENCY_P95_MS: Final = "latency.p95_ms"
LATENCY_P99_MS: Final = "latency.p99_ms"
LATENCY_MAX_MS: Final = "latency.max_ms"

DB_CONNECTIONS_PEAK: Final = "db.connections.peak"
DB_CONNECTIONS_PEAK_SAMPLED: Final = "db.connections.peak_sampled"
DB_CONNECTIONS_USABLE: Final = "db.connections.usable"
DB_ERRORS: Final = "db.errors"

APP_EXCEPTIONS: Final = "app.exceptions"
DB_CONNECTIONS_MEAN: Final = "db.connections.mean"
DB_CONNECTIONS_IDLE_PEAK: Final = "db.connections.idle.peak"
DB_CONNECTIONS_IDLE_MEAN: Final = "db.connections.idle.mean"
DB_MAX_CONNECTIONS: Final = "db.max_connections"
DB_CONNECTS: Final = "db.connects"
DB_REFUSED: Final = "db.refused"
TIME_TO_FIRST_REFUSAL_S: Final = "time_to_first_refusal_s"

POOLER_CL_WAITING_PEAK: Final = "pooler.cl_waiting.peak"
POOLER_MAXWAIT_MS_PEAK: Final = "pooler.maxwait_ms.peak"
POOLER_SV_ACTIVE_PEAK: Final = "pooler.sv_active.peak"
POOLER_REFUSED: Final = "pooler.refused"
POOLER_STATE_LEAKS: Final = "pooler.state_leaks"

PLATFORM_INSTANCES_PEAK: Final = "platform.instances.peak"
PLATFORM_COLD_STARTS: Final = "platform.cold_starts"
PLATFORM_COLD_START_MS_P50: Final = "platform.cold_start_ms.p50"
PLATFORM_COLD_START_MS_P95: Final = "platform.cold_start_ms.p95"
PLATFORM_COLD_START_CPU_MS_P50: Final = "platform.cold_start_cpu_ms.p50"
PLATFORM_COLD_START_CPU_MS_P95: Final = "platform.cold_start_cpu_ms.p95"
PLATFORM_FROZEN_PEAK: Final = "platform.frozen.peak"
PLATFORM_ZOMBIES_PEAK: Final = "platform.zombies.peak"
PLATFORM_REAPED: Final = "platform.reaped"
PLATFORM_THROTTLED: Final = "platform.throttled"
PLATFORM_INIT_FAILURES: Final = "platform.init_failures"
PLATFORM_QUEUE_PEAK: Final = "platform.queue.peak"
PLATFORM_BUSY_MS: Final = "platform.busy_ms"

BACKGROUND_COMPLETED: Final = "background.completed"
BACKGROUND_DELAYED: Final = "background.delayed"
BACKGROUND_LOST: Final = "background.lost"
BACKGROUND_DELAY_MS_P95: Final = "background.delay_ms.p95"

APP_WORK_EXPECTED: Final = "app.work.expected"
APP_WORK_MISSING: Final = "app.work.missing"

STATE_INSTANCES_SEEN: Final = "state.instances_seen"
STATE_COUNTER_DIVERGENCE: Final = "state.counter_divergence"

REALTIME_SUBSCRIBERS_PEAK: Final = "realtime.subscribers.peak"
REALTIME_PUBLISHED: Final = "realtime.published"
REALTIME_DELIVERED: Final = "realtime.delivered"
REALTIME_LOST: Final = "realtime.lost"
REALTIME_DISCONNECTS: Final = "realtime.disconnects"
REALTIME_DELIVERY_MS_P95: Final = "realtime.delivery_ms.p95"
REALTIME_LISTEN_CONNECTIONS_PEAK: Final = "realtime.listen_connections.peak"

LOAD_SATURATED: Final = "load.saturated"
LOAD_WORKERS: Final = "load.workers"
LOAD_WORKERS_SATURATED: Final = "load.workers.saturated"
LOAD_WORKERS_CPU_LOCUST_MAX: Final = "load.workers.cpu.locust.max"
LOAD_WORKERS_CPU_HOST_MAX: Final = "load.workers.cpu.host.max"

HOST_SATURATED: Final = "host.saturated"
HOST_SATURATED_SHARE: Final = "host.saturated_share"

HARNESS_CPU_SHARE: Final = "harness.cpu_share"

FAULTS_COUNT: Final = "faults.count"
FAULTS_ERRORS: Final = "faults.errors"
FAULTS_RECOVERY_S_MAX: Final = "faults.recovery_s.max"
FAULTS_UNRECOVERED: Final = "faults.unrecovered"
FAULTS_RECONNECTED: Final = "faults.reconnected"
FAULTS_CONNECTS_PER_S_PEAK: Final = "faults.connects_per_s.peak"
FAULTS_REFUSED_53300: Final = "faults.refused_53300"
FAULTS_REFUSED_57P03: Final = "faults.refused_57p03"
FAULTS_POOL_REFILL_S_MAX: Final = "faults.pool_refill_s.max"

LIMIT_REACHED: Final = "limit.reached"
LIMIT_USERS: Final = "limit.users"
LIMIT_RPS: Final = "limit.rps"
LIMIT_IN_FLIGHT: Final = "limit.in_flight"
LIMIT_INSTANCES: Final = "limit.instances"
LIMIT_DB_CONNECTIONS: Final = "limit.db_connections"
LIMIT_CONNECTIONS_PER_INSTANCE: Final = "limit.connections_per_instance"
LIMIT_RECOMMENDED_MAX_INSTANCES: Final = "limit.recommended_max_instances"
LIMIT_RECOMMENDED_POOL_SIZE: Final = "limit.recommended_pool_size"
LIMIT_VERIFIED: Final = "limit.verified"


def error_count(kind: ErrorKind) -> str:
    """``errors.<kind>``: requests failed with that kind (one of ``ERROR_KINDS``)."""
    return f"errors.{kind}"


def host_cpu_mean(role: HostRole) -> str:
    """``host.cpu.<role>.mean``: mean CPU of a process role (one of ``HOST_ROLES``)."""
    return f"host.cpu.{role}.mean"


def host_rss_peak_mb(role: HostRole) -> str:
    """``host.rss.<role>.peak_mb``: peak RSS of a process role (one of ``HOST_ROLES``)."""
    return f"host.rss.{role}.peak_mb"
