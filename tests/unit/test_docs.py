"""The README says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from harness.cli import build_parser
from harness.errors import exit_code_table
from harness.results.metrics import glossary_markdown

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_metric_glossary_matches_registry() -> None:
    block = re.search(r"<!-- metrics:start -->\n(.*)\n<!-- metrics:end -->", README, re.S)
    assert block is not None
    assert block.group(1) == glossary_markdown()


def test_exit_code_table_matches_the_code() -> None:
    block = re.search(r"<!-- exit-codes:start -->\n(.*)\n<!-- exit-codes:end -->", README, re.S)
    assert block is not None
    assert block.group(1) == exit_code_table()


def test_every_subcommand_is_documented() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:  # type: ignore[union-attr]
        assert f"pgstampede {name}" in README


def test_quick_start_is_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert commands == ["make demo", "make test"]
