"""What the app raised, as a record: type, first line, the app's own frame (the deepest below
its root that is neither the standard library's nor an installed package's)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.apphost.exceptions import describe, leaf, where
from harness.apphost.served import Recorder, wrap_asgi, wrap_wsgi
from harness.collect.app_exceptions import AppExceptionsCollector

LIBRARY = """
import json
def parse(text):
    return json.loads(text)
"""
APP = """
def handler(parse):
    x = 1
    return parse("{not json")
"""


def function(path: Path, source: str, name: str) -> Callable[..., Any]:
    """A function whose code claims to live in ``path`` (the file need not exist)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 (test code)
    fn: Callable[..., Any] = namespace[name]
    return fn


def raised(call: Callable[[], Any]) -> BaseException:
    with pytest.raises(Exception) as info:
        call()
    return info.value


def test_the_deepest_frame_of_the_app_not_its_venv_nor_the_stdlib(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    parse = function(root / ".venv/lib/python3.11/site-packages/lib/parse.py", LIBRARY, "parse")
    handler = function(root / "app" / "routes.py", APP, "handler")
    exc = raised(lambda: handler(parse))
    doc = describe(exc, str(root))
    assert doc == {"type": "JSONDecodeError",
                   "message": "Expecting property name enclosed in double quotes: line 1 "
                              "column 2 (char 1)",
                   "where": os.path.join("app", "routes.py") + ":4"}
    # no frame of the app: the deepest frame outside the standard library, full path
    outside = describe(exc, str(tmp_path / "elsewhere"))
    assert outside["where"].endswith("site-packages/lib/parse.py:4")


def test_first_line_and_exception_groups() -> None:
    exc = raised(lambda: (_ for _ in ()).throw(ValueError("line one\nline two")))
    assert describe(exc, "")["message"] == "line one"
    group = BaseExceptionGroup("unhandled errors in a TaskGroup", [KeyError("user")])
    assert leaf(group) is group.exceptions[0]
    assert describe(group, "")["type"] == "KeyError"
    assert where(ValueError("never raised"), "") == ""


def test_the_served_wrappers_record_and_raise_again(tmp_path: Path) -> None:
    path = tmp_path / "app-exceptions.jsonl"
    record = Recorder(str(path), str(tmp_path))

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    served = wrap_asgi(asgi, record)
    with pytest.raises(RuntimeError):
        asyncio.run(served({"type": "http"}, None, None))
    with pytest.raises(RuntimeError):  # the lifespan is the app's own business: not recorded
        asyncio.run(served({"type": "lifespan"}, None, None))

    class Body:
        def __iter__(self) -> Any:
            yield b"ok"

        def close(self) -> None:
            raise OSError("close failed")

    def wsgi(environ: Any, start_response: Any) -> Any:
        if environ.get("fail"):
            raise KeyError("x")
        return Body()

    served_wsgi = wrap_wsgi(wsgi, record)
    with pytest.raises(KeyError):
        served_wsgi({"fail": True}, None)
    response = served_wsgi({}, None)
    assert list(response) == [b"ok"]
    with pytest.raises(OSError):
        response.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [d["type"] for d in lines] == ["RuntimeError", "KeyError", "OSError"]
    assert all(d["instance"] == str(os.getpid()) and d["t"] > 0 for d in lines)


def test_the_collector_reads_whole_lines_and_skips_others(tmp_path: Path) -> None:
    path = tmp_path / "app-exceptions.jsonl"
    collector = AppExceptionsCollector(path)
    asyncio.run(collector.start())  # no file yet
    good = json.dumps({"t": 1.5, "instance": "12", "type": "KeyError", "message": "'x'",
                       "where": "app.py:3"})
    path.write_text(f"{good}\nnot json\n{good[:10]}")
    asyncio.run(collector.sample(2.0))
    assert collector.latest() == {"app.exceptions": 1.0}
    with path.open("a") as f:
        f.write(good[10:] + "\n")
    asyncio.run(collector.read_rest())
    frame = collector.frames()["app_exceptions"]
    assert list(frame["type"]) == ["KeyError", "KeyError"] and list(frame["t"]) == [1.5, 1.5]


def test_a_relative_file_name_is_never_the_apps(tmp_path: Path) -> None:
    """A compiled module's frame says ``asyncpg/protocol/protocol.pyx``: relative to nothing,
    not to the app's working directory."""
    root = tmp_path / "shop"
    cython = function(Path("asyncpg/protocol/protocol.pyx"), LIBRARY, "parse")
    handler = function(root / "app" / "routes.py", APP, "handler")
    exc = raised(lambda: handler(cython))
    cwd = os.getcwd()
    try:
        root.mkdir()
        os.chdir(root)
        assert describe(exc, str(root))["where"] == os.path.join("app", "routes.py") + ":4"
    finally:
        os.chdir(cwd)


def test_an_init_error_names_the_apps_own_line(tmp_path: Path) -> None:
    from harness.apphost.instance import init_error_text
    from harness.apphost.loader import InitError

    root = tmp_path / "shop"
    handler = function(root / "app" / "main.py", APP, "handler")
    parse = function(root / ".venv/lib/python3.11/site-packages/lib/parse.py", LIBRARY, "parse")
    exc = raised(lambda: handler(parse))
    text = init_error_text(exc, str(root))
    assert text.startswith("JSONDecodeError: Expecting property name")
    assert text.endswith(f"({os.path.join('app', 'main.py')}:4)")
    try:  # a lifespan startup that raised: the InitError's cause has the traceback
        raise InitError("JSONDecodeError: bad") from exc
    except InitError as init:
        assert init_error_text(init, str(root)).endswith(":4)")
    assert init_error_text(InitError("shop.main:app is not callable"), str(root)) == \
        "shop.main:app is not callable"


def test_the_apps_line_in_a_frameworks_traceback_text(tmp_path: Path) -> None:
    from harness.apphost.exceptions import where_in_text

    root = tmp_path / "shop"
    text = (f'Traceback (most recent call last):\n'
            f'  File "{root}/.venv/lib/python3.11/site-packages/starlette/routing.py", line 677\n'
            f'  File "{root}/app/main.py", line 12, in lifespan\n'
            f'  File "<frozen os>", line 679, in __getitem__\nKeyError: \'DATABASE_URL\'\n')
    assert where_in_text(text, str(root)) == os.path.join("app", "main.py") + ":12"
    assert where_in_text(text, str(tmp_path / "other")) == ""
