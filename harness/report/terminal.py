"""The summary in the terminal: the comparison table, the verdict and the findings.

The table's cells come from ``comparison_rows``, so the terminal shows exactly the
numbers of the HTML report.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.report.table import COLUMNS, Severity, comparison_rows, threshold_verdict
from harness.results.summary import Summary

STYLES: dict[Severity, str] = {"ok": "green", "warn": "yellow", "bad": "bold red", "none": ""}


def summary_table(summary: Summary) -> Table:
    """The comparison table as a rich Table (one row per variant)."""
    table = Table(title=f"pgstampede · {summary.scenario}", title_justify="left")
    table.add_column("Variant", style="bold", no_wrap=True)
    for column in COLUMNS:
        table.add_column(column.header, justify="right")
    for row in comparison_rows(summary):
        name = row.variant if row.status == "complete" else f"{row.variant} ({row.status})"
        cells = [Text(cell.text, style=STYLES[cell.severity]) for cell in row.cells]
        table.add_row(name, *cells)
    return table


WIDE_ENOUGH = 120  # columns the table needs; narrower terminals get one block per variant


def summary_blocks(summary: Summary) -> list[Text]:
    """The comparison table as one block per variant, for narrow terminals (same cells)."""
    blocks = [Text(f"pgstampede · {summary.scenario}", style="italic")]
    for row in comparison_rows(summary):
        name = row.variant if row.status == "complete" else f"{row.variant} ({row.status})"
        block = Text(name, style="bold")
        for column, cell in zip(COLUMNS, row.cells, strict=True):
            block.append(f"\n  {column.header:<16} ")
            block.append(cell.text, style=STYLES[cell.severity])
        blocks.append(block)
    return blocks


def render_summary(summary: Summary, console: Console) -> None:
    """Print the comparison table, what is incomplete, the verdict and the findings."""
    if console.width >= WIDE_ENOUGH:
        console.print(summary_table(summary))
    else:
        for block in summary_blocks(summary):
            console.print(block)
    render_verdict(summary, console)


def render_verdict(summary: Summary, console: Console) -> None:
    """Print what is incomplete, the verdict and the findings."""
    if summary.status != "complete":
        console.print(Text(f"Run {summary.status}: results are partial.", style="bold yellow"))
    for problem in summary.problems:
        console.print(Text(f"  incomplete: {problem}", style="yellow"))
    verdict, severity = threshold_verdict(summary)
    console.print(Text("Thresholds: ", style="bold") + Text(verdict, style=STYLES[severity]))
    marks = {"pass": Text("✓ ", style="green"), "fail": Text("✗ ", style="bold red"),
             "n/a": Text("– ", style="yellow")}
    for threshold in summary.thresholds:
        line = f"{threshold.expr}  ({threshold.status}: {threshold.reason})"
        console.print(Text("  ") + marks[threshold.status] + Text(line))
    if summary.findings:
        console.print(Text("Findings", style="bold"))
        for note in summary.findings:
            console.print(Text(f"  • {note}"))
