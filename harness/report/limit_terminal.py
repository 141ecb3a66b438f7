"""A ``pgstampede limit`` run in the terminal: one row per variant with its breaking point
and the advice (the ``limit.*`` metrics of ``summary.json``), then the verdict and the
findings, the limit's first."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.report.terminal import render_verdict
from harness.results import metric_names as M
from harness.results.metrics import METRICS
from harness.results.summary import Summary
from harness.units import format_value

COLUMNS: tuple[tuple[str, str], ...] = (
    (M.LIMIT_REACHED, "Broke"),
    (M.LIMIT_USERS, "Users"),
    (M.LIMIT_RPS, "RPS"),
    (M.LIMIT_IN_FLIGHT, "In flight"),
    (M.LIMIT_INSTANCES, "Instances"),
    (M.LIMIT_DB_CONNECTIONS, "DB conns"),
    (M.LIMIT_CONNECTIONS_PER_INSTANCE, "Conns/instance"),
    (M.LIMIT_RECOMMENDED_MAX_INSTANCES, "Max instances"),
    (M.LIMIT_RECOMMENDED_POOL_SIZE, "Pool size"),
    (M.LIMIT_VERIFIED, "Verified"),
)


def limit_table(summary: Summary) -> Table:
    table = Table(title=f"pgstampede limit · {summary.scenario}", title_justify="left")
    table.add_column("Variant", style="bold", no_wrap=True)
    for _, header in COLUMNS:
        table.add_column(header, justify="right")
    for name, variant in summary.variants.items():
        label = name if variant.status == "complete" else f"{name} ({variant.status})"
        table.add_row(label, *(format_value(variant.metrics.get(metric), METRICS[metric].unit)
                               for metric, _ in COLUMNS))
    return table


def render_limit(summary: Summary, console: Console) -> None:
    console.print(limit_table(summary))
    render_verdict(summary, console)
