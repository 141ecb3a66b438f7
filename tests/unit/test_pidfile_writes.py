"""The gateway's pid file is rewritten off the event loop, coalesced, never going back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from harness.platform.pidfile import PidFile, read_pids


def test_changes_are_coalesced_written_in_a_thread_and_end_up_in_the_file(
        tmp_path: Path) -> None:
    pids = [10]
    path = tmp_path / "instances.pids"
    pf = PidFile(path, lambda: list(pids))

    async def scenario() -> list[int]:
        for pid in (11, 12, 13):  # three changes in one loop iteration: one write
            pids.append(pid)
            pf.changed()
        deadline = time.monotonic() + 30
        while (pf.scheduled or pf.writing) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        written = read_pids(path)
        pids.append(14)
        pf.changed()
        pf.write()  # the stop's write: at once, whatever is in flight
        return written

    first = asyncio.run(scenario())
    assert first == [10, 11, 12, 13]
    assert pf.generation == 2  # one write for the three changes, then the stop's write
    assert read_pids(path) == [10, 11, 12, 13, 14]


def test_an_older_text_never_overwrites_a_newer_one(tmp_path: Path) -> None:
    path = tmp_path / "instances.pids"
    pf = PidFile(path, lambda: [])
    pf._store(2, "7\n")
    pf._store(1, "5\n6\n")  # an older write finishing late
    assert read_pids(path) == [7]
