"""Running ``probe.py`` in the app's own interpreter, and reading what it printed.

The app is imported there, never in pgstampede's process: the interpreter and its packages
are the app's, with its folder first on sys.path and its environment as ``run`` gives it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.scaffold import probe
from harness.scaffold.findings import Entry, Route

PROBE_TIMEOUT_S = 120.0
DRIVERS = ("asyncpg", "psycopg", "psycopg_pool", "psycopg2", "pg8000")
ROUTES_FROM = {"openapi": "from the app's OpenAPI schema", "routes": "from the app's route "
               "table", "url_map": "from Flask's url_map", "urlpatterns": "from Django's URL "
               "patterns"}
_PROBE_SOURCE = Path(probe.__file__).read_text(encoding="utf-8")


@dataclass(frozen=True)
class ProbeResult:
    entry: Entry | None = None
    routes: tuple[Route, ...] = ()
    routes_from: str = ""
    preload: tuple[str, ...] = ()
    drivers: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


def run_probe(python: str, root: Path, modules: Sequence[str], imports: Sequence[str],
              env: Mapping[str, str], folder: Path) -> ProbeResult:
    """What the probe found in ``modules`` (importable with ``root`` first on sys.path);
    ``folder`` is the app's folder (paths in the result are relative to it)."""
    args = json.dumps({"root": str(root), "modules": list(modules), "imports": list(imports),
                       "drivers": list(DRIVERS)})
    try:
        done = subprocess.run([python, "-I", "-c", _PROBE_SOURCE, args], cwd=root,
                              env=dict(env), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return ProbeResult(errors=(f"{python} did not finish reading the app within "
                                   f"{PROBE_TIMEOUT_S:.0f} s",))
    except OSError as exc:
        return ProbeResult(errors=(f"cannot run {python}: {exc}",))
    found = [ln for ln in done.stdout.splitlines() if ln.startswith(probe.MARK)]
    if not found:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return ProbeResult(errors=(f"{python} failed (exit {done.returncode}): {tail[0]}",))
    return decode(json.loads(found[-1][len(probe.MARK):]), root, folder)


def decode(doc: Mapping[str, Any], root: Path, folder: Path) -> ProbeResult:
    entry = None
    raw = doc.get("entry")
    if isinstance(raw, dict):
        rel = str(root.relative_to(folder)) if root.is_relative_to(folder) else str(root)
        how = "a factory: " if raw["factory"] else ""
        entry = Entry(kind=raw["kind"], target=f"{raw['module']}:{raw['attr']}",
                      framework=raw["framework"], factory=bool(raw["factory"]), root=rel,
                      where=f"{how}the {framework_name(raw['framework'])} app of "
                            f"{raw['module']}")
    routes = tuple(Route(method=r["method"], path=r["path"], params=tuple(r["params"]),
                         source=r["source"], required_query=tuple(r.get("required_query", ())),
                         body=r.get("body"), methods_known=r.get("methods_known", True))
                   for r in doc.get("routes", []))
    drivers = tuple(doc.get("drivers", []))
    preload = tuple(dict.fromkeys([*doc.get("preload", []),
                                   *(d for d in drivers if d in ("asyncpg", "psycopg"))]))
    return ProbeResult(entry=entry, routes=routes,
                       routes_from=ROUTES_FROM.get(routes[0].source, "") if routes else "",
                       preload=preload, drivers=drivers, errors=tuple(doc.get("errors", [])))


def framework_name(framework: str) -> str:
    return {"fastapi": "FastAPI", "starlette": "Starlette", "flask": "Flask",
            "quart": "Quart", "django": "Django"}.get(framework, framework)
