"""Waiting until a resource is ready: one loop on ``time.monotonic`` for every process and
container the runtime starts (testcontainers calls the condition a *wait strategy*).

A wait strategy is a callable answering "ready now?" — :func:`http_ok` (a URL answers 200),
:func:`sql_answers` (a database runs a query), or the resource's own (PostgreSQL seeded, an
app's workers logged their startup). :func:`wait_until_ready` polls it until the timeout,
and also asks whether the resource has died meanwhile (``exited``: why, or None), so that a
process that exits while starting is reported at once with the end of its log, not after
the timeout. Every error names the service, the cause and where its log is.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psycopg

from harness.errors import ServiceError

WaitStrategy = Callable[[], bool]
"""True when the resource is ready; it may raise a HarnessError that says it never will be."""

POLL_S = 0.05


def log_tail(path: Path, lines: int = 5) -> str:
    """The last ``lines`` lines of a log file, joined with ' | ' (for one-line errors)."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


def wait_until_ready(ready: WaitStrategy, *, service: str, log_path: Path, timeout_s: float,
                     exited: Callable[[], str | None] = lambda: None,
                     clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep,
                     poll_s: float = POLL_S) -> None:
    """Return once ``ready()``; ServiceError naming ``service`` and its log when ``exited()``
    says why it stopped (``exited with code 1``), or when ``timeout_s`` passed first."""
    deadline = clock() + timeout_s
    while clock() < deadline:
        if ready():
            return
        why = exited()
        if why is not None:
            raise ServiceError(service, f"{why} while starting: {log_tail(log_path)}",
                               str(log_path))
        sleep(poll_s)
    raise ServiceError(service, f"not ready after {timeout_s:.0f} s", str(log_path))


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """Ready when GET ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def answers_http(url: str, timeout: float = 2.0) -> bool:
    """Ready when ``url`` answers HTTP with any status (an app without a health route)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310 (loopback only)
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def sql_answers(dsn: str, query: str, *, autocommit: bool = False) -> tuple[object, ...] | None:
    """The first row of ``query`` (``()`` for none) once the database at ``dsn`` runs it;
    None while it cannot (a wait strategy that also reads a version or a setting)."""
    try:
        with psycopg.connect(dsn, autocommit=autocommit, connect_timeout=2) as conn:
            row = conn.execute(query.encode()).fetchone()
    except psycopg.Error:
        return None
    return tuple(row) if row is not None else ()
