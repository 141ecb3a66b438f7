"""What ``pgstampede init`` runs in the app's own interpreter: find the app object among a
few candidate modules, read its route table, and print both as one JSON line.

Standard library only, and Python 3.8 syntax: it runs in the user's virtualenv, never in
pgstampede's process. The harness passes its arguments as one JSON document (``argv[1]``):
``root`` (first on sys.path), ``modules`` (candidate modules, most likely first), ``imports``
(modules the app's files import, to tell which are installed packages) and ``drivers``.
Everything the app prints while it is imported goes to stderr; the result is the stdout line
that starts with ``MARK``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
import traceback
from typing import Any

MARK = "PGSTAMPEDE-PROBE "
FACTORY_NAMES = ("create_app", "make_app", "build_app", "app_factory", "get_app",
                 "get_application", "create_application")
PREFERRED = ("app", "application", "api", "server")
KINDS = (  # class (module.qualname) in the object's MRO -> (kind, framework)
    ("fastapi.applications.FastAPI", "asgi", "fastapi"),
    ("starlette.applications.Starlette", "asgi", "starlette"),
    ("quart.app.Quart", "asgi", "quart"),
    ("flask.app.Flask", "wsgi", "flask"),
    ("django.core.handlers.wsgi.WSGIHandler", "wsgi", "django"),
    ("django.core.handlers.asgi.ASGIHandler", "asgi", "django"),
)
OWN_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
_FLASK_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<([^>]+)>[^)]*\)|\([^)]*\)")


def kind_of(obj: Any) -> tuple[str, str] | None:
    """(kind, framework) when ``obj`` is an app object of a framework we know."""
    names = {f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__}
    for qualname, kind, framework in KINDS:
        if qualname in names:
            return kind, framework
    return None


def scan_module(name: str, errors: list[str]) -> tuple[list[dict[str, Any]], Any]:
    """The app objects and factories defined in module ``name`` (importing it)."""
    try:
        module = importlib.import_module(name)
    except BaseException as exc:  # the app's own code: any failure is a finding
        errors.append(f"import {name}: {describe(exc)}")
        return [], None
    found = []
    for attr, obj in sorted(vars(module).items(), key=lambda kv: rank(kv[0])):
        kind = kind_of(obj)
        if kind is not None:
            found.append({"module": name, "attr": attr, "kind": kind[0],
                          "framework": kind[1], "factory": False, "obj": obj})
        elif (attr in FACTORY_NAMES and inspect.isfunction(obj)
              and getattr(obj, "__module__", "") == name and not required_params(obj)):
            found.append({"module": name, "attr": attr, "kind": "", "framework": "",
                          "factory": True, "obj": obj})
    return found, module


def rank(attr: str) -> tuple[int, str]:
    return (PREFERRED.index(attr) if attr in PREFERRED else len(PREFERRED), attr)


def required_params(func: Any) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in params)


def describe(exc: BaseException) -> str:
    """The exception and where the app raised it (its last frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ") + where


def choose(candidates: list[dict[str, Any]], errors: list[str]) -> dict[str, Any] | None:
    """The first app object; else the first factory whose call builds one."""
    seen = set()
    for cand in candidates:
        if not cand["factory"] and id(cand["obj"]) not in seen:
            return cand
        seen.add(id(cand["obj"]))
    for cand in candidates:
        if cand["factory"]:
            try:
                built = cand["obj"]()
            except BaseException as exc:
                errors.append(f"{cand['module']}:{cand['attr']}(): {describe(exc)}")
                continue
            kind = kind_of(built)
            if kind is not None:
                return dict(cand, kind=kind[0], framework=kind[1], obj=built)
            errors.append(f"{cand['module']}:{cand['attr']}() returned a "
                          f"{type(built).__name__}, not an app we know")
    return None


def route(method: str, path: str, params: list[str], source: str, **extra: Any
          ) -> dict[str, Any]:
    return dict({"method": method, "path": path, "params": params, "source": source}, **extra)


def starlette_routes(routes: Any, prefix: str = "") -> list[dict[str, Any]]:
    out = []
    for r in routes:
        path = prefix + getattr(r, "path", "")
        sub = getattr(r, "routes", None)
        methods = getattr(r, "methods", None)
        params = re.findall(r"{([^}:]+)(?::[^}]*)?}", path)
        if sub is not None and not hasattr(r, "endpoint"):
            out.extend(starlette_routes(sub, path))
        elif type(r).__name__ == "WebSocketRoute":
            out.append(route("WEBSOCKET", path, params, "routes"))
        elif methods:
            out.extend(route(m, path, params, "routes") for m in sorted(methods) if m != "HEAD")
        elif hasattr(r, "endpoint"):
            out.append(route("GET", path, params, "routes", methods_known=False))
    return [r for r in out if r["path"] not in OWN_PATHS]


def openapi_routes(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of an OpenAPI document, with its required query parameters and a
    skeleton of its JSON body."""
    out = []
    components = schema.get("components", {}).get("schemas", {})
    for path, item in sorted(schema.get("paths", {}).items()):
        for method, op in item.items():
            if method.upper() not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                continue
            params = op.get("parameters", []) + item.get("parameters", [])
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            out.append(route(
                method.upper(), path,
                [p["name"] for p in params if p.get("in") == "path"], "openapi",
                required_query=[p["name"] for p in params
                                if p.get("in") == "query" and p.get("required")],
                body=skeleton(body.get("schema", {}), components, 0) if body else None))
    return out


def skeleton(schema: dict[str, Any], components: dict[str, Any], depth: int) -> Any:
    """A placeholder value of the JSON schema: its example or default, else by type."""
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return skeleton(schema[key][0], components, depth)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 3:
            return {}
        return {k: skeleton(v, components, depth + 1)
                for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return []
    return {"integer": 1, "number": 1.0, "boolean": False}.get(str(kind), "")


def flask_routes(app: Any) -> list[dict[str, Any]]:
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = _FLASK_PARAM.sub(lambda m: "{" + m.group(1) + "}", rule.rule)
        for method in sorted(rule.methods or ()):
            if method not in ("HEAD", "OPTIONS"):
                out.append(route(method, path, sorted(rule.arguments), "url_map"))
    return out


def django_routes() -> list[dict[str, Any]]:
    from django.urls import get_resolver  # the app's own Django

    return [route("GET", path, params, "urlpatterns", methods_known=False)
            for path, params in django_walk(get_resolver().url_patterns, "/")]


def django_walk(patterns: Any, prefix: str) -> list[tuple[str, list[str]]]:
    out = []
    for p in patterns:
        text = str(p.pattern).lstrip("^").rstrip("$").replace("\\", "")
        text = _FLASK_PARAM.sub(lambda m: "{" + m.group(1) + "}", text)
        text = _REGEX_GROUP.sub(lambda m: "{" + (m.group(1) or "arg") + "}", text)
        path = prefix + text
        if hasattr(p, "url_patterns"):
            if not text.startswith("admin"):
                out.extend(django_walk(p.url_patterns, path))
        else:
            out.append((path, re.findall(r"{([^}]+)}", path)))
    return out


def routes_of(chosen: dict[str, Any], root: str, errors: list[str]) -> list[dict[str, Any]]:
    obj, framework = chosen["obj"], chosen["framework"]
    try:
        if framework == "fastapi":
            try:
                return openapi_routes(obj.openapi())
            except Exception as exc:  # a model the schema generator cannot describe
                errors.append(f"OpenAPI schema of {chosen['module']}:{chosen['attr']}: "
                              f"{describe(exc)}; its route table is used instead")
                return starlette_routes(obj.routes)
        if framework == "django":
            return django_routes()
        if framework in ("flask", "quart"):
            return flask_routes(obj)
        routes = starlette_routes(obj.routes)
    except BaseException as exc:
        errors.append(f"route table of {chosen['module']}:{chosen['attr']}: {describe(exc)}")
        return []
    document = os.path.join(root, "openapi.json")
    if os.path.isfile(document):
        with open(document, encoding="utf-8") as f:
            return openapi_routes(json.load(f))
    return routes


def installed(names: list[str]) -> list[str]:
    """The modules among ``names`` that come from installed packages (not the app's own
    files, not the standard library)."""
    out = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except BaseException:
            continue
        origin = getattr(spec, "origin", None) or ""
        if spec is not None and ("site-packages" in origin or "dist-packages" in origin):
            out.append(name)  # a virtualenv inside the app's folder included
    return out


def probe(args: dict[str, Any]) -> dict[str, Any]:
    root = args["root"]
    sys.path.insert(0, root)
    errors: list[str] = []
    candidates: list[dict[str, Any]] = []
    for name in args["modules"]:
        candidates.extend(scan_module(name, errors)[0])
    chosen = choose(candidates, errors)
    result: dict[str, Any] = {
        "candidates": [{k: v for k, v in c.items() if k != "obj"} for c in candidates],
        "errors": errors, "entry": None, "routes": [],
        "preload": installed(args.get("imports", [])),
        "drivers": installed(args.get("drivers", [])),
        "python": sys.version.split()[0],
    }
    if chosen is not None:
        result["entry"] = {k: v for k, v in chosen.items() if k != "obj"}
        result["routes"] = routes_of(chosen, root, errors)
    return result


def main() -> None:
    args = json.loads(sys.argv[1])
    out = sys.stdout
    sys.stdout = sys.stderr  # what the app prints must not mix with the result
    try:
        result = probe(args)
    finally:
        sys.stdout = out
    out.write(MARK + json.dumps(result, default=str) + "\n")
    out.flush()
    os._exit(0)  # threads or pools the app started must not keep the probe alive


if __name__ == "__main__":
    main()
