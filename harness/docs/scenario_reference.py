"""The scenario key reference (``docs/reference/scenario.md``), from the loader's own
declarations (``harness.scenario.reference``): every key of every section with its type,
default, allowed values and meaning; the fault kinds; the platform presets."""

from __future__ import annotations

from harness.docs.markdown import GENERATED, cell, table
from harness.scenario.fields import Key
from harness.scenario.reference import KeySection, fault_kinds, key_sections, presets


def _default(key: Key) -> str:
    if key.required:
        return "required"
    if not key.default:
        return ""
    if key.default.startswith("("):
        return cell(key.default.strip("()"))
    return f"`{cell(key.default)}`"


def _row(key: Key) -> list[str]:
    meaning = ("built-in target only: " if key.builtin else "") + key.meaning
    allowed = cell(key.allowed)
    return [f"`{key.name}`", key.type, _default(key), allowed, cell(meaning)]


def _section(section: KeySection) -> list[str]:
    out = [f"## {section.title}", "", f"{section.about}.", ""]
    if section.entries:
        out += [f"Entries: {section.entries}.", ""]
    if section.keys:
        out += [table(["key", "type", "default", "allowed", "meaning"],
                      [_row(k) for k in section.keys]), ""]
    if section.path == "faults":
        out += [table(["kind", "what it does"],
                      [[f"`{kind}`", cell(what)] for kind, what in fault_kinds().items()]), ""]
    if section.path == "target.serverless":
        out += _presets()
    return out


def _presets() -> list[str]:
    found = presets()
    names = list(found)
    keys = list(dict.fromkeys(k for values in found.values() for k in values))
    rows = [[f"`{key}`", *[f"`{found[n].get(key, '')}`" for n in names]] for key in keys]
    return ["Presets (`preset = NAME`; the source and date of every number: "
            "[docs/presets.md](../presets.md)):", "",
            table(["key", *[f"`{n}`" for n in names]], rows), ""]


def scenario_markdown() -> str:
    """The reference of every scenario key."""
    out = ["# Scenario key reference", "", GENERATED, "",
           "Every key a scenario file may hold, read from the scenario loader's own "
           "declarations (`harness/scenario/`). Durations are written \"250ms\", \"30s\", "
           "\"2m\" (a bare number is seconds). Paths are relative to the scenario file. "
           "Unknown keys are errors: one line naming the file, the key and what was "
           "expected, exit 2. Keys marked *built-in target only* are refused beside an "
           "`[app]`. Any key of `[target.*]`, `[pooler.*]` and `[database]` can be "
           "overridden per variant (`target_overrides`, `pooler_overrides`, "
           "`database_overrides`).", ""]
    for section in key_sections():
        out += _section(section)
    return "\n".join(out).rstrip() + "\n"
