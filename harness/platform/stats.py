"""What the pool counts as it runs, for ``GET /__platform/stats`` (the records and their JSON:
harness.results.platform_stats)."""

from __future__ import annotations

from dataclasses import asdict

from harness.results.platform_stats import (
    MAX_EXCEPTIONS,
    MAX_INIT_ERRORS,
    PHASES,
    ColdStart,
    Counters,
    InitFailure,
    PlatformStats,
    RaisedException,
)


class StatsBook:
    """What the pool counts as it runs: counters, cold starts, distinct init failures, the
    unhandled exceptions instances reported."""

    def __init__(self) -> None:
        self.counters = Counters()
        self.cold_starts: list[ColdStart] = []
        self.init_failures: list[InitFailure] = []
        self.exceptions: list[RaisedException] = []

    def cold_start(self, started_wall: float, instance: str, duration_ms: float,
                   cpu_ms: float | None = None) -> None:
        self.cold_starts.append(ColdStart(started_wall, instance, duration_ms, cpu_ms))
        self.counters.cold_starts += 1

    def init_failed(self, started_wall: float, instance: str, error: str) -> None:
        """Count it; keep its text if it is new (at most MAX_INIT_ERRORS texts)."""
        self.counters.init_failures += 1
        known = {e.error for e in self.init_failures}
        if error not in known and len(self.init_failures) < MAX_INIT_ERRORS:
            self.init_failures.append(InitFailure(started_wall, instance, error))

    def raised(self, exception: RaisedException) -> None:
        """Count an unhandled exception; keep it (at most MAX_EXCEPTIONS)."""
        self.counters.exceptions += 1
        if len(self.exceptions) < MAX_EXCEPTIONS:
            self.exceptions.append(exception)

    def snapshot(self, t: float, phases: list[str], queue: int, background_pending: int,
                 since: int = 0, exceptions_since: int = 0) -> PlatformStats:
        """The stats at wall time ``t``, given each member's phase; cold starts since
        ``since`` and exceptions since ``exceptions_since`` (the cursors of an earlier
        snapshot)."""
        counts = dict.fromkeys(PHASES, 0)
        for phase in phases:
            counts[phase] += 1
        since = max(0, min(since, len(self.cold_starts)))
        exceptions_since = max(0, min(exceptions_since, len(self.exceptions)))
        return PlatformStats(
            t=t, phases=counts, queue=queue, counters=Counters(**asdict(self.counters)),
            cursor=len(self.cold_starts), events=self.cold_starts[since:],
            background_pending=background_pending, init_errors=list(self.init_failures),
            exception_cursor=len(self.exceptions), exceptions=self.exceptions[exceptions_since:])
