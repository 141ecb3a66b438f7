"""What ``pgstampede init`` found in an app's folder, as records the writer turns into a
scenario. Each finding says where it was found; what was not found stays empty and becomes
a commented question in the scenario."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class EnvRead:
    """An environment variable the code reads: ``os.environ["X"]``, ``process.env.X``..."""

    name: str
    where: str  # "shop/settings.py:25", relative to the app's folder
    default: str | None = None  # the default written beside it, if any


@dataclass(frozen=True)
class Entry:
    """How the app starts: an ASGI/WSGI object or factory, or a command (Node...)."""

    kind: str  # "asgi" | "wsgi" | "command"
    target: str  # "module:attribute", or the command line
    framework: str  # fastapi | starlette | quart | flask | django | node
    factory: bool = False
    root: str = "."  # the folder first on sys.path (or the command's folder), relative
    where: str = ""  # how it was found, for people


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {name} for each path parameter
    params: tuple[str, ...] = ()
    source: str = ""  # openapi | routes | url_map | urlpatterns | source
    required_query: tuple[str, ...] = ()
    body: object = None  # a skeleton of the JSON body (OpenAPI), None when unknown
    methods_known: bool = True  # False: the framework does not say (Django views)

    @property
    def loadable(self) -> bool:
        """A request the load can send as written: GET, no path or required parameters."""
        return self.method == "GET" and not self.params and not self.required_query


@dataclass(frozen=True)
class DsnPlan:
    """The database variables of the app: whole URLs (``dsn_env``), parts filled from
    templates (``env``), settings left to the user, and the switches that tell the app it
    is behind PgBouncer (set on that variant only)."""

    urls: tuple[EnvRead, ...] = ()
    parts: tuple[tuple[EnvRead, str], ...] = ()  # (variable, "{host}"...)
    settings: tuple[EnvRead, ...] = ()
    pgbouncer: tuple[tuple[EnvRead, str], ...] = ()  # (variable, value behind PgBouncer)


@dataclass(frozen=True)
class Detection:
    folder: Path  # absolute
    name: str
    entry: Entry | None
    python: str  # relative path to the app's interpreter, "" when none was found
    dsn: DsnPlan
    schema: str = ""  # relative path
    setup: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()
    routes_from: str = ""  # how the routes were read, for people
    drivers: tuple[str, ...] = ()
    port_env: str = ""  # command apps: the variable that gives the port
    ready: str = ""  # command apps: "GET /health" when the app has one
    questions: tuple[str, ...] = ()  # what could not be found, said in the scenario
    notes: tuple[str, ...] = field(default=())  # what was tried and failed, for people
