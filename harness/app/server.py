"""The HTTP server that runs the app in its own interpreter: uvicorn.

If the app's environment has uvicorn, that one is used: 0.18 or later (``MIN_UVICORN``,
tested with 0.18.3; before 0.22 it runs without ``--timeout-graceful-shutdown``, which it
does not know). If not, the harness lends its own
copy: the files of its uvicorn, h11 and click distributions are copied once into a cache
folder the harness owns (``$XDG_CACHE_HOME/pgstampede/app-server/<versions>``) and that
folder is *appended* to the app's sys.path, so every package the app has itself wins. If
the app's interpreter still cannot import uvicorn (e.g. another Python version), the run
stops with one line saying what to install.

WSGI apps run under ``uvicorn --interface wsgi``, which uses a2wsgi when the app's
environment has it (the adapter uvicorn recommends) and uvicorn's own one otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from harness.app.env import interpreter
from harness.errors import AppError
from harness.scenario.records import AppSpec

LENT = ("uvicorn", "h11", "click")
"""The distributions the harness lends an app whose environment has no uvicorn."""

MIN_UVICORN = (0, 18)
"""The oldest uvicorn of an app's own environment that runs (tested with 0.18.3)."""
GRACEFUL_TIMEOUT_SINCE = (0, 22)
"""``--timeout-graceful-shutdown`` exists from uvicorn 0.22.0 on; older ones run without it."""

BOOT = """
import os, socket, sys
extra = sys.argv.pop(1)
for folder in extra.split(os.pathsep) if extra else ():
    sys.path.append(folder)
sys.argv[0] = "uvicorn"
import uvicorn.config
bind = getattr(uvicorn.config.Config, "bind_socket", None)
if bind is not None:
    def bind_tcp(self):
        sock = bind(self)
        if sock.proto == 0:  # the kernel's own family, type and protocol for that descriptor
            sock = socket.socket(fileno=sock.detach())
        return sock
    uvicorn.config.Config.bind_socket = bind_tcp
from uvicorn.main import main
main()
"""
"""How the server starts: uvicorn's own command line, with the lent folder and the folder
exposing ``pgstampede_apphost`` (if any) last on sys.path (uvicorn's worker processes
inherit the parent's sys.path). With ``--workers`` > 1
uvicorn binds the listening socket itself with protocol 0, and its workers (which get that
socket) then accept connections that asyncio does not mark TCP_NODELAY (it checks the
protocol; uvloop does not): every response written in two parts waited for the client's
delayed ACK, 44 ms, unless the app's environment had uvloop. The socket is labelled as the
kernel knows it (TCP; a Unix socket stays one), so that the server pgstampede chose adds no
delay of its own."""

_PROBE = """
import json, sys
sys.path.append(sys.argv[1]) if sys.argv[1] else None
out = {"python": "%d.%d" % sys.version_info[:2]}
for name in ("uvicorn", "a2wsgi"):
    try:
        module = __import__(name)
        out[name] = getattr(module, "__version__", "?")
    except Exception as exc:
        out[name] = None
        out[name + "_error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


@dataclass(frozen=True)
class AppServer:
    """What runs the app: the interpreter, uvicorn's version and where it comes from."""

    python: str
    uvicorn: str
    lent_path: str  # "" when the app's environment has its own uvicorn
    wsgi_adapter: str  # "a2wsgi <version>" or "uvicorn" (its built-in adapter); "" for ASGI

    def argv(self, uvicorn_args: list[str], extra_path: str = "") -> list[str]:
        """The server's command line; ``extra_path`` is appended to sys.path after the lent
        folder (the folder exposing ``pgstampede_apphost``: harness.app.served)."""
        extra = os.pathsep.join(p for p in (self.lent_path, extra_path) if p)
        return [self.python, "-c", BOOT, extra, *uvicorn_args]

    @property
    def graceful_timeout(self) -> bool:
        """Its uvicorn knows ``--timeout-graceful-shutdown`` (an unknown version: assumed)."""
        version = version_tuple(self.uvicorn)
        return version is None or version >= GRACEFUL_TIMEOUT_SINCE

    def describe(self) -> dict[str, str]:
        return {"python": self.python, "uvicorn": self.uvicorn,
                "uvicorn_from": "lent by the harness" if self.lent_path else "the app's",
                **({"wsgi_adapter": self.wsgi_adapter} if self.wsgi_adapter else {})}


def version_tuple(text: str) -> tuple[int, int] | None:
    """``(major, minor)`` of a version such as ``0.18.3`` (None when it does not read)."""
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pgstampede" / "app-server"


def probe(python: str, env: Mapping[str, str], extra_path: str = "") -> dict[str, str | None]:
    """What the app's interpreter can import (uvicorn, a2wsgi), with ``extra_path`` last."""
    try:
        done = subprocess.run([python, "-c", _PROBE, extra_path], env=dict(env),
                              capture_output=True, text=True, timeout=120, check=False)
        result: dict[str, str | None] = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        raise AppError(python, f"cannot run the app's interpreter: {exc}") from None
    return result


def lend_uvicorn(cache: Path) -> Path:
    """The harness's uvicorn, h11 and click copied into ``cache`` (once per versions)."""
    dists = [metadata.distribution(name) for name in LENT]
    folder = cache / "-".join(f"{d.metadata['Name'].lower()}-{d.version}" for d in dists)
    if folder.is_dir():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".lending-", dir=cache))
    for dist in dists:
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue
            source = Path(str(file.locate()))
            if source.is_file():
                (staging / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, staging / file)
    try:
        staging.rename(folder)
    except OSError:  # another run lent it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def app_server(app: AppSpec, env: Mapping[str, str], *, cache: Path | None = None,
               say: Callable[[str], None] = lambda _: None) -> AppServer:
    """The server for ``app``: its own uvicorn, or the harness's lent beside it."""
    python = interpreter(app)
    found = probe(python, env)
    lent = ""
    if found.get("uvicorn") is None:
        say(f"app: {python} has no uvicorn; lending the harness's copy "
            f"(cached in {cache or default_cache()})")
        lent = str(lend_uvicorn(cache or default_cache()))
        found = probe(python, env, lent)
        if found.get("uvicorn") is None:
            raise AppError(app.entry, f"{python} cannot import uvicorn "
                           f"({found.get('uvicorn_error')}); install it into the app's "
                           f"environment: {python} -m pip install uvicorn")
    version = version_tuple(str(found["uvicorn"]))
    if not lent and version is not None and version < MIN_UVICORN:
        raise AppError(app.entry, f"the app's uvicorn {found['uvicorn']} is older than "
                       f"{'.'.join(map(str, MIN_UVICORN))}, the oldest pgstampede runs: "
                       f"{python} -m pip install 'uvicorn>={'.'.join(map(str, MIN_UVICORN))}' "
                       "(or uninstall it: the harness then lends its own)")
    adapter = ""
    if app.kind == "wsgi":
        adapter = f"a2wsgi {found['a2wsgi']}" if found.get("a2wsgi") else "uvicorn"
    return AppServer(python=python, uvicorn=str(found["uvicorn"]), lent_path=lent,
                     wsgi_adapter=adapter)
