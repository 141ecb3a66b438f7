"""The ``[app]`` section: the user's own application, as an :class:`AppSpec`: an ASGI/WSGI
app (``asgi``/``wsgi``), any program serving HTTP (``command``, with ``port_env`` and
``ready``) or Vercel-style Node function files (``node = {"/path" = "file.js"}``, files
relative to ``root``); ``[app.expect]``: the work the database should show, per request.

Only the shape is checked here (keys, types, paths that exist, templates that name known
fields); whether the interpreter can import the module is checked by
``harness.app.check.check_app`` before a run (a command app has no such check).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.scenario.context import SectionContext, keys_of, resolve_path
from harness.scenario.fields import bool_field, duration_field, opt, raw_field
from harness.scenario.records import AppSpec
from harness.scenario.requests import METHODS


@dataclass(frozen=True)
class AppTable:
    """``[app]`` as written: every key with its meaning (docs/app.md tells the whole story);
    :func:`parse_app` reads the values into an :class:`AppSpec`."""

    asgi: object = opt("asgi", raw_field("string", '"module:attribute"'), None,
                       "an ASGI app (one of asgi, wsgi, command, node)")
    wsgi: object = opt("wsgi", raw_field("string", '"module:attribute"'), None,
                       "a WSGI app (one of asgi, wsgi, command, node)")
    command: object = opt("command", raw_field("string or list of strings"), None,
                          "any program serving HTTP on $PORT (a string runs with /bin/sh -c)")
    node: object = opt("node", raw_field("table", '"/path" = "file.js" (relative to root)'),
                       None, "Vercel-style Node function files, served by pgstampede's Node "
                       "host; on serverless each route is a function")
    factory: bool = opt("factory", bool_field, False,
                        "asgi/wsgi: the attribute is a callable that builds the app")
    root: object = opt("root", raw_field("path"), None, "put first on sys.path; setup "
                       "commands and a command run here", shown="(the scenario's folder)")
    python: object = opt("python", raw_field("path or command"), None,
                         "asgi/wsgi: the app's interpreter", shown="(the harness's own)")
    dsn_env: object = opt("dsn_env", raw_field("string or list of strings"), "DATABASE_URL",
                          "variables set to the variant's DSN")
    env: object = opt("env", raw_field("table of strings", "templates {dsn} {host} {port} "
                                       "{user} {password} {database}"), None,
                      "extra variables for the app")
    schema: object = opt("schema", raw_field("path"), None,
                         "SQL file run once on each fresh database before the load")
    setup: object = opt("setup", raw_field("string or list of strings"), None,
                        "shell commands run in root before the load")
    preload: object = opt("preload", raw_field("list of module names"), None,
                          "asgi/wsgi on serverless: modules imported before forking instances")
    port_env: object = opt("port_env", raw_field("string"), "PORT",
                           "command: the variable giving it its port")
    ready: object = opt("ready", raw_field("string", '"METHOD /path"'), None,
                        "command: ready when this answers below 500",
                        shown="(ready when its port answers HTTP at all)")
    expect: object = opt("expect", raw_field("table", '"METHOD /path" = "SELECT count(*) ..."'),
                         None, "[app.expect]: the work the database should show, per request")
    expect_grace: object = opt("expect_grace", duration_field, 2.0,
                               "persistent: wait this long after the load before counting "
                               "[app.expect]")


APP_KEYS = set(keys_of(AppTable))
PYTHON_ONLY = ("factory", "python", "preload")  # keys of an ASGI/WSGI app
COMMAND_ONLY = ("port_env", "ready")  # keys of a command app
_READY = re.compile(r"^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /\S*$")
TEMPLATE_FIELDS = ("dsn", "host", "port", "user", "password", "database")
_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_MODULE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_app(value: object, ctx: SectionContext) -> AppSpec:
    """The ``[app]`` table as an AppSpec; ScenarioError naming the key otherwise."""
    table = ctx.table(value, "app")
    ctx.no_unknown(table, APP_KEYS, "app")  # the keys of AppTable
    kind, entry = _entry(table, ctx)
    _kind_keys(table, kind, ctx)
    factory = table.get("factory", False)
    if not isinstance(factory, bool):
        raise ctx.error("app.factory", f"expected true or false, got {factory!r}")
    root = resolve_path(ctx, table["root"], "app.root", kind="folder") if "root" in table \
        else str(ctx.base)
    return AppSpec(
        kind=kind, entry=entry, factory=factory, root=root,
        python=_python(table.get("python"), ctx),
        dsn_env=_names(table.get("dsn_env", "DATABASE_URL"), ctx, "app.dsn_env", _VARIABLE),
        env=_env(table.get("env"), ctx),
        schema=resolve_path(ctx, table["schema"], "app.schema", kind="file")
        if "schema" in table else "",
        setup=_commands(table.get("setup", []), ctx),
        preload=_names(table.get("preload", []), ctx, "app.preload", _MODULE),
        **_command_fields(table, kind, ctx),
        **_expect_fields(table, ctx),
        node_routes=_node_routes(table, kind, ctx, root),
    )


def _node_routes(table: dict[str, Any], kind: str, ctx: SectionContext, root: str
                 ) -> tuple[tuple[str, str], ...]:
    """``node``: "/path" (with [param], [...rest], [[...rest]] segments) -> an existing file
    relative to ``root``."""
    if kind != "node":
        return ()
    routes = ctx.table(table["node"], "app.node")
    if not routes:
        raise ctx.error("app.node", "expected at least one route, e.g. { \"/api/orders\" = "
                        "\"api/orders.js\" }")
    for pattern, file in routes.items():
        key = f"app.node.\"{pattern}\""
        if not pattern.startswith("/") or any(c.isspace() for c in pattern):
            raise ctx.error(key, "expected a path starting with /, e.g. \"/api/orders\"")
        if not isinstance(file, str) or not (Path(root) / file).is_file():
            raise ctx.error(key, f"expected a file relative to root ({root}), got {file!r}")
    return tuple(routes.items())


def _entry(table: dict[str, Any], ctx: SectionContext) -> tuple[str, str]:
    kinds = [k for k in ("asgi", "wsgi", "command", "node") if k in table]
    if len(kinds) != 1:
        raise ctx.error("app", "expected exactly one of asgi = \"module:attribute\", "
                        "wsgi = \"module:attribute\", command = [\"program\", \"arg\"...] "
                        "or node = { \"/path\" = \"file.js\" }")
    kind = kinds[0]
    entry = table[kind]
    if kind == "node":
        return kind, "node " + " ".join(f"{k}={v}" for k, v in ctx.table(entry, "app.node").items())
    if kind == "command":
        return kind, " ".join(_argv(entry, ctx)) if isinstance(entry, list) else str(entry)
    if not isinstance(entry, str) or not _ENTRY.match(entry):
        raise ctx.error(f"app.{kind}", f"expected \"module:attribute\", e.g. "
                        f"\"shop.main:app\", got {entry!r}")
    return kind, entry


def _kind_keys(table: dict[str, Any], kind: str, ctx: SectionContext) -> None:
    """Keys that belong to the other kind of app are errors, not silently ignored."""
    if kind == "node":
        for key in (*PYTHON_ONLY, *COMMAND_ONLY):
            if key in table:
                raise ctx.error(f"app.{key}", "not for Node function files (pgstampede's Node "
                                "host serves them)")
        return
    if kind == "command":
        for key in PYTHON_ONLY:
            if key in table:
                raise ctx.error(f"app.{key}", "not for a command app (the command runs its own "
                                "program)")
        return
    for key in COMMAND_ONLY:
        if key in table:
            raise ctx.error(f"app.{key}", "only for a command app (command = ...)")


def _argv(value: object, ctx: SectionContext) -> tuple[str, ...]:
    """A command as an argv: a list as written, a string run by ``/bin/sh -c``."""
    if isinstance(value, str) and value.strip():
        return ("/bin/sh", "-c", value)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ctx.error("app.command", "expected a command line (run by /bin/sh -c) or a list "
                    f"of arguments, e.g. [\"node\", \"server.js\"], got {value!r}")


def _command_fields(table: dict[str, Any], kind: str, ctx: SectionContext) -> dict[str, Any]:
    if kind != "command":
        return {}
    ready = table.get("ready", "")
    if not isinstance(ready, str) or (ready and not _READY.match(ready)):
        raise ctx.error("app.ready", f"expected \"METHOD /path\", e.g. \"GET /health\", "
                        f"got {ready!r}")
    port_env = table.get("port_env", "PORT")
    if not isinstance(port_env, str) or not _VARIABLE.match(port_env):
        raise ctx.error("app.port_env", f"expected a variable name, got {port_env!r}")
    return {"command": _argv(table["command"], ctx), "port_env": port_env, "ready": ready}


def _expect_fields(table: dict[str, Any], ctx: SectionContext) -> dict[str, Any]:
    """``[app.expect]``: ``"METHOD /path" = "SELECT count(*) FROM ..."``; ``expect_grace``."""
    out: dict[str, Any] = {}
    if "expect_grace" in table:
        try:
            out["expect_grace_s"] = duration_field(table["expect_grace"])
        except ValueError as exc:
            raise ctx.error("app.expect_grace", str(exc)) from None
    expect = ctx.table(table.get("expect"), "app.expect")
    for name, query in expect.items():
        key = f"app.expect.\"{name}\""
        method, _, path = name.partition(" ")
        if method not in METHODS or not path.startswith("/"):
            raise ctx.error(key, "expected a request of [load.paths], \"METHOD /path\"")
        if not isinstance(query, str) or not query.strip():
            raise ctx.error(key, "expected a query that counts the work, e.g. \"SELECT "
                            "count(*) FROM emails\"")
    out["expect"] = tuple(expect.items())
    return out


def _python(value: object, ctx: SectionContext) -> str:
    """The interpreter: a path relative to the scenario file, or a command on PATH."""
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise ctx.error("app.python", f"expected a path to a Python interpreter, got {value!r}")
    if "/" not in value:
        found = shutil.which(value)
        if found is None:
            raise ctx.error("app.python", f"{value!r} is not on PATH")
        return found
    path = ctx.base / Path(value).expanduser()
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ctx.error("app.python", f"no such executable: {path}")
    return str(path.absolute())  # not resolved: a venv's python is a symlink to the base one


def _names(value: object, ctx: SectionContext, key: str, pattern: re.Pattern[str]
           ) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and pattern.match(v)
                                              for v in items):
        what = "variable names" if pattern is _VARIABLE else "module names"
        raise ctx.error(key, f"expected a string or a list of {what}, got {value!r}")
    return tuple(items)


def _env(value: object, ctx: SectionContext,
         where: str = "app.env") -> tuple[tuple[str, str], ...]:
    table = ctx.table(value, where)
    out = []
    for name, raw in table.items():
        key = f"{where}.{name}"
        if not _VARIABLE.match(name):
            raise ctx.error(key, "expected a variable name of letters, digits and _")
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise ctx.error(key, f"expected a string, got {raw!r}")
        text = str(raw)
        check_template(text, ctx, key)
        out.append((name, text))
    return tuple(out)


def with_variant_env(app: AppSpec, value: object, ctx: SectionContext,
                     where: str) -> AppSpec:
    """``app`` with a variant's ``app_env`` over ``[app.env]`` (same rules as ``[app.env]``)."""
    env = dict(app.env)
    env.update(_env(value, ctx, where))
    return dataclasses.replace(app, env=tuple(env.items()))


def check_template(text: str, ctx: SectionContext, key: str) -> None:
    """Only ``{dsn} {host} {port} {user} {password} {database}`` (``{{`` for a brace)."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise ctx.error(key, f"invalid template ({exc}); write {{{{ for a brace") from None
    for name in fields:
        if name not in TEMPLATE_FIELDS:
            raise ctx.error(key, f"unknown field {{{name}}} (expected one of: "
                            f"{', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)})")


def _commands(value: object, ctx: SectionContext) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise ctx.error("app.setup", f"expected a command or a list of commands, got {value!r}")
    return tuple(items)
