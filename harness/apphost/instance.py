"""An app instance: init (import the app, run its lifespan startup), then serve frames.

Forked by the template (harness.apphost.template calls ``main`` in the child) or started as
a fresh interpreter (``cold_start = "exec"``)::

    python -m pgstampede_apphost.instance --fd N --instance ID --kind asgi|wsgi \
        --entry module:attr [--factory] [--root DIR] [--concurrency N]
        [--adapter web-adapter|mangum]

The init is the cold start's last step: the instance then sends its ready frame, or, if the
init failed (import error, startup raising, ...), an init-failed frame with the first
error's text, and exits. Wire format: harness.apphost.wire. Runs on the standard asyncio
event loop; nothing here imports anything but the standard library and the app.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import time
import traceback
from typing import Protocol

from .asgi import AsgiHost
from .background import Background, Thaws
from .exceptions import describe, where_in_text
from .loader import InitError, error_text, load_app, prepare
from .wire import (
    APP_REQUEST,
    BACKGROUND_DONE,
    EXCEPTION,
    INIT_FAILED,
    READY,
    HttpRequest,
    HttpResponse,
    control,
    decode_app_request,
    encode_app_response,
    read_frame,
)
from .wsgi import WsgiHost


class Host(Protocol):
    async def startup(self) -> None: ...

    async def handle(self, msg_id: int, req: HttpRequest) -> HttpResponse: ...


def make_host(args: argparse.Namespace, background: Background) -> Host:
    prepare(args.root)
    app = load_app(args.entry, args.factory)
    whole_call = args.adapter == "mangum"
    if args.kind == "wsgi":
        return WsgiHost(app, background, args.concurrency, whole_call=whole_call)
    return AsgiHost(app, background, whole_call=whole_call)


async def serve(args: argparse.Namespace, fd: int, started: float) -> int:
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd))

    def report(msg_id: int, ms: float, late: bool) -> None:
        writer.write(control(BACKGROUND_DONE, {"r": msg_id, "ms": round(ms, 3), "late": late}))

    def raised(exc: BaseException) -> None:
        writer.write(control(EXCEPTION, describe(exc, args.root)))

    background = Background(report, raised)
    background.install(asyncio.get_running_loop())
    try:
        host = make_host(args, background)
        await host.startup()
    except BaseException as exc:  # the init's first error, whatever it is, fails the instance
        if not isinstance(exc, InitError):
            traceback.print_exc(file=sys.stderr)
        text = init_error_text(exc, args.root)
        print(f"instance {args.instance}: init failed: {text}", file=sys.stderr)
        writer.write(control(INIT_FAILED, {"error": text}))
        await writer.drain()
        return 1
    init_ms = (time.perf_counter() - started) * 1000.0
    writer.write(control(READY, {"pid": os.getpid(), "init_ms": init_ms}))
    answers: set[asyncio.Task[None]] = set()
    while (frame := await read_frame(reader)) is not None:
        if frame.code != APP_REQUEST:
            continue
        task = asyncio.get_running_loop().create_task(
            _answer(host, frame.id, frame.payload, writer))
        answers.add(task)
        task.add_done_callback(answers.discard)
    return 0


def init_error_text(exc: BaseException, root: str) -> str:
    """The init's first error as one line, with the app's own line where its traceback has
    one (``RuntimeError: pool exploded (shop/main.py:12)``; harness.apphost.exceptions)."""
    text = error_text(exc)
    cause = exc.__cause__ if isinstance(exc, InitError) else exc
    where = describe(cause, root)["where"] if cause is not None else ""
    if not where and isinstance(exc, InitError):
        where = where_in_text(exc.details, root)  # a framework's lifespan.startup.failed
    return f"{text} ({where})" if where and where not in text else text


async def _answer(host: Host, msg_id: int, payload: bytes, writer: asyncio.StreamWriter) -> None:
    response = await host.handle(msg_id, decode_app_request(payload))
    writer.write(encode_app_response(msg_id, response))


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pgstampede_apphost.instance")
    parser.add_argument("--fd", type=int, required=True, help="the instance's end of the socket")
    parser.add_argument("--instance", required=True, help="the platform's instance id")
    parser.add_argument("--kind", choices=("asgi", "wsgi"), required=True)
    parser.add_argument("--entry", required=True, help="module:attr of the application")
    parser.add_argument("--factory", action="store_true", help="attr builds the application")
    parser.add_argument("--root", default="", help="first on sys.path, working directory")
    parser.add_argument("--concurrency", type=int, default=1, help="WSGI threads")
    parser.add_argument("--adapter", choices=("web-adapter", "mangum"), default="web-adapter",
                        help="mangum: a call's clean-up finishes before its response is sent")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, started: float | None = None) -> int:
    """Run one instance until the gateway closes its socket; the process exit code."""
    begin = time.perf_counter() if started is None else started
    args = parse(argv)
    os.environ["PGSTAMPEDE_INSTANCE"] = args.instance
    Thaws.install()
    try:
        return asyncio.run(serve(args, args.fd, begin))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
