"""A check's outcome for people and for CI: a rich text table, JSON, JUnit XML and Markdown.

Tables show what needs a look (regressions, improvements, changes that were not significant,
metrics null on one side only); ``verbose`` shows every comparison. JSON and JUnit always
hold everything.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.check.baseline import Comparison
from harness.check.outcome import CheckOutcome
from harness.check.thresholds import ThresholdResult
from harness.units import format_change, format_value

_STYLES = {"pass": "green", "fail": "bold red", "n/a": "yellow", "regressed": "bold red",
           "improved": "green", "not significant": "yellow", "changed": "cyan",
           "unchanged": "dim", "skipped": "dim", "not compared": "dim"}
_ICONS = {"pass": "✅", "fail": "❌", "n/a": "➖", "regressed": "❌", "improved": "🟢",
          "not significant": "〰️", "changed": "ℹ️", "unchanged": "▫️", "skipped": "➖",
          "not compared": "➖"}


def notable(comparisons: Iterable[Comparison]) -> list[Comparison]:
    """The comparisons worth showing by default: anything but unchanged, not compared (another
    machine's timings) or null on both sides."""
    return [c for c in comparisons if c.verdict not in ("unchanged", "skipped", "not compared")
            or (c.verdict == "skipped" and (c.baseline is not None or c.current is not None))]


def headline(outcome: CheckOutcome) -> str:
    """One line: PASS or FAIL and why."""
    if outcome.passed:
        return "PASS"
    parts = []
    if outcome.failed_thresholds:
        parts.append(f"{len(outcome.failed_thresholds)} threshold(s) failed")
    if outcome.regressions:
        parts.append(f"{len(outcome.regressions)} regression(s)")
    return f"FAIL: {', '.join(parts)}"


# ---------------------------------------------------------------- text (rich)

def print_report(outcome: CheckOutcome, console: Console, *, verbose: bool = False) -> None:
    """Print the thresholds table, the comparison table and the verdict."""
    console.print(Text(f"pgstampede check · {outcome.scenario} · {outcome.run_dir}",
                       style="bold"))
    if outcome.thresholds:
        console.print(_threshold_table(outcome.thresholds))
    else:
        console.print("No thresholds in the scenario.")
    if outcome.baseline_path is not None:
        for note in outcome.baseline_notes:
            console.print(Text(f"note: {note}", style="yellow"))
        rows = list(outcome.comparisons) if verbose else notable(outcome.comparisons)
        console.print(_comparison_table(outcome, rows))
        console.print(Text(_counts_line(outcome, len(rows))))
    style = "bold green" if outcome.passed else "bold red"
    console.print(Text(f"{headline(outcome)} (exit {outcome.exit_code})", style=style))


def _threshold_table(results: Sequence[ThresholdResult]) -> Table:
    table = Table(title="Thresholds", title_justify="left")
    for column in ("status", "threshold", "value", "reason"):
        table.add_column(column)
    for r in results:
        table.add_row(Text(r.status, style=_STYLES[r.status]), Text(r.expr),
                      format_value(r.value, r.unit), Text(r.reason))
    return table


def _comparison_table(outcome: CheckOutcome, rows: Sequence[Comparison]) -> Table:
    title = f"Baseline {outcome.baseline_path}"
    if outcome.baseline_created:
        title += f" (recorded {outcome.baseline_created})"
    table = Table(title=Text(title), title_justify="left")
    for column in ("variant", "metric", "baseline", "current", "change", "verdict", "why"):
        table.add_column(column, justify="right" if column in ("baseline", "current",
                                                                "change") else "left")
    for c in rows:
        table.add_row(Text(c.variant), Text(c.metric), format_value(c.baseline, c.unit),
                      format_value(c.current, c.unit), format_change(c.change),
                      Text(c.verdict, style=_STYLES[c.verdict]), Text(c.reason))
    return table


def _counts_line(outcome: CheckOutcome, shown: int) -> str:
    counts = ", ".join(f"{n} {v}" for v, n in outcome.verdict_counts().items() if n)
    hidden = len(outcome.comparisons) - shown
    kinds = "unchanged, not compared" if outcome.verdict_counts()["not compared"] \
        else "unchanged"
    suffix = f" ({hidden} {kinds} or not applicable not shown; --verbose shows them)" \
        if hidden else ""
    return f"{len(outcome.comparisons)} comparisons: {counts or 'none'}{suffix}"


# ---------------------------------------------------------------- JSON

def json_report(outcome: CheckOutcome) -> str:
    """The ``--json`` output: :meth:`CheckOutcome.as_dict` as indented JSON."""
    return json.dumps(outcome.as_dict(), indent=2)


# ---------------------------------------------------------------- JUnit XML

def junit_xml(outcome: CheckOutcome) -> str:
    """JUnit XML: a testsuite of thresholds and one of baseline comparisons.

    A failed threshold or a regression is a ``<failure>``; a threshold that is not
    applicable or a comparison with a null side is ``<skipped>``.
    """
    prefix = f"pgstampede.{outcome.scenario}"
    root = ET.Element("testsuites", name=f"pgstampede check {outcome.scenario}")
    suites = [_suite(f"{prefix}.thresholds",
                     [(f"{prefix}.thresholds.{t.variant}", t.expr,
                       _threshold_status(t), t.reason) for t in outcome.thresholds])]
    if outcome.baseline_path is not None:
        suites.append(_suite(f"{prefix}.baseline",
                             [(f"{prefix}.baseline.{c.variant}", c.metric,
                               _comparison_status(c), _comparison_text(c))
                              for c in outcome.comparisons]))
    for suite in suites:
        root.append(suite)
    _set_counts(root, suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def _threshold_status(result: ThresholdResult) -> str:
    return {True: "pass", False: "failure", None: "skipped"}[result.ok]


def _comparison_status(comparison: Comparison) -> str:
    return {"regressed": "failure", "skipped": "skipped",
            "not compared": "skipped"}.get(comparison.verdict, "pass")


def _comparison_text(c: Comparison) -> str:
    values = (f"baseline {format_value(c.baseline, c.unit)}, current "
              f"{format_value(c.current, c.unit)}, change {format_change(c.change)}")
    return f"{c.verdict}: {c.reason} ({values})"


def _suite(name: str, cases: Sequence[tuple[str, str, str, str]]) -> ET.Element:
    suite = ET.Element("testsuite", name=name)
    for classname, case_name, status, message in cases:
        case = ET.SubElement(suite, "testcase", classname=classname, name=case_name, time="0")
        if status == "failure":
            failure = ET.SubElement(case, "failure", message=message,
                                    type="threshold" if ".thresholds." in classname
                                    else "regression")
            failure.text = message
        elif status == "skipped":
            ET.SubElement(case, "skipped", message=message)
        else:
            ET.SubElement(case, "system-out").text = message
    cases_counts = [status for _, _, status, _ in cases]
    _set_attrs(suite, len(cases), cases_counts.count("failure"), cases_counts.count("skipped"))
    return suite


def _set_counts(root: ET.Element, suites: Sequence[ET.Element]) -> None:
    totals = [sum(int(s.get(key, "0")) for s in suites) for key in ("tests", "failures",
                                                                      "skipped")]
    _set_attrs(root, *totals)


def _set_attrs(element: ET.Element, tests: int, failures: int, skipped: int) -> None:
    element.set("tests", str(tests))
    element.set("failures", str(failures))
    element.set("errors", "0")
    element.set("skipped", str(skipped))
    element.set("time", "0")


# ---------------------------------------------------------------- Markdown

def markdown_report(outcome: CheckOutcome) -> str:
    """Markdown for a CI job summary (e.g. appended to ``$GITHUB_STEP_SUMMARY``)."""
    icon = "✅" if outcome.passed else "❌"
    lines = [f"## {icon} pgstampede check `{outcome.scenario}`: {headline(outcome)}", "",
             f"Run folder: `{outcome.run_dir}`", ""]
    lines += _markdown_thresholds(outcome.thresholds)
    if outcome.baseline_path is not None:
        lines += _markdown_comparisons(outcome)
    return "\n".join(lines).rstrip() + "\n"


def _markdown_thresholds(results: Sequence[ThresholdResult]) -> list[str]:
    lines = ["### Thresholds", ""]
    if not results:
        return lines + ["No thresholds in the scenario.", ""]
    lines += ["| | threshold | value | reason |", "|---|---|---:|---|"]
    lines += [f"| {_ICONS[r.status]} {r.status} | `{_cell(r.expr)}` | "
              f"{format_value(r.value, r.unit)} | {_cell(r.reason)} |" for r in results]
    return lines + [""]


def _markdown_comparisons(outcome: CheckOutcome) -> list[str]:
    created = f", recorded {outcome.baseline_created}" if outcome.baseline_created else ""
    lines = ["### Baseline comparison", "", f"Baseline: `{outcome.baseline_path}`{created}.",
             ""]
    lines += [f"> {_cell(note)}" for note in outcome.baseline_notes]
    lines += [""] if outcome.baseline_notes else []
    rows = notable(outcome.comparisons)
    if rows:
        lines += _comparison_rows(rows)
    else:
        lines.append("No metric changed beyond its minimum change.")
    counts = ", ".join(f"{n} {v}" for v, n in outcome.verdict_counts().items() if n)
    lines += ["", f"{len(outcome.comparisons)} comparisons: {counts or 'none'}.", "",
              "<details><summary>All comparisons</summary>", ""]
    lines += _comparison_rows(outcome.comparisons)
    return lines + ["", "</details>", ""]


def _comparison_rows(rows: Sequence[Comparison]) -> list[str]:
    lines = ["| variant | metric | baseline | current | change | verdict | why |",
             "|---|---|---:|---:|---:|---|---|"]
    lines += [f"| {_cell(c.variant)} | `{c.metric}` | {format_value(c.baseline, c.unit)} | "
              f"{format_value(c.current, c.unit)} | {format_change(c.change)} | "
              f"{_ICONS[c.verdict]} {c.verdict} | {_cell(c.reason)} |" for c in rows]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
