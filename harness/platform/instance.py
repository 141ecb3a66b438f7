"""The runtime inside one instance: load the handler, then serve frames until the socket closes.

An instance is started by the template (harness.apphost.template, with this module as its
runtime): forked from it (``cold_start = "fork"``, ``main`` is called in the child) or as a
fresh interpreter (``cold_start = "exec"``)::

    python -m harness.platform.instance --fd N --instance ID --handler module:function

Loading the handler module is the "handler module initialised" step of a cold start (forked:
the template imported it once before forking, as a snapshot of an initialised runtime, so
every instance starts with its own copy of the module's globals; exec: the instance imports
it); the instance then sends its ready frame. The handler's own init (settings, database
client) runs on the instance's first request, and its connection is the instance's own.
Each response's ``after`` work (``/background``) is started once the response is written,
as a task the platform does not wait for: frozen with the instance, lost with it, unless
``PGSTAMPEDE_BACKGROUND=wait_until``: the instance then asks the platform to keep the
request's slot (``HOLD``) until the work is done (``RELEASE``), as Vercel's ``waitUntil``.
A streamed response (``/events``) is sent frame by frame until it ends or the gateway cancels
it (harness.platform.stream).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Coroutine
from typing import Any

import uvloop

from harness.apphost.wire import (
    CANCEL,
    HOLD,
    READY,
    RELEASE,
    STREAM_CHUNK,
    STREAM_END,
    STREAM_START,
    control,
    encode,
    read_frame,
)
from harness.platform.protocol import decode_request
from harness.results.endpoints import EndpointResponse, Handler, error_body

BACKGROUND_ENV = "PGSTAMPEDE_BACKGROUND"  # "wait_until": hold the slot until ``after`` ends


def load_handler(spec: str) -> Handler:
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    handler: Handler = getattr(module, attr)
    return handler


async def serve(fd: int, spec: str, started: float) -> None:
    handler = load_handler(spec)
    wait_until = os.environ.get(BACKGROUND_ENV) == "wait_until"  # read once, at the start
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    ready = {"pid": os.getpid(), "init_ms": (time.perf_counter() - started) * 1000.0}
    writer.write(control(READY, ready))
    tasks: set[asyncio.Task[None]] = set()
    running: dict[int, asyncio.Task[None]] = {}
    while True:
        frame = await read_frame(reader)
        if frame is None:
            return
        if frame.code == CANCEL:  # stop a stream: the client went, or max_duration
            cancelled = running.get(frame.id)
            if cancelled is not None:
                cancelled.cancel()
            continue
        task = asyncio.create_task(_answer(handler, frame.id, frame.payload, writer, tasks,
                                           wait_until))
        tasks.add(task)
        running[frame.id] = task
        task.add_done_callback(tasks.discard)
        task.add_done_callback(functools.partial(_forget, running, frame.id))


def _forget(running: dict[int, asyncio.Task[None]], msg_id: int, _: object) -> None:
    running.pop(msg_id, None)


async def _answer(
    handler: Handler,
    msg_id: int,
    payload: bytes,
    writer: asyncio.StreamWriter,
    tasks: set[asyncio.Task[None]],
    wait_until: bool = False,
) -> None:
    try:
        response = await handler(decode_request(payload))
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        writer.write(encode(msg_id, 500, error_body("http_5xx", f"handler failed: {exc!r}")))
        return
    if response.stream is not None:
        await _stream(msg_id, response, writer)
        return
    body = json.dumps(response.body, separators=(",", ":")).encode()
    hold = response.after is not None and wait_until
    if hold:  # the platform keeps the slot (no freeze) until the work is done
        writer.write(control(HOLD, {"r": msg_id}))
    writer.write(encode(msg_id, response.status, body))
    if response.after is None:
        return
    after = asyncio.ensure_future(response.after())
    tasks.add(after)
    after.add_done_callback(tasks.discard)
    if hold:
        try:
            await after
        except Exception:
            traceback.print_exc(file=sys.stderr)
        finally:
            writer.write(control(RELEASE, {"r": msg_id}))


async def _stream(msg_id: int, response: EndpointResponse, writer: asyncio.StreamWriter) -> None:
    """Relay a streamed body frame by frame; ``STREAM_END`` however it ends (also cancelled)."""
    assert response.stream is not None
    writer.write(encode(msg_id, STREAM_START, json.dumps({"status": response.status}).encode()))
    chunks = response.stream()
    try:
        async for chunk in chunks:
            writer.write(encode(msg_id, STREAM_CHUNK, chunk))
    except asyncio.CancelledError:
        pass
    except Exception:
        traceback.print_exc(file=sys.stderr)
    finally:
        await chunks.aclose()
        writer.write(encode(msg_id, STREAM_END, b""))


def prime() -> None:
    """Called by the template before it forks (harness.apphost.template): run the code every
    instance runs first (event loop, streams, one frame each way) a few times, with no
    connection and no handler call. The interpreter then specialises that code once, in the
    template's memory that forked instances share, instead of in each instance's own copy
    (pages copied on write: a burst of cold starts pays them once per instance)."""

    async def roundtrip() -> None:
        ours, theirs = socket.socketpair()
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        peer_reader, peer_writer = await asyncio.open_unix_connection(sock=theirs)
        peer_writer.write(control(READY, {"pid": 0}))
        writer.write(encode(1, 200, b"{}"))
        await read_frame(reader)
        await read_frame(peer_reader)
        writer.close()
        peer_writer.close()

    for _ in range(3):  # the loop a forked instance runs (see _run), closed here
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(roundtrip())
        finally:
            loop.close()
            asyncio.set_event_loop(None)


def _run(main: Coroutine[Any, Any, None], forked: bool) -> None:
    """Run ``main`` on a uvloop loop. A forked instance ends with ``os._exit`` (the
    template's child) and skips asyncio.Runner's set-up and teardown, which cost each of
    a burst's instances 0.5 ms of CPU and 70 page faults."""
    if not forked:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)
        return
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(main)


def run_instance(fd: int, spec: str, started: float | None = None,
                 forked: bool = False) -> int:
    """Serve until the gateway closes the socket; the process exit code."""
    begin = time.perf_counter() if started is None else started
    try:
        _run(serve(fd, spec, begin), forked)
    except KeyboardInterrupt:
        return 130
    except Exception:
        traceback.print_exc(file=sys.stderr)
        return 1
    return 0


def _template_args(argv: list[str] | None) -> tuple[int, str, str] | None:
    """(fd, instance, handler) from ``--fd N --instance ID --handler SPEC`` exactly as the
    template passes them; None for anything else (argparse then explains). Building an
    argparse parser in every forked instance cost 0.7 ms of CPU and 200 page faults each."""
    if argv is None or len(argv) != 6 or argv[0::2] != ["--fd", "--instance", "--handler"]:
        return None
    fd = argv[1]
    return (int(fd), argv[3], argv[5]) if fd.isascii() and fd.isdecimal() else None


def main(argv: list[str] | None = None, started: float | None = None) -> int:
    begin = time.perf_counter() if started is None else started
    parsed = _template_args(argv)
    if parsed is None:
        parser = argparse.ArgumentParser(prog="python -m harness.platform.instance")
        parser.add_argument("--fd", type=int, required=True,
                            help="the instance's end of the socket")
        parser.add_argument("--instance", required=True, help="the platform's instance id")
        parser.add_argument("--handler", required=True, help="module:function")
        args = parser.parse_args(argv)
        parsed = (args.fd, args.instance, args.handler)
    fd, instance, handler = parsed
    os.environ["PGSTAMPEDE_INSTANCE"] = instance
    return run_instance(fd, handler, begin, forked=started is not None)


if __name__ == "__main__":
    sys.exit(main())
