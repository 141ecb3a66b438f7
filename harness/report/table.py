"""The comparison table: one row per variant, the same cells in the terminal and in HTML.

``comparison_rows`` is the only place that chooses the columns, formats the numbers and
grades each cell (``ok``, ``warn``, ``bad``; ``none`` when there is nothing to judge).
``format_metric`` formats any metric of the glossary by its unit.

Grades:
- peak connections, shown against the usable slots (``37 / 37 usable (40)``): bad at the
  usable slots, ``max_connections - 3`` (the app role's ceiling with the default
  ``superuser_reserved_connections``), warn from 80% of them;
- refused: bad when any; error rate: bad above 1%, warn above 0;
- latency: bad above 1 s, warn above 200 ms; pooler wait: bad above 1 s, warn above 100 ms;
- peak instances: bad when more instances than usable connections and no pooler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.results import metric_names as M
from harness.results.metrics import metric_info
from harness.results.summary import Summary, VariantSummary
from harness.units import NULL, format_count, format_ms, format_ratio, format_value

Severity = Literal["ok", "warn", "bad", "none"]
RESERVED_SLOTS = 3
DASH = NULL
NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    help: str
    metric: str


@dataclass(frozen=True)
class Cell:
    text: str
    severity: Severity
    value: float | None = None


@dataclass(frozen=True)
class ComparisonRow:
    variant: str
    status: str
    cells: tuple[Cell, ...]


COLUMNS: tuple[Column, ...] = (
    Column("connections", "Peak DB conns",
           "most client backends open at once (server log) / the slots an application role "
           "can take (max_connections less 3 reserved for superusers)", M.DB_CONNECTIONS_PEAK),
    Column("refused", "Refused", "connections refused by the server (53300), server log",
           M.DB_REFUSED),
    Column("error_rate", "Error rate", "failed requests / requests", M.HTTP_ERROR_RATE),
    Column("p50", "p50 ms", "median latency", M.LATENCY_P50_MS),
    Column("p95", "p95 ms", "95th percentile latency", M.LATENCY_P95_MS),
    Column("p99", "p99 ms", "99th percentile latency", M.LATENCY_P99_MS),
    Column("rps", "RPS", "requests per second over the load window", M.HTTP_RPS),
    Column("cold_starts", "Cold starts", "serverless instances started", M.PLATFORM_COLD_STARTS),
    Column("instances", "Peak instances", "most live serverless instances at once",
           M.PLATFORM_INSTANCES_PEAK),
    Column("pooler_wait", "Pooler wait", "longest PgBouncer client wait (most clients queued)",
           M.POOLER_MAXWAIT_MS_PEAK),
)


def format_metric(name: str, value: object) -> str:
    """A metric value for people, by the unit of its glossary entry; null is a dash."""
    if value is None:
        return DASH
    if not isinstance(value, int | float):
        return str(value)
    info = metric_info(name)
    return format_value(value, info.unit if info else "count")


def _grade(value: float | None, warn: float, bad: float) -> Severity:
    if value is None:
        return "none"
    if value > bad:
        return "bad"
    return "warn" if value > warn else "ok"


def _num(m: Mapping[str, Any], name: str) -> float | None:
    value = m.get(name)
    return float(value) if isinstance(value, int | float) else None


def _connections(m: Mapping[str, Any]) -> Cell:
    """``37 / 37 usable (40)``: the peak against the slots an application role can take."""
    peak, limit = _num(m, M.DB_CONNECTIONS_PEAK), _num(m, M.DB_MAX_CONNECTIONS)
    if peak is None:
        return Cell(DASH, "none")
    if not limit:
        return Cell(format_count(peak), "none", peak)
    usable = _num(m, M.DB_CONNECTIONS_USABLE)
    usable = max(limit - RESERVED_SLOTS, 0) if usable is None else usable
    severity: Severity = "ok"
    if peak >= usable:
        severity = "bad"
    elif peak >= 0.8 * usable:
        severity = "warn"
    text = f"{format_count(peak)} / {format_count(usable)} usable ({format_count(limit)})"
    return Cell(text, severity, peak)


def _refused(m: Mapping[str, Any]) -> Cell:
    refused = _num(m, M.DB_REFUSED)
    if refused is None:
        return Cell(DASH, "none")
    return Cell(format_count(refused), "bad" if refused > 0 else "ok", refused)


def _error_rate(m: Mapping[str, Any]) -> Cell:
    rate = _num(m, M.HTTP_ERROR_RATE)
    if rate is None:
        return Cell(DASH, "none")
    return Cell(format_ratio(rate), _grade(rate, 0.0, 0.01), rate)


def _latency(m: Mapping[str, Any], name: str) -> Cell:
    value = _num(m, name)
    if value is None:
        return Cell(DASH, "none")
    return Cell(format_ms(value), _grade(value, 200.0, 1000.0), value)


def _plain(m: Mapping[str, Any], name: str, decimals: int = 0) -> Cell:
    value = _num(m, name)
    if value is None:
        return Cell(DASH, "none")
    return Cell(f"{value:,.{decimals}f}", "none", value)


def _instances(m: Mapping[str, Any], pooler: str | None) -> Cell:
    peak, limit = _num(m, M.PLATFORM_INSTANCES_PEAK), _num(m, M.DB_MAX_CONNECTIONS)
    if peak is None:
        return Cell(DASH, "none")
    over = pooler in (None, "none") and limit is not None and peak > limit - RESERVED_SLOTS
    return Cell(format_count(peak), "bad" if over else "none", peak)


def _pooler_wait(m: Mapping[str, Any]) -> Cell:
    wait, queued = _num(m, M.POOLER_MAXWAIT_MS_PEAK), _num(m, M.POOLER_CL_WAITING_PEAK)
    if wait is None:
        return Cell(DASH, "none")
    text = f"{format_ms(wait)} ms" + (f" ({format_count(queued)} queued)" if queued else "")
    return Cell(text, _grade(wait, 100.0, 1000.0), wait)


def _unmeasured(cell: Cell, name: str, data: VariantSummary) -> Cell:
    """A null cell says so when its metric was not measured (never a quiet dash)."""
    why = data.nulls.get(name)
    if cell.value is None and cell.text == DASH and why is not None \
            and why.kind == "not measured":
        return Cell(NOT_MEASURED, "bad")
    return cell


def comparison_row(variant: str, data: VariantSummary) -> ComparisonRow:
    """The comparison cells of one variant of a summary."""
    m = data.metrics
    cells: tuple[Cell, ...] = (
        _connections(m),
        _refused(m),
        _error_rate(m),
        _latency(m, M.LATENCY_P50_MS),
        _latency(m, M.LATENCY_P95_MS),
        _latency(m, M.LATENCY_P99_MS),
        _plain(m, M.HTTP_RPS),
        _plain(m, M.PLATFORM_COLD_STARTS),
        _instances(m, data.pooler),
        _pooler_wait(m),
    )
    cells = tuple(_unmeasured(cell, column.metric, data)
                  for cell, column in zip(cells, COLUMNS, strict=True))
    return ComparisonRow(variant, data.status, cells)


def comparison_rows(summary: Summary) -> list[ComparisonRow]:
    """One row per variant of ``summary``, cells in ``COLUMNS`` order."""
    return [comparison_row(name, data) for name, data in summary.variants.items()]


def threshold_verdict(summary: Summary) -> tuple[str, Severity]:
    """The threshold verdict in words and its grade (``none`` without thresholds)."""
    thresholds = summary.thresholds
    if not thresholds:
        return "no thresholds", "none"
    failed = [t for t in thresholds if t.status == "fail"]
    if failed:
        return f"FAIL: {len(failed)} of {len(thresholds)} thresholds failed", "bad"
    held = sum(1 for t in thresholds if t.status == "pass")
    skipped = len(thresholds) - held
    if skipped:
        return f"PASS: {held} held, {skipped} not applicable", "ok"
    return f"PASS: all {len(thresholds)} thresholds held", "ok"
