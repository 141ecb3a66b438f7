"""The gateway's pid file: every process it owns outside its own process group.

``<workdir>/instances.pids`` lists, one per line, the template's pid (first line) and the pid
of every live instance (including zombies); it is empty once the gateway has stopped. Each
instance is its own process group (pgid == pid), so a cleanup that finds the gateway gone can
``killpg(pid, SIGKILL)`` each line. The file is rewritten atomically (write + rename) at most
once per event-loop iteration.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

PIDFILE_NAME = "instances.pids"


class PidFile:
    def __init__(self, path: Path, pids: Callable[[], Iterable[int]]) -> None:
        self.path = path
        self.pids = pids
        self.scheduled = False

    def changed(self) -> None:
        """Schedule a rewrite (coalesced within one loop iteration)."""
        if self.scheduled:
            return
        self.scheduled = True
        try:
            asyncio.get_running_loop().call_soon(self.write)
        except RuntimeError:
            self.write()

    def write(self) -> None:
        self.scheduled = False
        text = "".join(f"{pid}\n" for pid in self.pids() if pid > 0)
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
