"""The gateway's pid file: every process it owns outside its own process group.

``<workdir>/instances.pids`` lists, one per line, the pid of the process that makes instances
(first line: the template; the gateway itself for a kind without one) and the pids of every
live instance (including zombies); it is empty once the gateway has stopped. Each
instance is its own process group (pgid == pid), so a cleanup that finds the gateway gone can
``killpg(pid, SIGKILL)`` each line. The file is rewritten atomically (write + rename) at most
once per event-loop iteration, in a worker thread: a write and rename can take milliseconds,
and a burst of hundreds of cold starts rewrote it hundreds of times on the event loop. A
change made while a write is in flight is written right after it; ``write()`` (start, stop)
writes at once and is never overtaken by an older write still in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

PIDFILE_NAME = "instances.pids"


class PidFile:
    def __init__(self, path: Path, pids: Callable[[], Iterable[int]]) -> None:
        self.path = path
        self.pids = pids
        self.scheduled = False
        self.writing = False
        self.generation = 0  # of the latest text taken
        self.stored = 0  # generation of the text in the file
        self.lock = threading.Lock()

    def changed(self) -> None:
        """Schedule a rewrite (coalesced within one loop iteration, off the loop)."""
        if self.scheduled:
            return
        self.scheduled = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.write()
            return
        loop.call_soon(self._write_in_thread, loop)

    def _write_in_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.writing or not self.scheduled:
            return  # the write in flight reschedules when done; or written already
        self.scheduled, self.writing = False, True
        self.generation += 1
        done = loop.run_in_executor(None, self._store, self.generation, self._text())
        done.add_done_callback(lambda _: self._written(loop))

    def _written(self, loop: asyncio.AbstractEventLoop) -> None:
        self.writing = False
        if self.scheduled:
            loop.call_soon(self._write_in_thread, loop)

    def write(self) -> None:
        """Rewrite now (start, stop)."""
        self.scheduled = False
        self.generation += 1
        self._store(self.generation, self._text())

    def _text(self) -> str:
        return "".join(f"{pid}\n" for pid in self.pids() if pid > 0)

    def _store(self, generation: int, text: str) -> None:
        with self.lock:
            if generation < self.stored:
                return  # a newer text is in the file already
            self.stored = generation
            tmp = self.path.with_suffix(".tmp")
            with contextlib.suppress(OSError):
                tmp.write_text(text)
                os.replace(tmp, self.path)


def read_pids(path: Path) -> list[int]:
    """The pids listed in a gateway's pid file (empty when there is none)."""
    try:
        return [int(line) for line in path.read_text().split() if line.isdigit()]
    except OSError:
        return []


def instance_pids(path: Path) -> list[int]:
    """The live instances' pids from a gateway's pid file (the template's excluded)."""
    return read_pids(path)[1:]
