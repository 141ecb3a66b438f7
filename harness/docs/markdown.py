"""Small Markdown helpers of the generated references."""

from __future__ import annotations

from collections.abc import Sequence

REGENERATE = "make docs, i.e. .venv/bin/python -m harness.docs"
GENERATED = ("<!-- Generated from the code by `make docs` (python -m harness.docs): do not edit "
             "by hand. -->")


def cell(text: str) -> str:
    """``text`` fit for a table cell (pipes escaped, one line)."""
    return " ".join(text.replace("|", "\\|").split())


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
