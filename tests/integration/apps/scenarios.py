"""Scenario files for the end-to-end tests: the example apps' own ``[app]`` and
``[load.paths]`` sections (read from their scenario.toml), pointed at the cached venvs and
set to a short load and a small server."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_value(value: Any) -> str:
    """``value`` as TOML (strings, numbers, booleans, arrays, inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def table(name: str, values: Mapping[str, Any]) -> str:
    lines = [f"[{name}]", *(f"{toml_key(k)} = {toml_value(v)}" for k, v in values.items())]
    return "\n".join(lines) + "\n"


def example_sections(scenario: Path, python: Path, env: Mapping[str, str]) -> str:
    """The ``[app]`` and ``[load.paths]`` of an example's scenario, with ``root``,
    ``schema`` and ``python`` made absolute (``python``: the cached venv) and ``env``
    merged over the example's."""
    data = tomllib.loads(scenario.read_text())
    app = dict(data["app"])
    base = scenario.parent
    app["root"] = str((base / app.get("root", ".")).resolve())
    app["schema"] = str((base / app["schema"]).resolve())
    app["python"] = str(python)
    app["env"] = {**app.get("env", {}), **env}
    return table("app", app) + table("load.paths", data["load"]["paths"])


def variants(*specs: tuple[str, str, str] | tuple[str, str, str, Mapping[str, str]]) -> str:
    """``[[variants]]`` tables from (name, target, pooler[, app_env])."""
    out = []
    for name, target, pooler, *rest in specs:
        out.append(f"[[variants]]\nname = {json.dumps(name)}\ntarget = \"{target}\"\n"
                   f"pooler = \"{pooler}\"\n")
        if rest:
            out.append(f"app_env = {toml_value(dict(rest[0]))}\n")
    return "".join(out)


def variant_app_env(scenario: Path, name: str) -> dict[str, str]:
    """The ``app_env`` of the example scenario's variant ``name`` (empty when it has none)."""
    data = tomllib.loads(scenario.read_text())
    found = [v for v in data["variants"] if v["name"] == name]
    return {k: str(v) for k, v in found[0].get("app_env", {}).items()} if found else {}
