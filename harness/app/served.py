"""The persistent server's view of the app, with its unhandled exceptions recorded.

uvicorn serves ``pgstampede_apphost.served:app`` (harness/apphost/served.py, standard library
only, run in the app's interpreter), which loads the app and writes every exception that
escapes it to ``<variant>/logs/app-exceptions.jsonl``; the collector
:mod:`harness.collect.app_exceptions` reads that file into the ``app_exceptions`` frame. The
package reaches the app's interpreter as a folder holding only a link ``pgstampede_apphost``
→ ``harness/apphost`` (as for the platform's instances), appended to its sys.path.
"""

from __future__ import annotations

from pathlib import Path

from harness.apphost.expose import expose
from harness.scenario.records import AppSpec

SERVED_ENTRY = "pgstampede_apphost.served:app"
EXCEPTIONS_LOG = "app-exceptions.jsonl"


def served_env(app: AppSpec, exceptions_file: Path) -> dict[str, str]:
    """What ``pgstampede_apphost.served`` reads: the app, its kind and root, the file."""
    return {"PGSTAMPEDE_APP_ENTRY": app.entry,
            "PGSTAMPEDE_APP_FACTORY": "1" if app.factory else "",
            "PGSTAMPEDE_APP_KIND": app.kind,
            "PGSTAMPEDE_APP_ROOT": str(Path(app.root).resolve()),
            "PGSTAMPEDE_EXCEPTIONS_FILE": str(exceptions_file)}


CONTROL_FD = 3
"""The persistent command app's control channel: descriptor 3, appending to the file."""


def with_control_file(argv: tuple[str, ...] | list[str], path: Path) -> list[str]:
    """A command app's argv with ``PGSTAMPEDE_CONTROL_FD`` (3) open for appending to ``path``
    (docs/app.md, "The control channel"): on the persistent target its ``{"exception"}``
    lines land in the exceptions file the collector reads; ``{"pending"}`` lines mean
    nothing there (nothing is frozen) and are skipped."""
    return ["/bin/sh", "-c", f'exec {CONTROL_FD}>>"$0" && exec "$@"', str(path), *argv]


def expose_apphost(workdir: Path) -> Path:
    """``WORKDIR/apphost`` holding only ``pgstampede_apphost`` (harness.apphost.expose)."""
    return expose(workdir)
