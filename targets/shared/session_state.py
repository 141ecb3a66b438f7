"""The session-state leak probe: ``/set_state`` and ``/read_state``.

``/set_state`` does what an app does when it assumes a session of its own: on one pooled
connection it sets a session-level ``statement_timeout`` (``set_config(..., false)``, no
transaction) to a value no one else uses, runs a query, and puts the setting back with
``RESET``. Each statement is a transaction of its own. On a direct connection, or through a
pooler in session mode, the ``RESET`` reaches the session the ``SET`` changed, so the value
is gone when the connection goes back to the pool. Through a pooler in transaction mode the
two statements may run on different server connections: the ``SET`` stays behind on a
server connection that other clients get next.

``/read_state`` reads the setting on a pooled connection. Since every probe value was reset
by the request that set it, a probe value seen here is another request's session state
that leaked: the answer's ``counter`` is 1 (a leak) or 0, so the request log counts leaks.

``statement_timeout`` rather than ``application_name``: PgBouncer re-applies a client's
``application_name`` (a parameter the server reports) on every server connection it hands
that client, so it does not leak; unreported settings such as ``statement_timeout`` do.
Probe values are odd milliseconds between ``PROBE_BASE_MS`` (about 11.6 days) and
``PROBE_MAX_MS`` (below the setting's limit, 2^31 - 1), so a leaked one never cuts a real
query short.
"""

from __future__ import annotations

import itertools
import os
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from targets.shared.endpoints import Database

PROBE_BASE_MS = 1_000_000_001
PROBE_MAX_MS = PROBE_BASE_MS + 2 * (2**29 - 1)
_SETTING_MS = "SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'"
_stretch: dict[int, itertools.count[int]] = {}  # pid -> its sequence (forks get their own)


def probe_value() -> int:
    """A statement_timeout no other request uses (odd, at least PROBE_BASE_MS): a sequence
    that starts at a random point in each process (a forked instance starts its own), so a
    process never repeats a value and two processes overlap only if their stretches meet."""
    pid = os.getpid()
    if pid not in _stretch:
        _stretch.clear()
        _stretch[pid] = itertools.count(random.getrandbits(19) * 1024)
    return PROBE_BASE_MS + 2 * (next(_stretch[pid]) % 2**29)


def is_probe_value(ms: int) -> bool:
    return PROBE_BASE_MS <= ms <= PROBE_MAX_MS and ms % 2 == 1


async def set_state(db: Database) -> dict[str, object]:
    """SET a fresh probe value, read it back, RESET it (three transactions)."""
    value = probe_value()
    async with db.connection() as conn:
        await conn.execute(f"SET statement_timeout = {value}")
        seen = int(await conn.fetchval(_SETTING_MS))
        await conn.execute("RESET statement_timeout")
    return {"set": value, "seen": seen}


async def read_state(db: Database) -> dict[str, object]:
    """The setting as a fresh request finds it; ``counter`` 1 when it is a leaked probe."""
    async with db.connection() as conn:
        seen = int(await conn.fetchval(_SETTING_MS))
    leaked = is_probe_value(seen)
    return {"seen": seen, "leaked": leaked, "counter": int(leaked)}
