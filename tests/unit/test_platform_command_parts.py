"""The pure and local parts of command apps: the HTTP/1.1 client against a local server
(lengths, chunks, close-delimited bodies, a stale keep-alive connection), the control
channel's lines, the config's checks and the template's launch."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from harness.apphost.wire import HttpRequest
from harness.errors import InputError
from harness.platform.config import PlatformConfig
from harness.platform.control import ControlChannel
from harness.platform.http_client import (
    HttpConnection,
    HttpError,
    StaleConnection,
    encode_request,
    parse_head,
)
from harness.platform.kind import AppException
from harness.platform.kinds import kind_name
from harness.platform.launch import COMMAND_RUNTIME, template_launch

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def serve(answer: Answer, body: Callable[[int], Awaitable[None]]) -> None:
    """Run ``body(port)`` against a server on 127.0.0.1 that answers with ``answer``."""

    async def main() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await asyncio.wait_for(body(port), 10.0)
        finally:
            server.close()

    asyncio.run(main())


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + await reader.readexactly(length)


def test_the_request_goes_as_received_without_hop_by_hop_headers() -> None:
    req = HttpRequest("POST", "/a b", "x=1", b"hi", (("Host", "gw:1"), ("Connection", "close"),
                                                     ("X-A", "1"), ("Transfer-Encoding", "x")),
                      raw_path="/a%20b")
    assert encode_request(req, "127.0.0.1:9") == (
        b"POST /a%20b?x=1 HTTP/1.1\r\nHost: gw:1\r\nX-A: 1\r\ncontent-length: 2\r\n"
        b"connection: keep-alive\r\n\r\nhi")
    assert b"host: 127.0.0.1:9" in encode_request(HttpRequest("GET", "/"), "127.0.0.1:9")
    assert parse_head(b"HTTP/1.1 201 Created\r\nX-B: 2\r\nSet-Cookie: a=1\r\n\r\n") == (
        201, "HTTP/1.1", (("x-b", "2"), ("set-cookie", "a=1")))
    with pytest.raises(HttpError, match="not an HTTP/1.x answer"):
        parse_head(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_bodies_by_length_by_chunks_and_until_close() -> None:
    answers = [b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc",
               b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
               b"\r\n3\r\none\r\n4;x=y\r\n,two\r\n0\r\nt: 1\r\n\r\n",
               b"HTTP/1.0 200 OK\r\n\r\nuntil the end"]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for text in answers:
            await read_request(reader)
            writer.write(text)
        writer.close()

    async def body(port: int) -> None:
        conn = await HttpConnection.open("127.0.0.1", port)
        got = [await conn.request(HttpRequest("GET", "/"), "h") for _ in answers]
        assert [(a.status, a.body, a.keep_alive) for a in got] == [
            (200, b"abc", True), (200, b"one,two", True), (200, b"until the end", False)]
        conn.close()
        await asyncio.sleep(0)

    serve(answer, body)


def test_a_reused_connection_closed_before_answering_is_stale() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        writer.close()  # an idle keep-alive connection timed out by the server

    async def body(port: int) -> None:
        conn = await HttpConnection.open("127.0.0.1", port)
        assert (await conn.request(HttpRequest("GET", "/"), "h")).status == 204
        await asyncio.sleep(0.05)
        with pytest.raises(StaleConnection):
            await conn.request(HttpRequest("GET", "/"), "h")
        conn.close()
        fresh = await HttpConnection.open("127.0.0.1", port)
        assert (await fresh.request(HttpRequest("GET", "/"), "h")).status == 204
        fresh.close()
        await asyncio.sleep(0)

    serve(answer, body)


class Events:
    def __init__(self) -> None:
        self.seen: list[object] = []

    def started(self) -> None: ...
    def exited(self) -> None: ...
    def background_started(self, units: int) -> None: ...
    def background_ended(self, late: bool) -> None: ...

    def pending(self, count: int) -> None:
        self.seen.append(count)

    def exception(self, error: AppException) -> None:
        self.seen.append(error)


def test_the_control_channel_reads_pending_counts_and_exceptions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    read_end, write_end = os.pipe()
    events = Events()
    channel = ControlChannel(read_end, events, "i1")
    os.write(write_end, b'{"pending": 2}\n{"pending": 0}\nnot json\n{"exception": {"type": "E",'
                        b' "message": "m", "where": "a.js:3"}}\n{"pend')
    channel.read()
    assert events.seen == [2, 0, AppException("E", "m", "a.js:3")]
    os.write(write_end, b'ing": 1}\n{"pending": -1}\n')
    channel.read()
    assert events.seen[-1] == 1 and len(events.seen) == 4  # a negative count is no count
    assert capsys.readouterr().err.count("control channel: ignored") == 1  # said once
    os.close(write_end)
    channel.read()
    assert channel.closed


def test_command_config_and_launch(tmp_path: Path) -> None:
    config = PlatformConfig(app_kind="command", app_command=("node", "server.js"),
                            app_root=str(tmp_path), app_port_env="APP_PORT",
                            app_ready="GET /health", app_env={"DATABASE_URL": "postgresql://x"})
    assert kind_name(config) == "command" and config.is_app
    launch = template_launch(config, tmp_path)
    assert launch.python == sys.executable and launch.module == "harness.apphost.template"
    assert launch.options == ("--runtime", COMMAND_RUNTIME, "--preload", COMMAND_RUNTIME)
    args = dict(zip(launch.runtime_args[0::2], launch.runtime_args[1::2], strict=True))
    assert json.loads(args["--command"]) == ["node", "server.js"]
    assert (args["--root"], args["--port-env"]) == (str(tmp_path), "APP_PORT")
    assert launch.env["WEB_CONCURRENCY"] == "1" and launch.env["DATABASE_URL"] == "postgresql://x"
    assert "PYTHONPATH" not in launch.env
    with pytest.raises(InputError, match="app_command must name a program"):
        PlatformConfig(app_kind="command")
    with pytest.raises(InputError, match="app_ready = 'health'"):
        PlatformConfig(app_kind="command", app_command=("x",), app_ready="health")
    with pytest.raises(InputError, match="spawner = 'process' only"):
        PlatformConfig(app_kind="command", app_command=("x",), spawner="docker")
