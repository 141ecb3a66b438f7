"""The app's own error from its log, and the server's command line (no processes)."""

from __future__ import annotations

from pathlib import Path

from harness.app.failure import error_tail
from harness.app.persistent import uvicorn_args
from harness.app.server import BOOT, AppServer
from harness.scenario.records import AppSpec

TRACEBACK = """INFO:     Started server process [12]
INFO:     Waiting for application startup.
ERROR:    Traceback (most recent call last):
  File "/srv/shop/main.py", line 12, in lifespan
    url = os.environ["DATABASE_URL"]
          ~~~~~~~~~~^^^^^^^^^^^^^^^^
KeyError: 'DATABASE_URL'

ERROR:    Application startup failed. Exiting.
"""


def test_error_tail_names_the_exception_and_where(tmp_path: Path) -> None:
    log = tmp_path / "target.log"
    log.write_text(TRACEBACK)
    assert error_tail(log) == "KeyError: 'DATABASE_URL' (/srv/shop/main.py:12)"


FROZEN = """ERROR:    Traceback (most recent call last):
  File "/srv/shop/.venv/lib/python3.11/site-packages/starlette/routing.py", line 677, in lifespan
    async with self.lifespan_context(app) as maybe_state:
  File "/srv/shop/app/main.py", line 12, in lifespan
    url = os.environ["DATABASE_URL"]
          ~~~~~~~~~~^^^^^^^^^^^^^^^^
  File "<frozen os>", line 679, in __getitem__
KeyError: 'DATABASE_URL'
"""


def test_error_tail_names_the_apps_own_line_not_the_standard_librarys(tmp_path: Path) -> None:
    log = tmp_path / "target.log"
    log.write_text(FROZEN)
    assert error_tail(log, root="/srv/shop") == \
        "KeyError: 'DATABASE_URL' (/srv/shop/app/main.py:12)"
    assert error_tail(log) == "KeyError: 'DATABASE_URL' (<frozen os>:679)"  # no root known


def test_error_tail_without_a_traceback_is_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "setup.log"
    log.write_text("migrating\n\nno such revision: abc\n")
    assert error_tail(log) == "migrating | no such revision: abc"
    assert error_tail(tmp_path / "missing.log") == ""


def test_uvicorn_command_line() -> None:
    asgi = AppSpec(kind="asgi", entry="shop.main:create", factory=True, root="/srv/shop")
    args = uvicorn_args(asgi, 8123, 4)
    assert args[:3] == ["shop.main:create", "--app-dir", "/srv/shop"]
    assert args[args.index("--workers") + 1] == "4"
    assert args[args.index("--lifespan") + 1] == "auto"
    assert "--factory" in args and "--interface" not in args
    wsgi = uvicorn_args(AppSpec(kind="wsgi", entry="shop.wsgi:app", root="/srv"), 8123, 1)
    assert wsgi[wsgi.index("--interface") + 1] == "wsgi"
    assert wsgi[wsgi.index("--lifespan") + 1] == "off" and "--factory" not in wsgi
    server = AppServer(python="/venv/bin/python", uvicorn="0.30", lent_path="", wsgi_adapter="")
    assert server.argv(["x:app"]) == ["/venv/bin/python", "-c", BOOT, "", "x:app"]
    assert server.describe()["uvicorn_from"] == "the app's"


def test_an_older_uvicorn_runs_without_the_flag_it_does_not_know() -> None:
    asgi = AppSpec(kind="asgi", entry="shop.main:app", root="/srv/shop")
    assert "--timeout-graceful-shutdown" in uvicorn_args(asgi, 8123, 1)
    assert "--timeout-graceful-shutdown" not in uvicorn_args(asgi, 8123, 1,
                                                               graceful_timeout=False)
    served = uvicorn_args(AppSpec(kind="asgi", entry="shop.main:make", factory=True,
                                  root="/srv/shop"), 8123, 1, served=True)
    assert served[0] == "pgstampede_apphost.served:app" and "--factory" not in served

    def server(version: str) -> AppServer:
        return AppServer(python="/venv/bin/python", uvicorn=version, lent_path="",
                         wsgi_adapter="")

    assert not server("0.18.3").graceful_timeout and not server("0.21.1").graceful_timeout
    assert server("0.22.0").graceful_timeout and server("0.30.6").graceful_timeout
    assert server("?").graceful_timeout  # unknown: assumed recent
