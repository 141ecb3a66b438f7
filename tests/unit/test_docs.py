"""The docs say what the code does (issue 25).

The references in docs/reference/ and the generated blocks of the README and docs/ are what
the code generates (``make docs``); no doc names a flag, a scenario key or a metric that does
not exist, nor an absolute path outside the repository; every TOML block loads with the
scenario loader. Adding a key or a flag without regenerating fails here, saying which
command to run.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import harness.cli
import harness.scenario.reference
from harness.cli import build_parser
from harness.docs import REFERENCE, stale
from harness.docs.lint import Names, problems
from harness.errors import exit_code_table
from harness.results.frames import FRAME_NAMES
from harness.results.metrics import glossary_markdown
from harness.scenario.fields import bool_field, opt
from harness.scenario.reference import key_sections
from harness.scenario.sections import HostSpec

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()


def test_generated_references_are_current() -> None:
    assert stale(ROOT) == [], "regenerate: make docs"
    for name in ("cli.md", "scenario.md", "exit-codes.md", "metrics.md"):
        assert (ROOT / REFERENCE / name).is_file()


def test_docs_name_only_what_exists() -> None:
    assert problems(ROOT) == [], "fix the docs (a TOML block that is part of a scenario: " \
        "<!-- partial --> on the line before it)"


def test_metric_glossary_matches_registry() -> None:
    block = re.search(r"<!-- metrics:start -->\n(.*)\n<!-- metrics:end -->", README, re.S)
    assert block is not None
    assert block.group(1) == glossary_markdown()


@pytest.mark.parametrize("doc", ["README.md", "docs/check.md", "docs/reference/exit-codes.md"])
def test_one_exit_code_table_shared_by_the_docs(doc: str) -> None:
    text = (ROOT / doc).read_text()
    assert exit_code_table() in text
    assert text.count("| code | meaning |") == 1


def test_every_subcommand_is_documented() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:  # type: ignore[union-attr]
        assert f"pgstampede {name}" in README
        assert f"## pgstampede {name}" in (ROOT / REFERENCE / "cli.md").read_text()


def test_every_argument_says_what_it_is() -> None:
    from harness.docs.cli_reference import arguments, subcommands

    for full, _, sub in subcommands(build_parser()):
        for action in arguments(sub):
            assert action.help, f"{full} {action.option_strings or action.dest}: no help"


def test_every_scenario_key_says_what_it_is() -> None:
    """A key declared without its meaning (``opt(key, parser, default, "meaning")``) or
    with a parser that does not say its type makes a useless reference row."""
    for section in key_sections():
        for key in section.keys:
            where = f"[{section.path}] {key.name}"
            assert key.meaning, f"{where}: no meaning (the doc argument of its opt())"
            assert key.type != "value", f"{where}: no type (give it a fields.Parser)"


def test_every_frame_is_in_the_run_folder_of_the_readme() -> None:
    folder = README.split("## Run folder", 1)[1].split("```", 2)[1]
    for name in FRAME_NAMES:
        assert f" {name}.parquet " in folder, f"README's run folder misses {name}.parquet"


def test_quick_start_is_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert commands == ["make demo", "make test"]


# --- adding a key or a flag without updating the docs fails -------------------------------

def test_a_new_scenario_key_without_regenerating_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A field added to a section record appears in the reference by itself: until the
    reference is regenerated, it is stale, and the failure says which command to run."""
    bigger = dataclasses.make_dataclass(
        "HostSpec", [("turbo", bool, opt("turbo", bool_field, False, "go faster"))],
        bases=(HostSpec,), frozen=True)
    monkeypatch.setattr(harness.scenario.reference, "HostSpec", bigger)
    assert any(k.name == "turbo" for s in key_sections() for k in s.keys)
    assert stale(ROOT) == ["docs/reference/scenario.md: stale (run make docs, i.e. "
                           ".venv/bin/python -m harness.docs)"]


def test_a_new_key_without_its_meaning_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    bigger = dataclasses.make_dataclass(
        "HostSpec", [("turbo", bool, opt("turbo", bool_field, False))], bases=(HostSpec,),
        frozen=True)
    monkeypatch.setattr(harness.scenario.reference, "HostSpec", bigger)
    with pytest.raises(AssertionError, match=r"\[host\] turbo: no meaning"):
        test_every_scenario_key_says_what_it_is()


def test_a_new_flag_without_regenerating_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    real: Callable[[], argparse.ArgumentParser] = build_parser

    def with_turbo() -> argparse.ArgumentParser:
        parser = real()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub.choices["run"].add_argument("--turbo", action="store_true", help="go faster")
        return parser

    monkeypatch.setattr(harness.cli, "build_parser", with_turbo)
    assert stale(ROOT) == ["docs/reference/cli.md: stale (run make docs, i.e. "
                           ".venv/bin/python -m harness.docs)"]


# --- a doc that names what does not exist fails ------------------------------------------

def docs_problems(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "README.md").write_text(text)
    return problems(tmp_path, Names.of_code())


@pytest.mark.parametrize(("text", "found"), [
    ("Run `pgstampede run x.toml --turbo`.", "no flag of run"),
    ("```\npgstampede check RUN --verbose\n  --turbo\n```", "no flag of check"),
    ("Use `--turbo`.", "no pgstampede flag"),
    ("Set `[load] turbo = 1`.", "scenario key `[load] turbo`"),
    ("Set `[pooler.pgbouncer] image`, not `[pooler.pgcat]`.", "section `[pooler.pgcat]`"),
    ("Bad `database.turbo`.", "scenario key `database.turbo`"),
    ("Bad `load.turbo`.", "`load.turbo`, which is neither"),
    ("Gate on `faults.reconected`.", "`faults.reconected`, which is neither"),
    ("Gate on `latency.p96_ms`.", "metric `latency.p96_ms`"),
    ("See /work/shared/FACTS.md.", "absolute path outside the repository"),
    ("```toml\nname = \"x\"\n[load]\nstages = []\n```", "TOML block is not a scenario"),
    ("<!-- partial -->\n```toml\n[load]\nturbo = 1\n```", "load.turbo: unknown key"),
])
def test_a_doc_naming_what_does_not_exist_fails(tmp_path: Path, text: str, found: str) -> None:
    found_problems = docs_problems(tmp_path, text)
    assert len(found_problems) == 1 and found in found_problems[0], found_problems


@pytest.mark.parametrize("text", [
    "Run `pgstampede run spike --workers 2 --bind 10.0.0.5:5557`.",
    "```\n.venv/bin/pgstampede check reports/ci --baseline b.json \\\n  --junit j.xml\n```",
    "Locust's `locust --processes 2`; `[load] processes = 2`; `[app.env]`; `[target.*]`.",
    "Metrics `*.db.refused`, `host.cpu.<role>.mean`, `errors.db_other`, `load.saturated`; "
    "files `db.parquet`; modules `harness.results.saturation`; key `load.slow_ms`.",
    "Paths: /proc/pressure/cpu, /usr/lib/postgresql, routes /v1/poll/x.",
    "<!-- partial -->\n```toml\n[pooler.pgbouncer]\nquery_wait_timeout = \"2s\"\n```",
])
def test_what_exists_passes(tmp_path: Path, text: str) -> None:
    assert docs_problems(tmp_path, text) == []
