"""The summary in the terminal: the comparison table, the verdict and the findings.

The table's cells come from ``comparison_rows``, so the terminal shows exactly the
numbers of the HTML report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.report.table import COLUMNS, Severity, comparison_rows, threshold_verdict

STYLES: dict[Severity, str] = {"ok": "green", "warn": "yellow", "bad": "bold red", "none": ""}


def summary_table(summary: Mapping[str, Any]) -> Table:
    """The comparison table as a rich Table (one row per variant)."""
    table = Table(title=f"pgstampede · {summary.get('scenario', '')}", title_justify="left")
    table.add_column("Variant", style="bold", no_wrap=True)
    for column in COLUMNS:
        table.add_column(column.header, justify="right")
    for row in comparison_rows(summary):
        name = row.variant if row.status == "complete" else f"{row.variant} ({row.status})"
        cells = [Text(cell.text, style=STYLES[cell.severity]) for cell in row.cells]
        table.add_row(name, *cells)
    return table


WIDE_ENOUGH = 120  # columns the table needs; narrower terminals get one block per variant


def summary_blocks(summary: Mapping[str, Any]) -> list[Text]:
    """The comparison table as one block per variant, for narrow terminals (same cells)."""
    blocks = [Text(f"pgstampede · {summary.get('scenario', '')}", style="italic")]
    for row in comparison_rows(summary):
        name = row.variant if row.status == "complete" else f"{row.variant} ({row.status})"
        block = Text(name, style="bold")
        for column, cell in zip(COLUMNS, row.cells, strict=True):
            block.append(f"\n  {column.header:<16} ")
            block.append(cell.text, style=STYLES[cell.severity])
        blocks.append(block)
    return blocks


def render_summary(summary: Mapping[str, Any], console: Console) -> None:
    """Print the comparison table, the threshold verdict and the findings."""
    if console.width >= WIDE_ENOUGH:
        console.print(summary_table(summary))
    else:
        for block in summary_blocks(summary):
            console.print(block)
    status = summary.get("status")
    if status not in (None, "complete"):
        console.print(Text(f"Run {status}: results are partial.", style="bold yellow"))
    verdict, severity = threshold_verdict(summary)
    console.print(Text("Thresholds: ", style="bold") + Text(verdict, style=STYLES[severity]))
    for threshold in summary.get("thresholds") or []:
        mark = Text("✓ ", style="green") if threshold.get("ok") else Text("✗ ", style="bold red")
        line = f"{threshold.get('expr')}  (value {threshold.get('value')})"
        console.print(Text("  ") + mark + Text(line))
    notes = summary.get("findings") or []
    if notes:
        console.print(Text("Findings", style="bold"))
        for note in notes:
            console.print(Text(f"  • {note}"))
