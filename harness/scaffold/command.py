"""``pgstampede init [DIR]``: write ``DIR/scenario.toml`` for the app in DIR and say what
was found and what to run next."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TextIO

from harness.errors import InputError
from harness.scaffold.database import probe_database
from harness.scaffold.detect import DatabaseFactory, detect
from harness.scaffold.findings import Detection
from harness.scaffold.writer import scenario_text
from harness.scenario.loader import parse_scenario

SCENARIO_FILE = "scenario.toml"


def init_app(folder: str, *, force: bool, out: TextIO,
             database: DatabaseFactory = probe_database) -> Path:
    """Write the scenario of the app in ``folder``; InputError (exit 2) for a folder that
    does not exist or a scenario.toml already there without ``force``."""
    base = Path(folder)
    if not base.is_dir():
        raise InputError(f"init: {folder}: no such folder")
    target = base / SCENARIO_FILE
    if target.exists() and not force:
        raise InputError(f"init: {target} exists; pass --force to overwrite it")
    out.write(f"reading the app in {base}...\n")
    found = detect(base, database)
    command = f"pgstampede run {target}"
    text = scenario_text(found, command)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"init: cannot write {target}: {exc.strerror or exc}") from None
    out.write(summary(found))
    problem = check_text(text, target)
    out.write(f"wrote {target}\n")
    if problem:
        asks = "; answer its \"# ?\" lines" if "# ? " in text else ""
        out.write(f"it does not load as written{asks}: {problem}\n")
    else:
        out.write(f"next: {command}\n")
    return target


def check_text(text: str, path: Path) -> str:
    """The loader's own error for the written scenario ("" when it loads)."""
    try:
        parse_scenario(tomllib.loads(text), str(path))
    except InputError as exc:
        return str(exc)
    return ""


def summary(d: Detection) -> str:
    """What was found, one line each."""
    rows = [("app", f"{d.entry.kind} {d.entry.target} ({d.entry.where})" if d.entry
             else "not found"),
            ("python", d.python or "no .venv or venv: the app's interpreter is not known")
            if d.entry is None or d.entry.kind != "command" else ("port", d.port_env or "?"),
            ("database", ", ".join([r.name for r in d.dsn.urls]
                                   + [r.name for r, _ in d.dsn.parts]) or "no variable found"),
            ("schema", ", ".join([d.schema, *d.setup]) if d.schema or d.setup else "none found")]
    if d.dsn.pgbouncer:
        rows.append(("pgbouncer", ", ".join(f"{r.name}={v}" for r, v in d.dsn.pgbouncer)
                     + " on the PgBouncer variant"))
    loadable = sum(1 for r in d.routes if r.loadable)
    rows.append(("routes", f"{loadable} GET paths to load, {len(d.routes) - loadable} more "
                 f"listed commented out" + (f" ({d.routes_from})" if d.routes_from else "")))
    rows += [("question", q) for q in d.questions] + [("note", n) for n in d.notes]
    return "".join(f"  {k + ':':<10} {v}\n" for k, v in rows)
