"""The scenario ``pgstampede init`` writes: commented TOML that runs as written.

Three variants (the app as one server, as serverless instances with a platform preset, and
as instances behind PgBouncer) under a short load, so that the first run takes about two
minutes. What was found says where it was found; what was not is a commented question
(a line starting with ``# ?``), never a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

from harness.results import metric_names as M
from harness.scaffold.findings import Detection, Route
from harness.scenario.context import keys_of
from harness.scenario.records import (
    DatabaseSpec,
    PersistentSpec,
    PgBouncerSpec,
    ServerlessSpec,
    Stage,
)
from harness.units import format_duration

PRESET = "aws-lambda"
MAX_CONNECTIONS = 100  # PostgreSQL's default
WORKERS = 2
PGBOUNCER_POOL = 20
THINK_TIME = ("50ms", "150ms")
STAGES = (Stage(10.0, 4, 4.0), Stage(20.0, 12, 4.0))  # 30 s of load per variant
VARIANTS = (("persistent", "persistent", "none"), ("serverless", "serverless", "none"),
            ("serverless+pgbouncer", "serverless", "pgbouncer"))
COMMENT_COLUMN = 38
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def key(record: type, name: str) -> str:
    """``name``, a key the scenario loader reads into ``record`` (KeyError otherwise): the
    keys written are the loader's own."""
    if name not in keys_of(record):
        raise KeyError(f"{record.__name__} has no key {name!r}")
    return name


def toml_value(value: object) -> str:
    """``value`` as TOML: strings, numbers, booleans, arrays, inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{toml_key(str(k))} = {toml_value(v)}"
                                for k, v in value.items() if v is not None) + " }"
    return '""'  # null in a JSON schema example: an empty string to edit


def toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def line(text: str, comment: str = "") -> str:
    if not comment:
        return text
    return f"{text.ljust(COMMENT_COLUMN - 1)} # {comment}"


def setting(key: str, value: object, comment: str = "") -> str:
    return line(f"{toml_key(key)} = {toml_value(value)}", comment)


def header(d: Detection, command: str) -> list[str]:
    out = [f"# Written by `pgstampede init` for {d.folder.name}/: the app as one server, as "
           "serverless", "# instances and as instances behind PgBouncer, under a short load "
           "(about two minutes).", f"# Run it: {command}"]
    out.append("# Lines starting with \"# ?\" are what init could not find in the code: "
               "answer them.")
    out += [f"# ? {q}" for q in d.questions]
    out += [f"# note: {n}" for n in d.notes]
    out += ["", setting("name", d.name),
            setting("description", f"{d.name}: one server, {PRESET} instances, instances "
                    "behind PgBouncer"), ""]
    return out


def app_section(d: Detection) -> list[str]:
    out = ["[app]"]
    if d.entry is None:
        out.append("# ? which object serves the app? e.g. asgi = \"package.module:app\" or "
                   "wsgi = \"package.module:create_app\" with factory = true")
        out.append("# asgi = \"main:app\"")
    elif d.entry.kind == "command":
        out.append(setting("command", d.entry.target, d.entry.where))
    else:
        out.append(setting(d.entry.kind, d.entry.target, d.entry.where))
        if d.entry.factory:
            out.append(setting("factory", True, "the attribute builds the app when called"))
    out.append(setting("root", d.entry.root if d.entry else ".", "relative to this file"))
    if d.entry is not None and d.entry.kind == "command":
        out.append(setting("port_env", d.port_env or "PORT",
                           "the variable that tells it where to listen" if d.port_env
                           else "? the app reads no PORT: how does it choose its port?"))
        if d.ready:
            out.append(setting("ready", d.ready, "ready when this answers below 500"))
    elif d.python:
        out.append(setting("python", d.python, "the app's own interpreter and packages"))
    else:
        out.append("# ? which interpreter has the app's packages? no .venv or venv found:")
        out.append("# python = \".venv/bin/python\"")
    out += dsn_lines(d)
    if d.schema:
        out.append(setting("schema", d.schema, "run on each variant's fresh database"))
    if d.setup:
        out.append(setting("setup", list(d.setup), "run before the load, in root"))
    if not d.schema and not d.setup:
        out.append("# ? how are the app's tables created? no schema.sql, alembic.ini or "
                   "manage.py found:")
        out.append("# schema = \"schema.sql\"              # or setup = [\"alembic upgrade "
                   "head\"]")
    if d.preload:
        out.append(setting("preload", list(d.preload), "imported once before serverless "
                           "instances fork"))
    return out + env_lines(d) + [""]


def dsn_lines(d: Detection) -> list[str]:
    urls = d.dsn.urls
    if urls:
        value: object = urls[0].name if len(urls) == 1 else [u.name for u in urls]
        where = ", ".join(u.where for u in urls)
        return [setting("dsn_env", value, f"read in {where}")]
    if d.dsn.parts:
        return [setting("dsn_env", [], "the app reads its database in parts: see [app.env]")]
    return ["# ? which variable holds the database URL? none found in the code "
            "(DATABASE_URL is the default):", "# dsn_env = \"DATABASE_URL\""]


def env_lines(d: Detection) -> list[str]:
    if not d.dsn.parts and not d.dsn.settings:
        return []
    out = ["", "[app.env]"]
    for read, template in d.dsn.parts:
        out.append(setting(read.name, template, f"read in {read.where}"))
    for read in d.dsn.settings:
        default = f" (default \"{read.default}\")" if read.default is not None else ""
        out.append(line(f"# {setting(read.name, read.default or '')}",
                        f"read in {read.where}{default}"))
    return out


def load_section(d: Detection) -> list[str]:
    out = ["[load]", setting("think_time", list(THINK_TIME)), "stages = ["]
    length = format_duration
    out += ["  { " + ", ".join([f"{key(Stage, 'duration')} = {toml_value(length(s.duration_s))}",
                               f"{key(Stage, 'users')} = {s.users}",
                               f"{key(Stage, 'spawn_rate')} = {s.spawn_rate:g}"]) + " },"
            for s in STAGES]
    out += ["]", "", line("[load.paths]", d.routes_from or "the requests to send")]
    out += path_lines(d.routes)
    return out + [""]


def path_lines(routes: Sequence[Route]) -> list[str]:
    loadable = [r for r in routes if r.loadable]
    out = [setting(f"GET {r.path}", 1, "" if r.methods_known else "methods not declared")
           for r in loadable]
    if not loadable:
        out.append("# ? which requests should the load send? no GET route without "
                   "parameters was found:")
        out.append("# \"GET /\" = 1")
    for r in routes:
        if not r.loadable and r.method not in ("WEBSOCKET", "HEAD", "OPTIONS"):
            out.append(commented_route(r))
    return out


def commented_route(r: Route) -> str:
    path = r.path
    if r.required_query:
        path += "?" + "&".join(f"{q}=?" for q in r.required_query)
    key = toml_key(f"{r.method} {path}")
    asks = [f"a real {p}" for p in r.params]
    if r.required_query:
        asks.append("values for " + ", ".join(r.required_query))
    if r.method == "GET":
        return line(f"# {key} = 1", "? " + "; ".join(asks))
    body = r.body if r.body is not None else {}
    asks.append("a valid body" if r.body is not None else "what body does it expect?")
    return line(f"# {key} = {{ weight = 1, json = {toml_value(body)} }}",
                "? " + "; ".join(asks))


def targets_section(d: Detection) -> list[str]:
    per = "each with its own pool" if d.entry is None or d.entry.kind != "command" \
        else "passed as WEB_CONCURRENCY"
    return ["[database]",
            setting(key(DatabaseSpec, "max_connections"), MAX_CONNECTIONS,
                    "PostgreSQL's default; lower it to see where the app breaks"), "",
            "[target.persistent]",
            setting(key(PersistentSpec, "workers"), WORKERS, f"server processes, {per}"), "",
            "[target.serverless]",
            setting(key(ServerlessSpec, "preset"), PRESET,
                    "one request per instance, frozen between requests"), *slow_start(d), "",
            "[pooler.pgbouncer]", setting(key(PgBouncerSpec, "pool_mode"), "transaction"),
            setting(key(PgBouncerSpec, "pool_size"), PGBOUNCER_POOL,
                    "server connections PgBouncer opens"), ""]


def slow_start(d: Detection) -> list[str]:
    """Next.js loads each route on its first request: past the preset's 3 s timeout on a busy
    machine, and an instance cut at its timeout is killed, so every instance would be."""
    if d.entry is None or d.entry.kind != "command" or "next" not in d.entry.target:
        return []
    return [setting(key(ServerlessSpec, "max_duration"), "30s",
                    "Next.js loads each route on its first request: slower than 3 s here")]


def variant_lines(d: Detection) -> list[str]:
    out: list[str] = []
    for name, target, pooler in VARIANTS:
        out += ["[[variants]]", setting("name", name), setting("target", target),
                setting("pooler", pooler)]
        if pooler == "pgbouncer":
            out += pgbouncer_lines(d)
        out.append("")
    return out


def pgbouncer_lines(d: Detection) -> list[str]:
    if d.dsn.pgbouncer:
        env = {read.name: value for read, value in d.dsn.pgbouncer}
        where = ", ".join(read.where for read, _ in d.dsn.pgbouncer)
        return [setting("app_env", env, f"the app reads it ({where}): set for this variant "
                        "only; check the value it expects")]
    if any(drv in d.drivers for drv in ("asyncpg", "psycopg")):
        return ["# ? PgBouncer in transaction mode (< 1.21) breaks prepared statements: "
                "asyncpg needs", "# statement_cache_size=0, psycopg prepare_threshold=None. "
                "Does the app have a setting", "# for it? Then: app_env = { ITS_VARIABLE = "
                "\"...\" }"]
    return []


THRESHOLDS = ((f"*.{M.HTTP_ERROR_RATE}", "< 1%"), (f"*.{M.DB_REFUSED}", "== 0 if measured"))


def thresholds_lines() -> list[str]:
    """Commented out: the first run has no thresholds (exit 0); these make it a gate."""
    return [line("# [thresholds]", "uncomment: `run` then exits 1 when one fails "
                 "(docs/check.md)"), *(f"# {setting(k, v)}" for k, v in THRESHOLDS)]


def scenario_text(d: Detection, command: str) -> str:
    parts: Iterable[list[str]] = (header(d, command), app_section(d), load_section(d),
                                  targets_section(d), variant_lines(d), thresholds_lines())
    return "\n".join(text for part in parts for text in part).rstrip() + "\n"
