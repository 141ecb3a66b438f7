"""The platform gateway: an HTTP front door that runs every request on an emulated instance.

Started by the harness as its own process::

    python -m harness.platform.gateway --config CONFIG.json --port P --workdir DIR \
        [--host 127.0.0.1]

``CONFIG.json`` is ``PlatformConfig.to_json()``. The gateway serves, on 127.0.0.1:P:

    /read /write /slow /counter /background /health /publish   routed to an instance (cold
                                start if needed)
    /events                     a server-sent event stream, relayed while it holds its
                                instance's slot, cut at max_duration (harness.platform.stream)
    a WebSocket on any path     opened on an instance (the built-in handler's /events twin,
                                or a command app's own) and relayed while it holds its slot,
                                cut at max_duration (close 1001); refused with 426, kind
                                websocket_refused, when ``websockets = false``
    any other path, with an app (``app_kind``)        routed to an instance running the app
    GET /__platform/health      200 {"ok": true} once the kind of instance is ready (the
                                template has imported what instances share; readiness
                                probe: it never touches an instance)
    GET /__platform/stats?since=CURSOR&exceptions_since=CURSOR   counts by state, cold
                                starts, init failures, background work and the app's
                                unhandled exceptions (harness.results.platform_stats)
    GET /__platform/instances   [{"id", "pid", "state", "in_flight", "requests", "age_s"}]
    POST /__platform/reap       the end of the run: every instance killed now, as the platform
                                discards them (work still frozen in them lost): {"killed": N}

Instances are of the kind the config names (harness.platform.kinds). ``DIR/instances.pids``
lists the template's pid (the gateway's own where there is no template) and every live
instance's pid (each instance is its own process group: ``killpg(pid, SIGKILL)``);
``DIR/stats.json`` holds the final stats when the gateway exits. On SIGTERM/SIGINT, and on
any exit, the gateway SIGKILLs every instance and the template; if the gateway itself is
SIGKILLed, the template and the instances die with it (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from harness.apphost.template import INSTANCE_NICE_ENV, raise_priority
from harness.apphost.wire import HttpRequest
from harness.errors import HarnessError
from harness.platform.config import PlatformConfig
from harness.platform.functions import Functions
from harness.platform.kinds import make_kind
from harness.platform.pidfile import PIDFILE_NAME
from harness.platform.pool import InstancePool
from harness.platform.stream import relay, ws_relay
from harness.results.endpoints import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
MAX_BODY = 1024 * 1024
WS_REFUSED_STATUS = 426  # Upgrade Required: what no platform documents answering (docs)
# not relayed from an app's response: the gateway sends the whole body with its own length
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                        "upgrade", "te", "trailer", "proxy-connection"})


class Gateway:
    """The ASGI application; the instance pool is created in the lifespan."""

    def __init__(self, config: PlatformConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.pool: InstancePool | Functions = Functions(config, workdir) \
            if config.app_functions \
            else InstancePool(config, make_kind(config, workdir), workdir / PIDFILE_NAME)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/__platform/"):
            if scope["method"] == "POST" and path == "/__platform/reap":
                killed = await self.pool.end_of_run()
                await _respond(send, 200, json.dumps({"killed": killed}).encode())
                return
            await self._platform(path, scope.get("query_string", b"").decode(), send)
            return
        reads_body = self.config.is_app or scope["method"] in ("POST", "PUT", "PATCH")
        body = await _read_body(receive) if reads_body else b""
        sink = functools.partial(relay, send, receive)
        reply = await self.pool.invoke(_request(scope, body), sink)
        if reply.stream is None:  # a stream was sent by the relay
            await _respond(send, reply.status, reply.body, reply.headers)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade: refused where the platform has none; else opened on an
        instance (its slot held until it closes, cut at max_duration), or its refusal."""
        if (await receive())["type"] != "websocket.connect":
            return
        if not self.config.websockets:
            message = "platform: WebSocket connections are not accepted here (websockets = false)"
            await _refuse(send, WS_REFUSED_STATUS, error_body("websocket_refused", message))
            return
        sink = functools.partial(ws_relay, send, receive)
        reply = await self.pool.invoke(_request({**scope, "method": "GET"}, b""), sink,
                                       websocket=True)
        if reply.stream is None:  # refused by the instance, or the platform's error
            await _refuse(send, reply.status, reply.body, reply.headers)

    async def _platform(self, path: str, query: str, send: Send) -> None:
        if path == "/__platform/health":
            await _respond(send, 200, b'{"ok":true}')
        elif path == "/__platform/stats":
            asked = parse_qs(query)
            since = asked.get("since", ["0"])[0]
            raised = asked.get("exceptions_since", ["0"])[0]
            snapshot = self.pool.snapshot(int(since) if since.isdigit() else 0,
                                          int(raised) if raised.isdigit() else 0)
            await _respond(send, 200, json.dumps(snapshot.to_dict()).encode())
        elif path == "/__platform/instances":
            await _respond(send, 200, json.dumps(self.pool.describe()).encode())
        else:
            await _respond(send, 404, b'{"error":{"kind":"http_4xx","sqlstate":"","message":"?"}}')

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.pool.start()
                except HarnessError as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def shutdown(self) -> None:
        await self.pool.close()
        self.write_stats()

    def write_stats(self) -> None:
        doc = self.pool.snapshot(0).to_dict()
        (self.workdir / "stats.json").write_text(json.dumps(doc))


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _request(scope: Scope, body: bytes) -> HttpRequest:
    """The request to run on an instance, from the gateway's ASGI scope."""
    client = scope.get("client") or ("127.0.0.1", 0)
    server = scope.get("server") or ("127.0.0.1", 80)
    return HttpRequest(
        method=scope["method"],
        path=scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        body=body,
        headers=tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in scope["headers"]),
        raw_path=(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
        client=(str(client[0]), int(client[1])),
        server=(str(server[0]), int(server[1] or 0)),
    )


def _headers(body: bytes, app_headers: tuple[tuple[str, str], ...] | None
             ) -> list[tuple[bytes, bytes]]:
    headers = list(JSON_HEADERS)
    if app_headers is not None:  # an app's own headers
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in app_headers
                   if n.lower() not in HOP_BY_HOP]
    headers.append((b"content-length", str(len(body)).encode()))
    return headers


async def _respond(
    send: Send, status: int, body: bytes, app_headers: tuple[tuple[str, str], ...] | None = None
) -> None:
    headers = _headers(body, app_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _refuse(send: Send, status: int, body: bytes,
                  app_headers: tuple[tuple[str, str], ...] | None = None) -> None:
    """Answer a WebSocket upgrade with an HTTP response instead."""
    await send({"type": "websocket.http.response.start", "status": status,
                "headers": _headers(body, app_headers)})
    await send({"type": "websocket.http.response.body", "body": body})


def serve(config: PlatformConfig, host: str, port: int, workdir: Path) -> None:
    """Run the gateway until SIGTERM/SIGINT; every instance is killed on the way out."""
    workdir.mkdir(parents=True, exist_ok=True)
    gateway = Gateway(config, workdir)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        gateway.pool.kill_all_now()
        raise SystemExit(128 + signum)

    # uvicorn handles the first signal (graceful stop, lifespan shutdown) and re-raises it
    # afterwards; these handlers then make sure that nothing is left before exiting.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = uvicorn.Server(
        uvicorn.Config(
            gateway,
            host=host,
            port=port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=1,
            backlog=4096,
        )
    )
    try:
        server.run()
    finally:
        gateway.pool.kill_all_now()
    if not server.started:
        raise SystemExit(3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.platform.gateway")
    parser.add_argument("--config", type=Path, required=True, help="PlatformConfig JSON file")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workdir", type=Path, required=True, help="pid file and final stats")
    args = parser.parse_args(argv)
    try:
        config = PlatformConfig.from_json(args.config.read_text())
    except (OSError, HarnessError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    # the control plane first (where allowed); instances return to the priority we had
    os.environ[INSTANCE_NICE_ENV] = str(raise_priority())
    serve(config, args.host, args.port, args.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
