"""Tie a service to the harness with a parent-death signal (``PR_SET_PDEATHSIG``).

A command started through :func:`tethered` runs as ``setpriv --pdeathsig SIG -- argv``:
``setpriv`` (util-linux) asks the kernel for ``SIG`` when its parent dies, then executes the
service in its place (same pid, and after the switch to the service user, which would clear
the setting). So even after ``kill -9`` of the harness, PostgreSQL, PgBouncer, a target, the
gateway and Locust get their usual stop signal at once, without waiting for the reaper
(:mod:`harness.runtime.reaper`), which stays the safety net: for their own children (Locust's
workers, PostgreSQL's backends), for a machine without ``setpriv``, and for services started
from a worker thread. The kernel sends the signal when the *thread* that forked the service
ends, so only a start from the main thread is tethered (a fault's restart runs in a worker
thread that may end long before the harness).
"""

from __future__ import annotations

import shutil
import signal
import threading
from collections.abc import Sequence

SETPRIV = shutil.which("setpriv")


def tethered(argv: Sequence[str], sig: int = signal.SIGTERM) -> list[str]:
    """``argv`` with ``sig`` delivered to it when the harness dies (when that can be done)."""
    if SETPRIV is None or threading.current_thread() is not threading.main_thread() \
            or shutil.which(argv[0]) is None:  # a missing program still fails at the start
        return list(argv)
    return [SETPRIV, "--pdeathsig", signal.Signals(sig).name, "--", *argv]
