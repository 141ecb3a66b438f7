"""Is a variant run's measurement whole? Problems found from its health records and files.

A variant run is **incomplete** when (each gives one :class:`Problem` naming the source):
- the database collector (``pg_activity``) covered less than ``min_coverage`` of the load
  window: the time within half a gap allowance (5 intervals, at least 1 s) of a sample,
  counted in ``db.parquet`` itself, so an emptied file is caught too; the time of an
  injected fault (to its end + ``FAULT_GRACE_S``) is left out of both;
- the server log collector (``pg_log``) did not read the log to its end;
- the run recorded a problem (the background-job table could not be read), or a frame
  file is missing, unreadable, emptied or changed (:mod:`harness.results.folder`).
"""

from __future__ import annotations

from harness.results.folder import LoadedVariant
from harness.results.records import CollectorHealth, Problem, VariantRecord

DB_COLLECTOR = "pg_activity"
LOG_COLLECTOR = "pg_log"
GAP_FACTOR = 5.0
MIN_GAP_S = 1.0
FAULT_GRACE_S = 5.0
"""After an injected fault ends, the time a collector may take to reconnect: the sampler's
longest backoff between retries (``Sampler(max_backoff_s=5.0)``)."""


def _health(record: VariantRecord, name: str) -> CollectorHealth | None:
    return next((h for h in record.health if h.name == name), None)


def _failure(health: CollectorHealth | None) -> str:
    if health is None or not health.failures:
        return ""
    return (f"; {health.failures} failed call(s), the first: {health.first_error}")


def _excused(record: VariantRecord) -> list[tuple[float, float]]:
    """The intervals an injected fault excuses: from its start to its end plus the
    collector's reconnect allowance (a planned outage is not a measurement gap)."""
    return [(f.start, max(f.end, f.start) + FAULT_GRACE_S) for f in record.faults]


def db_coverage(loaded: LoadedVariant) -> float | None:
    """Share of the load window the database collector covered (None before the load).

    Each sample covers the time within half a *gap allowance* of it (:func:`gap_allowance`:
    a few sampling intervals, at least a second), so a sampler that runs late on a busy
    machine still covers the window, and only a real hole in the record counts against it.
    The intervals of injected faults are left out of both the window and the samples.
    """
    record = loaded.record
    if record.load_start is None or record.load_end is None:
        return None
    start, end = record.load_start, record.load_end
    excused = _merged([(max(a, start), min(b, end)) for a, b in _excused(record)
                       if b > start and a < end])
    window = (end - start) - _length(excused)
    if window <= 0:
        return None
    health = _health(record, DB_COLLECTOR)
    interval = health.interval_s if health is not None else record.collect_interval_s
    half = gap_allowance(interval) / 2
    t = loaded.frames["db"]["t"]
    spans = [(max(float(x) - half, start), min(float(x) + half, end)) for x in t.unique()
             if start - half <= x <= end + half and not _inside(float(x), excused)]
    covered = _length(_merged([s for s in spans if s[1] > s[0]] + excused)) - _length(excused)
    return max(0.0, min(1.0, covered / window))


def gap_allowance(interval_s: float) -> float:
    """How far apart two database samples may be and still cover the time between them."""
    return max(GAP_FACTOR * interval_s, MIN_GAP_S)


def _inside(x: float, intervals: list[tuple[float, float]]) -> bool:
    return any(a <= x < b for a, b in intervals)


def _length(intervals: list[tuple[float, float]]) -> float:
    return sum(b - a for a, b in intervals)


def _merged(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def assess(loaded: LoadedVariant, min_coverage: float) -> tuple[Problem, ...]:
    """Every problem of a variant run: recorded, in its files, and in its collectors' health."""
    record = loaded.record
    problems = list(loaded.problems)
    coverage = db_coverage(loaded)
    if coverage is not None and coverage < min_coverage:
        health = _health(record, DB_COLLECTOR)
        problems.append(Problem(
            source=DB_COLLECTOR, t=health.first_error_t if health else None,
            reason=f"covered {coverage:.0%} of the load window (at least {min_coverage:.0%} "
                   f"needed){_failure(health)}"))
    log = _health(record, LOG_COLLECTOR)
    if log is not None and log.read_to_end is False:
        problems.append(Problem(source=LOG_COLLECTOR, t=log.first_error_t,
                                reason=f"the server log was not read to its end"
                                       f"{_failure(log)}"))
    return tuple(problems)
