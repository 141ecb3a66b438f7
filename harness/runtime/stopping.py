"""Stopping what the runtime started: one policy for processes and containers.

A :class:`StopPolicy` says how a resource is stopped: its polite signal first (SIGTERM, or
the service's own — PostgreSQL's fast shutdown is SIGINT), ``grace_s`` to end, then SIGKILL
and ``kill_wait_s`` more. A process group is stopped with :func:`stop_group`, a Locust
started with asyncio with :func:`stop_group_async`; a container with the same policy gets
its polite signal through the engine (``docker stop`` with the grace), and a grace of 0
removes it at once. ``pgstampede clean`` and the reaper stop many groups at once with the
same two phases (``harness.runtime.cleanup.stop_all``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class StopPolicy:
    """The polite signal, how long to wait for it, then SIGKILL and how long to wait."""

    signal: int = signal.SIGTERM
    grace_s: float = 5.0
    kill_wait_s: float = 5.0


TERMINATE = StopPolicy()
"""SIGTERM, 5 s, then SIGKILL: what a service gets unless it has its own."""


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False when the group is gone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def group_alive(pgid: int) -> bool:
    return signal_group(pgid, 0)


def stop_group(pgid: int, policy: StopPolicy = TERMINATE,
               reap: Callable[[], object] | None = None,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> None:
    """Stop a process group by ``policy``.

    ``reap`` is called while waiting so that a direct child does not linger as a zombie
    (a zombie still counts as a member of its group).
    """
    if not signal_group(pgid, policy.signal):
        return
    for sig, wait_s in ((None, policy.grace_s), (signal.SIGKILL, policy.kill_wait_s)):
        if sig is not None:
            signal_group(pgid, sig)
        deadline = clock() + wait_s
        while clock() < deadline:
            if reap is not None:
                reap()
            if not group_alive(pgid):
                return
            sleep(0.02)


async def stop_group_async(pgid: int, exited: Callable[[], Awaitable[object]],
                           policy: StopPolicy = StopPolicy(grace_s=10.0, kill_wait_s=10.0)
                           ) -> None:
    """Stop a process group started with asyncio by ``policy``; ``exited`` waits for its
    leader (``Process.wait``). SIGKILL goes to the group whatever happens, for what its
    leader leaves behind (Locust's ``--processes`` workers)."""
    try:
        signal_group(pgid, policy.signal)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(policy.grace_s):
                await exited()
    finally:
        signal_group(pgid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(policy.kill_wait_s):
                await exited()
