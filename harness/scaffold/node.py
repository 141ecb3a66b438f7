"""A Node app's folder, read as text: its ``package.json`` start script (run as an
``[app] command``), the setup it needs (``npm ci``, ``next build``) and its routes as
written in the source (Express-style ``app.get("/path")``, Next.js route handlers)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from harness.scaffold.source import NODE_EXTS, read_text, walk

NPM_CI = "[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund"
NEXT_BUILD = "[ -f .next/BUILD_ID ] || npm run build"
LOCK_FILES = ("package-lock.json", "npm-shrinkwrap.json")
_JS_ROUTE = re.compile(r"""\b(?:app|router|server|api)\.(get|post|put|patch|delete)\(\s*"""
                       r"""['"`](/[^'"`]*)['"`]""")
_HANDLER = re.compile(r"\bexport\s+(?:async\s+)?(?:function\s+|const\s+)"
                      r"(GET|POST|PUT|PATCH|DELETE)\b")
_SEGMENT = re.compile(r"^\[+\.{0,3}([^\]]+)\]+$")


@dataclass(frozen=True)
class NodeApp:
    script: str  # the package.json script run, e.g. "start"
    command: str  # what it runs, its binary from node_modules/.bin: "node server.js"
    setup: tuple[str, ...]  # npm ci when there is a lock file; next build for Next.js
    questions: tuple[str, ...]


def node_app(base: Path) -> NodeApp | None:
    """The ``start`` (else ``serve``) script of ``package.json``; never ``dev`` (watchers)."""
    try:
        doc = json.loads((base / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    scripts = doc.get("scripts") if isinstance(doc, dict) else None
    if not isinstance(scripts, dict):
        return None
    for name in ("start", "serve"):
        command = scripts.get(name)
        if isinstance(command, str) and command.strip():
            return _app(base, name, command.strip(), scripts)
    return None


def _app(base: Path, script: str, command: str, scripts: dict[str, object]) -> NodeApp:
    setup: list[str] = []
    questions: list[str] = []
    if any((base / f).exists() for f in LOCK_FILES):
        setup.append(NPM_CI)
    elif not (base / "node_modules").is_dir():
        questions.append("no node_modules and no lock file: run `npm install` in the app's "
                         "folder first")
    build = scripts.get("build")
    if isinstance(build, str) and build.strip().startswith("next build"):
        setup.append(NEXT_BUILD)
    elif isinstance(build, str):
        questions.append(f"package.json has a build script ({build!r}): does the app need "
                         "`npm run build` before it starts? add it to setup")
    first, _, rest = command.partition(" ")
    if first not in ("node", "npm", "npx") and "/" not in first:
        command = f"node_modules/.bin/{first} {rest}".strip()  # what npm would run
    return NodeApp(script, command, tuple(setup), tuple(questions))


def node_routes(base: Path) -> list[tuple[str, str, str]]:
    """(method, path, where): Express-style routes written literally in the source, and
    Next.js App Router handlers (``app/**/route.js`` exporting ``GET``...)."""
    out = []
    for path in walk(base, NODE_EXTS):
        text = read_text(path)
        where = str(path.relative_to(base))
        if path.stem == "route":
            url = next_route_path(path.parent.relative_to(base))
            if url is not None:
                out += [(m.group(1), url, where) for m in _HANDLER.finditer(text)]
                continue
        for match in _JS_ROUTE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            out.append((match.group(1).upper(), match.group(2), f"{where}:{line}"))
    return out


def next_route_path(folder: Path) -> str | None:
    """The URL of a Next.js route folder (``app/api/orders/[id]`` → ``/api/orders/{id}``;
    route groups ``(name)`` leave no segment); None outside ``app/`` or ``src/app/``."""
    parts = list(folder.parts)
    if parts[:2] == ["src", "app"]:
        parts = parts[2:]
    elif parts[:1] == ["app"]:
        parts = parts[1:]
    else:
        return None
    segments = []
    for part in parts:
        if part.startswith("(") and part.endswith(")"):
            continue
        match = _SEGMENT.match(part)
        segments.append("{" + match.group(1) + "}" if match else part)
    return "/" + "/".join(segments)
