"""Everything ``pgstampede init`` finds in an app's folder, as one :class:`Detection`.

The code is read as text for what needs no running (variables, imports, candidates, files);
the app object and its routes are found by the probe in the app's own interpreter, against
the database ``database`` gives (a private PostgreSQL in ``pgstampede init``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from harness.app.env import app_environment, process_env
from harness.scaffold import source
from harness.scaffold.database import ProbeDatabase
from harness.scaffold.dsn import classify
from harness.scaffold.findings import Detection, DsnPlan, Entry, Route
from harness.scaffold.node import NodeApp, node_app, node_routes
from harness.scaffold.probing import ProbeResult, run_probe
from harness.scenario.records import AppSpec

DatabaseFactory = Callable[[Path | None], AbstractContextManager[ProbeDatabase]]
_NAME = re.compile(r"[^A-Za-z0-9_.+-]+")
_JS_PARAM = re.compile(r":(\w+)|{(\w+)}")


def scenario_name(folder: Path) -> str:
    return (_NAME.sub("-", folder.name).strip("-.+_") or "app")[:64]


def detect(folder: Path, database: DatabaseFactory) -> Detection:
    folder = folder.absolute()
    files = source.python_files(folder)
    node = node_app(folder)
    node_files = [(p, source.read_text(p)) for p in source.walk(folder, source.NODE_EXTS)] \
        if node else []
    reads = source.env_reads([(f.path, f.text) for f in files] + node_files, folder)
    dsn = classify(reads)
    schema = source.find_schema(folder)
    venv = source.find_venv(folder)
    python = str(venv.relative_to(folder)) if venv else ""
    candidates = source.entry_candidates(files)
    questions: list[str] = []
    notes: list[str] = []
    result = ProbeResult()
    if candidates:
        with database(schema) as db:
            result = probe_app(folder, candidates, files, str(venv or sys.executable), dsn, db)
        found = questions if result.entry is None else notes
        found += [f"reading the app: {e}" for e in result.errors]
        if db.note:
            notes.append(db.note)
    base = Detection(folder=folder, name=scenario_name(folder), entry=result.entry,
                     python=python, dsn=dsn,
                     schema=str(schema.relative_to(folder)) if schema else "",
                     setup=setup_commands(folder, schema, result.entry),
                     preload=result.preload, routes=result.routes,
                     routes_from=result.routes_from, drivers=result.drivers,
                     questions=tuple(questions), notes=tuple(notes))
    if result.entry is None and node is not None:
        return with_node_app(base, node, any(r.name == "PORT" for r in reads)
                             or "next start" in node.command)  # Next.js listens on $PORT
    return base


def with_node_app(base: Detection, node: NodeApp, reads_port: bool) -> Detection:
    """A Node app as an ``[app] command``: its routes as written in the source."""
    routes = tuple(Route(m, p, tuple(n for pair in _JS_PARAM.findall(p) for n in pair if n),
                         source="source") for m, p, _ in node_routes(base.folder))
    ready = next((f"GET {r.path}" for r in routes
                  if r.loadable and r.path.rstrip("/").endswith("/health")), "")
    return dataclasses.replace(
        base, entry=Entry("command", node.command, "node",
                          where=f"package.json's \"{node.script}\" script"),
        routes=routes, routes_from="found in the source, not run",
        port_env="PORT" if reads_port else "", ready=ready, setup=node.setup,
        questions=base.questions + node.questions)


def probe_app(folder: Path, candidates: list[source.PythonFile],
              files: list[source.PythonFile], python: str, dsn: DsnPlan,
              db: ProbeDatabase) -> ProbeResult:
    """The probe over the candidates that share the first one's root."""
    root = candidates[0].root
    modules = [c.module for c in candidates if c.root == root]
    spec = probe_spec(python, dsn)
    env = process_env(spec, os.environ, app_environment(spec, db.dsn))
    return run_probe(python, root, modules, source.imported_modules(files), env, folder)


def probe_spec(python: str, dsn: DsnPlan) -> AppSpec:
    """The ``[app]`` the probe runs as: the DSN variables found (DATABASE_URL when none)."""
    names = tuple(r.name for r in dsn.urls) or (() if dsn.parts else ("DATABASE_URL",))
    env = tuple((read.name, template) for read, template in dsn.parts)
    return AppSpec(kind="asgi", entry="probe:app", python=python, dsn_env=names, env=env)


def setup_commands(folder: Path, schema: Path | None, entry: Entry | None
                   ) -> tuple[str, ...]:
    """Migrations: alembic's, or Django's when there is no schema file."""
    if source.has_alembic(folder):
        return ("alembic upgrade head",)
    if schema is None and entry is not None and entry.framework == "django" \
            and source.django_manage(folder):
        return ("python manage.py migrate --noinput",)
    return ()

