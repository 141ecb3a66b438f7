"""The control channel of a command app's instance: what it tells the platform, if anything.

The platform passes ``PGSTAMPEDE_CONTROL_FD=<n>``: the write end of a pipe the instance
inherits. The instance MAY write newline-delimited JSON objects on it (docs/app.md):

    {"pending": N}      its count of work pending after responses (``waitUntil`` promises)
                        changed: while N > 0 the instance is busy (not frozen, not reaped;
                        counted in ``platform.busy_ms``)
    {"exception": {"type": ..., "message": ..., "where": "file:line"}}
                        an unhandled exception (counted in ``exceptions``)

An instance that never writes is frozen as soon as it has no request in flight. The gateway
reads the channel whenever it is readable, and also right after each response is complete,
before it decides to freeze the instance: a count written before the response's last byte
is always seen in time. A line that is not such an object is reported once in the gateway's
log and otherwise ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from typing import Any

from harness.platform.kind import InstanceEvents, app_exception

MAX_LINE = 64 * 1024


class ControlChannel:
    """The gateway's end of one instance's control pipe (non-blocking)."""

    def __init__(self, fd: int, events: InstanceEvents, instance_id: str) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.events = events
        self.instance_id = instance_id
        self.buffer = b""
        self.complained = False
        self.closed = False
        self.loop: asyncio.AbstractEventLoop | None = None

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read whenever the pipe is readable (until ``close``)."""
        self.loop = loop
        loop.add_reader(self.fd, self.read)

    def read(self) -> None:
        """Take in whatever the instance has written (never waits)."""
        while not self.closed:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            self.buffer += data
            *lines, self.buffer = self.buffer.split(b"\n")
            for line in lines:
                self._line(line.strip())
            if len(self.buffer) > MAX_LINE:
                self._complain(f"a line longer than {MAX_LINE} bytes")
                self.buffer = b""

    def _line(self, line: bytes) -> None:
        if not line:
            return
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and _count(doc.get("pending")) is not None:
            self.events.pending(_count(doc["pending"]) or 0)
        elif isinstance(doc, dict) and isinstance(doc.get("exception"), dict):
            self.events.exception(app_exception(doc["exception"]))
        else:
            self._complain(repr(line[:200]))

    def _complain(self, what: str) -> None:
        if not self.complained:
            self.complained = True
            print(f"platform: instance {self.instance_id}: control channel: ignored {what} "
                  "(expected {\"pending\": N} or {\"exception\": {...}}, one per line)",
                  file=sys.stderr)

    def close(self) -> None:
        """Stop watching (before the descriptor is closed: the loop must not watch a number
        that another file may get) and close the pipe."""
        if self.closed:
            return
        self.closed = True
        if self.loop is not None:
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                self.loop.remove_reader(self.fd)
        os.close(self.fd)


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value)

