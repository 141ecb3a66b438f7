"""The comparison table: one row per variant, the same cells in the terminal and in HTML.

``comparison_rows`` is the only place that chooses the columns, formats the numbers and
grades each cell (``ok``, ``warn``, ``bad``; ``none`` when there is nothing to judge).
``format_metric`` formats any metric of the glossary by its unit.

Grades:
- peak connections: bad at ``max_connections - 3`` or more (the app role's ceiling with
  the default ``superuser_reserved_connections``), warn from 80% of ``max_connections``;
- refused: bad when any; error rate: bad above 1%, warn above 0;
- latency: bad above 1 s, warn above 200 ms; pooler wait: bad above 1 s, warn above 100 ms;
- peak instances: bad when more instances than usable connections and no pooler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.analysis.findings import fmt_count
from harness.analysis.findings import fmt_ms as prose_ms
from harness.results.metrics import metric_info

Severity = Literal["ok", "warn", "bad", "none"]
RESERVED_SLOTS = 3
DASH = "—"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    help: str


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
    Column("connections", "Peak DB conns", "most client backends at once / max_connections"),
    Column("refused", "Refused", "connections refused by the server (53300), server log"),
    Column("error_rate", "Error rate", "failed requests / requests"),
    Column("p50", "p50 ms", "median latency"),
    Column("p95", "p95 ms", "95th percentile latency"),
    Column("p99", "p99 ms", "99th percentile latency"),
    Column("rps", "RPS", "requests per second over the load window"),
    Column("cold_starts", "Cold starts", "serverless instances started"),
    Column("instances", "Peak instances", "most live serverless instances at once"),
    Column("pooler_wait", "Pooler wait", "longest PgBouncer client wait (most clients queued)"),
)


def fmt_number(value: float, decimals: int = 0) -> str:
    """``1,234``; ``12.5`` with decimals."""
    return f"{value:,.{decimals}f}"


def fmt_ms(value: float) -> str:
    """Milliseconds without unit: 0.42, 4.2, 180, 1,250 (as in the findings' prose)."""
    return prose_ms(value).removesuffix(" ms")


def fmt_ratio(value: float) -> str:
    """A ratio as a percentage: 0%, <0.01%, 1.25%, 96.0%."""
    if value == 0:
        return "0%"
    if value < 0.0001:
        return "<0.01%"
    return f"{value * 100:.2f}%" if value < 0.1 else f"{value * 100:.1f}%"


_BY_UNIT: dict[str, Callable[[float], str]] = {
    "count": fmt_count,
    "ratio": fmt_ratio,
    "ms": lambda v: f"{fmt_ms(v)} ms",
    "s": lambda v: f"{v:,.1f} s",
    "1/s": lambda v: fmt_number(v, 1),
    "%": lambda v: f"{v:,.1f}%",
    "MiB": lambda v: f"{v:,.1f} MiB",
}


def format_metric(name: str, value: object) -> str:
    """A metric value for people, by the unit of its glossary entry; null is a dash."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float):
        return str(value)
    info = metric_info(name)
    formatter = _BY_UNIT.get(info.unit if info else "count", fmt_count)
    return formatter(float(value))


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
    peak, limit = _num(m, "db.connections.peak"), _num(m, "db.max_connections")
    if peak is None:
        return Cell(DASH, "none")
    if not limit:
        return Cell(fmt_count(peak), "none", peak)
    severity: Severity = "ok"
    if peak >= limit - RESERVED_SLOTS:
        severity = "bad"
    elif peak >= 0.8 * limit:
        severity = "warn"
    return Cell(f"{fmt_count(peak)} / {fmt_count(limit)}", severity, peak)


def _refused(m: Mapping[str, Any]) -> Cell:
    refused = _num(m, "db.refused")
    if refused is None:
        return Cell(DASH, "none")
    return Cell(fmt_count(refused), "bad" if refused > 0 else "ok", refused)


def _error_rate(m: Mapping[str, Any]) -> Cell:
    rate = _num(m, "http.error_rate")
    if rate is None:
        return Cell(DASH, "none")
    return Cell(fmt_ratio(rate), _grade(rate, 0.0, 0.01), rate)


def _latency(m: Mapping[str, Any], name: str) -> Cell:
    value = _num(m, name)
    if value is None:
        return Cell(DASH, "none")
    return Cell(fmt_ms(value), _grade(value, 200.0, 1000.0), value)


def _plain(m: Mapping[str, Any], name: str, decimals: int = 0) -> Cell:
    value = _num(m, name)
    if value is None:
        return Cell(DASH, "none")
    return Cell(fmt_number(value, decimals), "none", value)


def _instances(m: Mapping[str, Any], pooler: str | None) -> Cell:
    peak, limit = _num(m, "platform.instances.peak"), _num(m, "db.max_connections")
    if peak is None:
        return Cell(DASH, "none")
    over = pooler in (None, "none") and limit is not None and peak > limit - RESERVED_SLOTS
    return Cell(fmt_count(peak), "bad" if over else "none", peak)


def _pooler_wait(m: Mapping[str, Any]) -> Cell:
    wait, queued = _num(m, "pooler.maxwait_ms.peak"), _num(m, "pooler.cl_waiting.peak")
    if wait is None:
        return Cell(DASH, "none")
    text = f"{fmt_ms(wait)} ms" + (f" ({fmt_count(queued)} queued)" if queued else "")
    return Cell(text, _grade(wait, 100.0, 1000.0), wait)


def comparison_row(variant: str, data: Mapping[str, Any]) -> ComparisonRow:
    """The comparison cells of one variant of a summary."""
    m: Mapping[str, Any] = data.get("metrics") or {}
    cells = (
        _connections(m),
        _refused(m),
        _error_rate(m),
        _latency(m, "latency.p50_ms"),
        _latency(m, "latency.p95_ms"),
        _latency(m, "latency.p99_ms"),
        _plain(m, "http.rps"),
        _plain(m, "platform.cold_starts"),
        _instances(m, data.get("pooler")),
        _pooler_wait(m),
    )
    return ComparisonRow(variant, str(data.get("status") or "complete"), cells)


def comparison_rows(summary: Mapping[str, Any]) -> list[ComparisonRow]:
    """One row per variant of ``summary`` (summary.json dict), cells in ``COLUMNS`` order."""
    variants: Mapping[str, Any] = summary.get("variants") or {}
    return [comparison_row(name, data) for name, data in variants.items()]


def threshold_verdict(summary: Mapping[str, Any]) -> tuple[str, Severity]:
    """The threshold verdict in words and its grade (``none`` without thresholds)."""
    thresholds = summary.get("thresholds") or []
    if not thresholds:
        return "no thresholds", "none"
    failed = [t for t in thresholds if not t.get("ok")]
    if failed:
        return f"FAIL: {len(failed)} of {len(thresholds)} thresholds failed", "bad"
    return f"PASS: all {len(thresholds)} thresholds held", "ok"
