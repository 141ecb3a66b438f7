"""The queue worker: completes the ``background_jobs`` rows that instances leave behind.

With ``[target.serverless] background = "queue"`` the serverless handler's ``/background``
only writes its job row (the work is then not frozen with the instance); this long-running
process, started by the harness beside the gateway, claims due jobs with ``FOR UPDATE SKIP
LOCKED`` (several workers never take the same job) and marks them completed::

    PGSTAMPEDE_DSN=postgresql://app@127.0.0.1:PORT/app python -m targets.worker

It polls every ``POLL_S``; a lost connection is reopened after ``RETRY_S``. SIGTERM/SIGINT
stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

import asyncpg

from targets.shared.errors import classify
from targets.shared.settings import TargetSettings

POLL_S = 0.02
RETRY_S = 0.5
CLAIM_SQL = """
UPDATE background_jobs SET completed_at = now()
WHERE id IN (SELECT id FROM background_jobs
             WHERE completed_at IS NULL AND due_at <= now()
             ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 100)
RETURNING id
"""


async def work(settings: TargetSettings, stop: asyncio.Event) -> None:
    """Complete due jobs until ``stop`` is set."""
    conn = None
    while not stop.is_set():
        try:
            if conn is None or conn.is_closed():
                conn = await asyncpg.connect(settings.dsn, **settings.connect_kwargs())
            await conn.fetch(CLAIM_SQL)
            delay = POLL_S
        except Exception as exc:
            error = classify(exc)
            if error is None:
                raise
            print(f"worker: {error.kind}: {error.message}", file=sys.stderr)
            conn = None
            delay = RETRY_S
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
    if conn is not None:
        conn.terminate()


async def main() -> None:
    settings = TargetSettings.from_env(os.environ)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await work(settings, stop)


if __name__ == "__main__":
    asyncio.run(main())
