"""The app hosts (harness.apphost) in-process: ASGI with lifespan, WSGI in threads, the
background accounting and the app frames, with stdlib-only test apps (tests/fixtures/apps)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.apphost import wire
from harness.apphost.asgi import AsgiHost
from harness.apphost.background import Background, Thaws
from harness.apphost.loader import InitError, error_text, last_line, load_app, prepare
from harness.apphost.wsgi import WsgiHost, environ_for

APPS = Path(__file__).resolve().parents[1] / "fixtures" / "apps"

Reports = list[tuple[int, float, bool]]


@pytest.fixture(autouse=True)
def apps_on_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(APPS))
    for name in ("stdlib_asgi", "stdlib_wsgi"):
        monkeypatch.delitem(__import__("sys").modules, name, raising=False)
    yield


@pytest.fixture
def thaws() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGCONT)
    Thaws.install()
    yield
    signal.signal(signal.SIGCONT, previous)


def request(path: str, query: str = "", body: bytes = b"", method: str = "GET") -> wire.HttpRequest:
    return wire.HttpRequest(method, path, query, body, (("x-test", "1"), ("content-type", "a/b")))


def recorder() -> tuple[Background, Reports]:
    reports: Reports = []
    return Background(lambda msg_id, ms, late: reports.append((msg_id, ms, late))), reports


async def asgi_host(monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[AsgiHost, Reports]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    background, reports = recorder()
    background.install(asyncio.get_running_loop())
    host = AsgiHost(load_app("stdlib_asgi:app", False), background)
    await host.startup()
    return host, reports


def test_asgi_request_and_lifespan_state(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        host, reports = await asgi_host(monkeypatch)
        resp = await host.handle(1, request("/hello", "a=1", b"\xffpayload", "POST"))
        assert resp.status == 200 and resp.pending == 0 and reports == []
        assert ("x-app", "stdlib-asgi") in resp.headers
        doc = __import__("json").loads(resp.body)
        assert (doc["method"], doc["path"], doc["query"]) == ("POST", "/hello", "a=1")
        assert doc["body"] == "\xffpayload" and doc["headers"]["x-test"] == "1"
        assert doc["state"] == {"started_by": os.getpid()}
        await host.shutdown()
        assert host.lifespan.task is not None and host.lifespan.task.done()

    asyncio.run(scenario())


def test_asgi_work_after_the_response_is_pending_then_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "done.txt"

    async def scenario() -> None:
        host, reports = await asgi_host(monkeypatch)
        # the work (500 ms) runs after the response: a loaded machine still answers both
        # requests within it
        after_call = await host.handle(1, request("/background", f"ms=500&file={out}"))
        spawned = await host.handle(2, request("/spawn", f"ms=500&file={out}"))
        assert (after_call.status, after_call.pending) == (200, 1)
        assert (spawned.status, spawned.pending) == (200, 1)
        assert not out.exists()  # the work runs after the response
        while len(reports) < 2:
            await asyncio.sleep(0.01)
        assert sorted(r[0] for r in reports) == [1, 2]
        assert all(ms >= 500 and not late for _, ms, late in reports)
        assert len(out.read_text().splitlines()) == 2

    asyncio.run(scenario())


def test_work_that_outlives_a_thaw_is_late(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, thaws: None
) -> None:
    async def scenario() -> None:
        host, reports = await asgi_host(monkeypatch)
        resp = await host.handle(1, request("/background", f"ms=200&file={tmp_path / 'x'}"))
        assert resp.pending == 1
        os.kill(os.getpid(), signal.SIGCONT)  # as the gateway's thaw does
        while not reports:
            await asyncio.sleep(0.01)
        assert reports[0][0] == 1 and reports[0][2] is True

    asyncio.run(scenario())


def test_asgi_app_raising_answers_500(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        host, _ = await asgi_host(monkeypatch)
        resp = await host.handle(1, request("/fail"))
        assert (resp.status, resp.body, resp.pending) == (500, b"Internal Server Error", 0)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("variable", "message"),
    [("FAIL_STARTUP", "RuntimeError: pool refused"), ("REFUSE_STARTUP", "pool refused")],
)
def test_asgi_startup_failure_is_an_init_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, message: str
) -> None:
    async def scenario() -> None:
        with pytest.raises(InitError) as err:
            await asgi_host(monkeypatch, **{variable: "pool refused"})
        assert str(err.value) == message

    asyncio.run(scenario())


def test_asgi_app_without_lifespan_support_starts() -> None:
    async def no_lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def scenario() -> None:
        background, _ = recorder()
        host = AsgiHost(no_lifespan, background)
        await host.startup()
        assert not host.lifespan.supported
        assert (await host.handle(1, request("/"))).status == 204
        await host.shutdown()

    asyncio.run(scenario())


def test_wsgi_request_close_work_and_factory(tmp_path: Path) -> None:
    out = tmp_path / "done.txt"

    async def scenario() -> None:
        background, reports = recorder()
        host = WsgiHost(load_app("stdlib_wsgi:create_app", True), background, threads=2)
        await host.startup()
        resp = await host.handle(1, request("/hello", "q=2", b"data", "PUT"))  # trivial close
        assert resp.status == 201 and ("x-app", "stdlib-wsgi") in resp.headers
        doc = __import__("json").loads(resp.body)
        assert (doc["method"], doc["query"], doc["body"]) == ("PUT", "q=2", "data")
        assert doc["headers"] == {"HTTP_X_TEST": "1"} and doc["content_type"] == "a/b"
        listed = await host.handle(2, request("/list"))
        assert (listed.status, listed.pending) == (201, 0)  # no close(): nothing after
        late = await host.handle(3, request("/background", f"ms=300&file={out}"))
        assert late.pending == 1 and not out.exists()
        while not reports:
            await asyncio.sleep(0.01)
        # reported once close() (300 ms of sleep in its thread) wrote its line; its lateness is
        # counted from the response's completion, stamped on the loop a little after the
        # thread began close(): no wall-clock bound here (it read 297.85 ms on a busy machine)
        assert reports[0][0] == 3 and reports[0][1] > 0 and out.exists()
        await host.shutdown()

    asyncio.run(scenario())


def test_wsgi_environ_joins_repeated_headers() -> None:
    req = wire.HttpRequest("GET", "/caf\u00e9", "x=1", b"ab", (("accept", "a"), ("accept", "b")))
    environ = environ_for(req)
    assert environ["HTTP_ACCEPT"] == "a,b" and environ["CONTENT_LENGTH"] == "2"
    assert environ["PATH_INFO"] == "/caf\u00c3\u00a9"  # UTF-8 bytes as latin-1 (PEP 3333)


def test_wsgi_app_raising_answers_500() -> None:
    def broken(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise ValueError("broken")

    async def scenario() -> None:
        background, _ = recorder()
        host = WsgiHost(broken, background, threads=1)
        assert (await host.handle(1, request("/"))).status == 500
        await host.shutdown()

    asyncio.run(scenario())


def test_loader_errors_and_texts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModuleNotFoundError) as missing:
        load_app("no_such_module_here:app", False)
    assert error_text(missing.value) == "ModuleNotFoundError: No module named 'no_such_module_here'"
    with pytest.raises(InitError, match="has no attribute 'nope'"):
        load_app("stdlib_asgi:nope", False)
    with pytest.raises(InitError, match="is not callable"):
        load_app("stdlib_asgi:STARTED", False)
    assert last_line("Traceback\n  x\nOSError: too many clients\n\n") == "OSError: too many clients"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app_root").mkdir()
    prepare("app_root")
    assert Path.cwd() == tmp_path / "app_root"
    assert __import__("sys").path[0] == str(tmp_path / "app_root")
    __import__("sys").path.remove(str(tmp_path / "app_root"))


def test_app_frames_round_trip() -> None:
    req = wire.HttpRequest("POST", "/a b", "x=%20", b"\x00\xff", (("h", "v\u00e9"),), "/a%20b",
                           ("10.0.0.1", 5), ("127.0.0.1", 8000))
    frame = wire.encode_app_request(9, req)
    length, msg_id, code = wire.HEADER.unpack(frame[: wire.HEADER.size])
    assert (length, msg_id, code) == (len(frame) - wire.HEADER.size, 9, wire.APP_REQUEST)
    assert wire.decode_app_request(frame[wire.HEADER.size :]) == req
    resp = wire.HttpResponse(418, (("x", "y"),), b"\x01body", pending=2)
    frame = wire.encode_app_response(9, resp)
    assert wire.decode_app_response(418, frame[wire.HEADER.size :]) == resp


def test_thaws_count_sigcont(thaws: None) -> None:
    before = Thaws.count
    os.kill(os.getpid(), signal.SIGCONT)  # the handler runs before kill() returns to Python
    assert Thaws.count == before + 1


def test_an_init_error_is_the_exception_line_of_a_traceback() -> None:
    tb = """Traceback (most recent call last):
  File "/app/main.py", line 12, in lifespan
    await conn.connect()
asyncpg.exceptions.TooManyConnectionsError: remaining connection slots are reserved

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/db.py", line 3, in open
sqlalchemy.exc.DBAPIError: (asyncpg.Error) TooManyConnectionsError: remaining connection slots
[SQL: SELECT 1]
(Background on this error at: https://sqlalche.me/e/21/dbapi)
"""
    assert last_line(tb) == ("sqlalchemy.exc.DBAPIError: (asyncpg.Error) "
                             "TooManyConnectionsError: remaining connection slots")
    assert last_line("startup failed") == "startup failed"
