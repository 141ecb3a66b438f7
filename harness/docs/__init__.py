"""Reference documentation generated from the code, and the check that the docs match it.

``python -m harness.docs`` (``make docs``) writes ``docs/reference/`` — the command line
(from ``harness.cli``'s parser), every scenario key (from the loader's declarations,
``harness.scenario.reference``), the exit codes (``harness.errors.EXIT_CODES``) and the metric
glossary (``harness.results.metrics``) — and fills the generated blocks of the hand-written
docs (``<!-- metrics:start -->`` ... ``<!-- metrics:end -->``, ``exit-codes``).
``python -m harness.docs --check`` writes nothing: it lists what is stale and every place a
doc names a flag, a scenario key or a metric that does not exist, holds an absolute path
outside the repository, or has a TOML block the scenario loader refuses
(:mod:`harness.docs.lint`). ``tests/unit/test_docs.py`` runs the same check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from harness.docs.markdown import GENERATED, REGENERATE

REFERENCE = Path("docs") / "reference"


def _cli() -> str:
    from harness.cli import build_parser
    from harness.docs.cli_reference import cli_markdown

    return cli_markdown(build_parser())


def _scenario() -> str:
    from harness.docs.scenario_reference import scenario_markdown

    return scenario_markdown()


def _exit_codes() -> str:
    from harness.errors import exit_code_table

    return "\n".join(["# Exit codes", "", GENERATED, "",
                      "Every `pgstampede` command exits with one of these codes (from "
                      "`harness/errors.py`, `ExitCode` and `EXIT_CODES`; `pgstampede --help` "
                      "prints them too). Bad input is one line on stderr.", "",
                      exit_code_table(), ""])


def _metrics() -> str:
    from harness.results.metrics import glossary_markdown

    return "\n".join(["# Metric glossary", "", GENERATED, "",
                      "Every metric of `summary.json` (`variants.<name>.metrics`), from "
                      "`harness/results/metrics.py`.", "", glossary_markdown(), ""])


REFERENCES: dict[str, Callable[[], str]] = {
    "cli.md": _cli,
    "scenario.md": _scenario,
    "exit-codes.md": _exit_codes,
    "metrics.md": _metrics,
}
"""docs/reference/ file -> its content."""


def _block_metrics() -> str:
    from harness.results.metrics import glossary_markdown

    return glossary_markdown()


def _block_exit_codes() -> str:
    from harness.errors import exit_code_table

    return exit_code_table()


BLOCKS: dict[str, Callable[[], str]] = {"metrics": _block_metrics,
                                        "exit-codes": _block_exit_codes}
"""Blocks a hand-written doc may hold between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``."""
_BLOCK = re.compile(r"<!-- ([a-z-]+):start -->\n(.*?)\n?<!-- \1:end -->", re.S)


def doc_files(root: Path) -> list[Path]:
    """The hand-written docs: README.md, docs/**/*.md (not the generated reference) and
    examples/*/README.md."""
    found = [root / "README.md", *sorted((root / "docs").rglob("*.md")),
             *sorted((root / "examples").glob("*/README.md"))]
    return [p for p in found if p.is_file() and REFERENCE not in p.relative_to(root).parents]


def with_blocks(text: str) -> str:
    """``text`` with every generated block filled from the code."""
    def fill(match: re.Match[str]) -> str:
        name, make = match.group(1), BLOCKS.get(match.group(1))
        if make is None:
            return match.group(0)
        return f"<!-- {name}:start -->\n{make()}\n<!-- {name}:end -->"
    return _BLOCK.sub(fill, text)


def expected_files(root: Path) -> dict[Path, str]:
    """Every generated file, and every doc holding a generated block, as it should read."""
    out = {root / REFERENCE / name: make() for name, make in REFERENCES.items()}
    for path in doc_files(root):
        text = path.read_text(encoding="utf-8")
        if _BLOCK.search(text):
            out[path] = with_blocks(text)
    return out


def stale(root: Path) -> list[str]:
    """The generated files (or blocks) that differ from what the code generates, each with
    the command that regenerates them."""
    out = []
    for path, text in expected_files(root).items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            what = "missing" if current is None else "stale"
            out.append(f"{path.relative_to(root)}: {what} (run {REGENERATE})")
    return out


def write(root: Path) -> list[Path]:
    """Regenerate; the files written (those that changed)."""
    written = []
    for path, text in expected_files(root).items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
