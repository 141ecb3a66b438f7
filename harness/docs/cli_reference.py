"""The command-line reference (``docs/reference/cli.md``), from the argparse parser of
``harness.cli``: every subcommand, argument, default and help text."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Iterator

from harness.docs.markdown import GENERATED, cell, table


def subcommands(parser: argparse.ArgumentParser, prefix: str = "pgstampede"
                ) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """Every subcommand of ``parser`` at any depth: its full name, its help, its parser."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help or "" for a in action._choices_actions}
        for name, sub in action.choices.items():
            full = f"{prefix} {name}"
            nested = any(isinstance(a, argparse._SubParsersAction) for a in sub._actions)
            if not nested:
                yield full, helps.get(name, ""), sub
            yield from subcommands(sub, full)


def arguments(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """The arguments a user gives (no --help, no nested subcommand)."""
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        yield action


def flags(parser: argparse.ArgumentParser) -> dict[str, set[str]]:
    """Subcommand (``run``, ``images build``) -> the flags it takes (``--out``...)."""
    return {full.removeprefix("pgstampede "): {s for a in arguments(sub)
                                               for s in a.option_strings}
            for full, _, sub in subcommands(parser)}


def _value(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices is not None:
        return " \\| ".join(str(c) for c in action.choices)
    metavar = action.metavar if isinstance(action.metavar, str) else None
    return metavar or action.dest.upper()


def _default(action: argparse.Action) -> str:
    if action.nargs == 0 or action.default in (None, [], argparse.SUPPRESS):
        return ""
    return f"`{action.default}`"


def _name(action: argparse.Action) -> str:
    if action.option_strings:
        return ", ".join(f"`{s}`" for s in action.option_strings)
    return action.metavar if isinstance(action.metavar, str) else action.dest.upper()


def _usage(full: str, parser: argparse.ArgumentParser) -> str:
    parts = [full]
    for action in arguments(parser):
        value = _value(action).replace(" \\| ", "|")
        if not action.option_strings:
            text = _name(action) + ("..." if action.nargs in ("*", "+") else "")
            parts.append(f"[{text}]" if action.nargs in ("?", "*") else text)
            continue
        text = action.option_strings[0] + (f" {value}" if value else "")
        parts.append(text if action.required else f"[{text}]")
    indent = " " * (len(full) + 1)
    return "\n".join(textwrap.wrap(" ".join(parts), width=96, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False))


def cli_markdown(parser: argparse.ArgumentParser) -> str:
    """The reference of every subcommand of ``parser``."""
    out = ["# Command line reference", "", GENERATED, "",
           "Every subcommand, argument and default of `pgstampede` (also `python -m harness`), "
           "as `pgstampede SUBCOMMAND --help` prints them. Exit codes: "
           "[exit-codes.md](exit-codes.md). Bad flags are one line on stderr and exit 2.", ""]
    for full, help_text, sub in subcommands(parser):
        about = f"{help_text[:1].upper()}{help_text[1:]}."
        out += [f"## {full}", "", about, "", "```", _usage(full, sub), "```", ""]
        rows = [[_name(a), _value(a), _default(a), cell(a.help or "")]
                for a in arguments(sub)]
        if rows:
            out += [table(["argument", "value", "default", "meaning"], rows), ""]
    return "\n".join(out).rstrip() + "\n"
